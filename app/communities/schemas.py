from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.communities.platforms import ChannelKind, PlatformProfile
from app.core.schemas import Name, RequestModel, ResponseModel
from app.core.signing import is_valid_secret

Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"),
    Field(description="Lowercase letters, digits and hyphens (1 to 64); used in feed URLs."),
]
Locale = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=35, pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$"
    ),
    Field(description="A BCP 47 language tag, e.g. `en`, `pt-BR`, `zh-Hant`."),
]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
HttpURL = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://\S+$"),
    Field(description="An http(s) URL; must resolve to a public address."),
]


class Tone(BaseModel):
    """How a community is written to: checked against every outgoing text."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

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

    @model_validator(mode="after")
    def _default_is_listed(self) -> CommunityCreate:
        self.locales = with_default_locale(self.default_locale, self.locales)
        return self


class CommunityUpdate(RequestModel):
    slug: Slug | None = None
    name: Name | None = None
    description: str | None = Field(None, max_length=2000)
    default_locale: Locale | None = None
    locales: list[Locale] | None = Field(None, max_length=100)
    tone: Tone | None = None


class CommunityOut(ResponseModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    default_locale: str
    locales: list[str]
    tone: Tone
    has_member_secret: bool
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
    username: str | None = Field(None, min_length=1, max_length=80)
    avatar_url: HttpURL | None = None


class SlackConfig(RequestModel):
    webhook_url: HttpURL


class WebhookConfig(RequestModel):
    url: HttpURL
    secret: str | None = Field(
        None, description="A `whsec_` signing secret; generated when omitted (shown once)."
    )

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_secret(value):
            raise ValueError("must be `whsec_` followed by base64 of 24 to 64 random bytes")
        return value


class InternalConfig(RequestModel):
    """`forum` and `launcher_feed`: shown by Hearth itself, nothing to configure yet."""


CONFIG_MODELS: dict[ChannelKind, type[RequestModel]] = {
    ChannelKind.discord: DiscordConfig,
    ChannelKind.slack: SlackConfig,
    ChannelKind.webhook: WebhookConfig,
    ChannelKind.forum: InternalConfig,
    ChannelKind.launcher_feed: InternalConfig,
}
# Fields never returned; URLs carrying tokens are shown masked instead.
SECRET_FIELDS: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.discord: ("webhook_url",),
    ChannelKind.slack: ("webhook_url",),
    ChannelKind.webhook: ("secret",),
}


class ChannelCreate(RequestModel):
    name: Name
    kind: ChannelKind
    config: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Depends on `kind`. discord: `{webhook_url, username?, avatar_url?}`;"
            " slack: `{webhook_url}`; webhook: `{url, secret?}` (a `whsec_` secret is generated"
            " when omitted); forum, launcher_feed: `{}`. Secrets are write-only."
        ),
    )


class ChannelUpdate(RequestModel):
    name: Name | None = None
    enabled: bool | None = None
    config: dict[str, Any] | None = Field(
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
    text: str | None = Field(None, min_length=1, max_length=100_000)


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
