from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from app.communities.platforms import ChannelKind, PlatformProfile
from app.core.schemas import (
    Name,
    PatchModel,
    RequestModel,
    ResponseModel,
    Text,
    request_schema_extra,
)
from app.core.signing import is_valid_secret

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"),
    Field(description="Lowercase letters, digits and hyphens (1 to 64); used in feed URLs."),
]
Locale = Annotated[
    str,
    StringConstraints(max_length=35, pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$"),
    Field(description="A BCP 47 language tag, e.g. `en`, `pt-BR`, `zh-Hant`."),
]
Phrase = Text(200)
Term = Text(100)
HttpURL = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=r"^https?://[!-.0-~][!-~]*$"),
    Field(
        description="An http(s) URL in printable ASCII (percent-encode the rest); must resolve"
        " to a public address."
    ),
]


class Tone(BaseModel):
    """How a community is written to: checked against every outgoing text."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_schema_extra)

    voice: str = Field("", max_length=1000, description="A few sentences on the community's voice.")
    formality: Literal["casual", "neutral", "formal"] = "neutral"
    emoji: Literal["none", "some", "lots"] = "some"
    banned_phrases: list[Phrase] = Field(default_factory=list, max_length=500)
    preferred_terms: dict[Term, Term] = Field(
        default_factory=dict, description="`{avoid: use}` replacements.", max_length=500
    )
    sign_off: str = Field("", max_length=200)

    @field_validator("banned_phrases")
    @classmethod
    def _dedupe(cls, phrases: list[str]) -> list[str]:
        """Drop repeats that differ only in case, keeping the first spelling."""
        kept: dict[str, str] = {}
        for phrase in phrases:
            kept.setdefault(phrase.casefold(), phrase)
        return list(kept.values())


def with_default_locale(default: str, locales: list[str]) -> list[str]:
    """The default locale is always one of `locales` (first when it was missing)."""
    return list(dict.fromkeys([default, *locales]))


class CommunityCreate(RequestModel):
    slug: Slug
    name: Name
    description: str = Field("", max_length=2000)
    default_locale: Locale = "en"
    locales: list[Locale] = Field(default_factory=list, max_length=100)
    tone: Tone = Field(default_factory=Tone)
    require_approval: bool = Field(
        False,
        description="Content must be approved by another key before it is scheduled or published.",
    )

    @model_validator(mode="after")
    def _default_is_listed(self) -> CommunityCreate:
        self.locales = with_default_locale(self.default_locale, self.locales)
        return self


class CommunityUpdate(PatchModel):
    slug: Slug | None = None
    name: Name | None = None
    description: str | None = Field(None, max_length=2000)
    default_locale: Locale | None = None
    locales: list[Locale] | None = Field(None, max_length=100)
    tone: Tone | None = None
    require_approval: bool | None = None


class CommunityOut(ResponseModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    default_locale: str
    locales: list[str]
    tone: Tone
    has_member_secret: bool
    require_approval: bool
    paused_at: datetime | None = Field(description="Set while deliveries are paused (crisis).")
    pause_reason: str | None
    created_at: datetime
    updated_at: datetime


class MemberSecretIn(RequestModel):
    secret: str = Field(
        min_length=32,
        max_length=512,
        description="At least 32 characters (HS256 wants a 256-bit key). Never returned.",
    )


# Channel configuration, one model per kind. Secret fields are write-only.


class DiscordConfig(RequestModel):
    webhook_url: HttpURL
    username: Text(80) | None = None
    avatar_url: HttpURL | None = None


class SlackConfig(RequestModel):
    webhook_url: HttpURL


def _whsec(value: str | None) -> str | None:
    if value is not None and not is_valid_secret(value):
        raise ValueError("must be `whsec_` followed by base64 of 24 to 64 random bytes")
    return value


# `whsec_` and the base64 (padded) of 24 to 64 bytes, spelled out so the document admits
# exactly what `is_valid_secret` does.
_B64 = "[A-Za-z0-9+/]"
WHSEC_PATTERN = (
    rf"^whsec_(?:(?:{_B64}{{4}}){{8,21}}(?:{_B64}{{2}}==)?|(?:{_B64}{{4}}){{8,20}}{_B64}{{3}}=)$"
)
WebhookSecret = Annotated[
    str,
    AfterValidator(_whsec),  # the same rule, with a message a person can read
    Field(
        description="A `whsec_` signing secret; generated when omitted (shown once).",
        json_schema_extra={"pattern": WHSEC_PATTERN},
    ),
]


class WebhookConfig(RequestModel):
    url: HttpURL
    secret: WebhookSecret | None = None


class ForumConfig(RequestModel):
    category_id: uuid.UUID = Field(
        description="The forum category published content is posted in (a staff thread)."
    )


FeedSlug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9-]{3,64}$"),
    Field(description="The feed's public name in `/v1/feeds/{slug}`; unique on the server."),
]


LinkURL = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=r"^https?://[!-.0-~][!-~]*$"),
    Field(description="An http(s) link for players to open (Hearth never calls it)."),
]
FeedTitle = Annotated[
    Text(100), Field(description="The feed's title (default: the community's name).")
]


class LauncherFeedConfig(RequestModel):
    public_slug: FeedSlug | None = None
    title: FeedTitle | None = None
    home_page_url: LinkURL | None = Field(
        None, description="Where the news live on the web, e.g. the game's news page."
    )


CONFIG_MODELS: dict[ChannelKind, type[RequestModel]] = {
    ChannelKind.discord: DiscordConfig,
    ChannelKind.slack: SlackConfig,
    ChannelKind.webhook: WebhookConfig,
    ChannelKind.forum: ForumConfig,
    ChannelKind.launcher_feed: LauncherFeedConfig,
}
# Fields never returned; URLs carrying tokens are shown masked instead.
SECRET_FIELDS: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.discord: ("webhook_url",),
    ChannelKind.slack: ("webhook_url",),
    ChannelKind.webhook: ("secret",),
}


class ChannelCreate(RequestModel):
    """A new channel, as the service validates it: `config` is checked against the model of
    its `kind` (CONFIG_MODELS), so errors point at `config.…` as sent. The OpenAPI document
    shows the same rule as the union below."""

    name: Name
    kind: ChannelKind
    config: dict[str, Any] = Field(default_factory=dict)


# The documented shape of a new channel: `config` has the shape of its `kind`.


class _NewChannel(RequestModel):
    name: Name


class NewDiscordChannel(_NewChannel):
    kind: Literal[ChannelKind.discord]
    config: DiscordConfig


class NewSlackChannel(_NewChannel):
    kind: Literal[ChannelKind.slack]
    config: SlackConfig


class NewWebhookChannel(_NewChannel):
    kind: Literal[ChannelKind.webhook]
    config: WebhookConfig = Field(description="A `whsec_` secret is generated when omitted.")


class NewForumChannel(_NewChannel):
    kind: Literal[ChannelKind.forum]
    config: ForumConfig


class NewLauncherFeedChannel(_NewChannel):
    kind: Literal[ChannelKind.launcher_feed]
    config: LauncherFeedConfig = Field(default_factory=LauncherFeedConfig)


def _channel_kind(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind.value if isinstance(kind, ChannelKind) else kind


# Told apart by `kind` through a function, not the field itself: RequestModel checks every
# field's JSON type before validation, which a field discriminator does not allow.
NewChannel = Annotated[
    Annotated[NewDiscordChannel, Tag("discord")]
    | Annotated[NewSlackChannel, Tag("slack")]
    | Annotated[NewWebhookChannel, Tag("webhook")]
    | Annotated[NewForumChannel, Tag("forum")]
    | Annotated[NewLauncherFeedChannel, Tag("launcher_feed")],
    Discriminator(
        _channel_kind,
        custom_error_type="channel_kind",
        custom_error_message="kind must be one of discord, slack, webhook, forum, launcher_feed",
    ),
]


class ChannelConfigPatch(PatchModel):
    """The config fields to change; each must belong to the channel's kind (409 otherwise)."""

    # cleared by null
    nullable = frozenset({"username", "avatar_url", "public_slug", "title", "home_page_url"})

    webhook_url: HttpURL | None = Field(None, description="discord, slack")
    username: Text(80) | None = Field(None, description="discord")
    avatar_url: HttpURL | None = Field(None, description="discord")
    url: HttpURL | None = Field(None, description="webhook")
    secret: WebhookSecret | None = Field(None, description="webhook: a new signing secret")
    category_id: uuid.UUID | None = Field(None, description="forum")
    public_slug: FeedSlug | None = Field(None, description="launcher_feed")
    title: FeedTitle | None = Field(None, description="launcher_feed")
    home_page_url: LinkURL | None = Field(None, description="launcher_feed")


class ChannelUpdate(PatchModel):
    name: Name | None = None
    enabled: bool | None = None
    config: ChannelConfigPatch | None = Field(
        None, description="Fields to change; omitted fields (and secrets) keep their value."
    )


class ChannelOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    name: str
    kind: ChannelKind
    config: dict[str, Any] = Field(description="Secrets removed; token-bearing URLs masked.")
    enabled: bool
    created_at: datetime
    updated_at: datetime


class ChannelCreated(ChannelOut):
    signing_secret: str | None = Field(
        None, description="`webhook` channels: the signing secret, shown only here."
    )


class ChannelTest(RequestModel):
    text: Text(100_000) | None = None


class ChannelTestResult(BaseModel):
    ok: bool = Field(description="The receiver answered 2xx.")
    status_code: int | None
    response_body: str | None = Field(description="The receiver's answer, first 2 KiB.")
    error: str | None = Field(description="Why nothing was answered (timeout, refused, …).")
    duration_ms: float
    sent_text: str


class MediaRulesOut(BaseModel):
    max_attachments: int
    max_bytes_per_attachment: int | None
    types: list[str]


class RateRuleOut(BaseModel):
    requests: int
    per_seconds: int
    note: str


class PlatformProfileOut(BaseModel):
    kind: ChannelKind
    label: str
    max_length: int
    recommended_length: int | None
    title_max_length: int | None
    markup: str
    media: MediaRulesOut
    rate: RateRuleOut | None
    delivery: Literal["outbound", "internal"]
    limits: dict[str, int]
    sources: list[str]

    @classmethod
    def of(cls, profile: PlatformProfile) -> PlatformProfileOut:
        return cls.model_validate(profile, from_attributes=True)
