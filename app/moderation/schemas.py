"""Automod rules as the API takes and returns them: one config shape per kind."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Discriminator, Field, Tag

from app.core.auth import Role
from app.core.schemas import Name, PatchModel, RequestModel, ResponseModel, Text
from app.moderation.matching import MAX_PATTERN

MAX_TERMS = 1_000
MAX_PATTERNS = 50
MAX_DOMAINS = 500
# A host name or a domain to match it and its subdomains: letters, digits, dots, dashes.
DOMAIN = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$",
    ),
]
Term = Text(100)
Pattern = Text(MAX_PATTERN)


class RuleKind(StrEnum):
    keyword = "keyword"
    regex = "regex"
    link = "link"
    mentions = "mentions"
    caps = "caps"
    flood = "flood"
    new_member = "new_member"
    toxicity = "toxicity"


class RuleAction(StrEnum):
    flag = "flag"
    hold = "hold"
    block = "block"
    hide = "hide"
    timeout = "timeout"
    alert = "alert"


class KeywordConfig(RequestModel):
    terms: list[Term] = Field(
        min_length=1,
        max_length=MAX_TERMS,
        description="Words or phrases; `*` stands for any run of letters.",
    )
    match: Literal["word", "substring"] = Field(
        "word", description="`word`: whole words of the folded text; `substring`: anywhere."
    )


class RegexConfig(RequestModel):
    patterns: list[Pattern] = Field(
        min_length=1,
        max_length=MAX_PATTERNS,
        description="Regular expressions (Python `regex` syntax) over the text with"
        " confusables folded and case folded. Each search stops after 50 ms.",
    )


class LinkConfig(RequestModel):
    block_domains: list[DOMAIN] = Field([], max_length=MAX_DOMAINS)
    allow_domains: list[DOMAIN] = Field(
        [], max_length=MAX_DOMAINS, description="When set, links anywhere else match."
    )
    block_invites: bool = Field(False, description="Discord invites (`discord.gg/…`).")


class MentionsConfig(RequestModel):
    max: int = Field(ge=0, le=1_000, description="More `@name` mentions than this match.")


class CapsConfig(RequestModel):
    min_length: int = Field(10, ge=1, le=10_000, description="Letters needed to judge.")
    max_ratio: float = Field(0.7, ge=0, le=1, description="Uppercase share that matches above.")


class FloodConfig(RequestModel):
    max_posts: int = Field(ge=1, le=1_000, description="Posts that pass in the window.")
    window_seconds: int = Field(ge=1, le=86_400)


class NewMemberConfig(RequestModel):
    min_age_hours: float = Field(0, ge=0, le=8_760)
    min_posts: int = Field(0, ge=0, le=10_000)
    applies_to: Literal["links", "all"] = "all"


class ToxicityConfig(RequestModel):
    threshold: float = Field(ge=0, le=1, description="Scores at or above this match.")


CONFIGS: dict[RuleKind, type[RequestModel]] = {
    RuleKind.keyword: KeywordConfig,
    RuleKind.regex: RegexConfig,
    RuleKind.link: LinkConfig,
    RuleKind.mentions: MentionsConfig,
    RuleKind.caps: CapsConfig,
    RuleKind.flood: FloodConfig,
    RuleKind.new_member: NewMemberConfig,
    RuleKind.toxicity: ToxicityConfig,
}
AnyConfig = (
    KeywordConfig
    | RegexConfig
    | LinkConfig
    | MentionsConfig
    | CapsConfig
    | FloodConfig
    | NewMemberConfig
    | ToxicityConfig
)


class TimeoutConfig(RequestModel):
    minutes: int = Field(60, ge=1, le=40_320, description="How long the mute lasts (≤ 28 days).")


class _RuleFields(RequestModel):
    name: Name
    action: RuleAction
    action_config: TimeoutConfig | None = Field(
        None, description="For `timeout`: `{minutes}` (default 60)."
    )
    severity: int = Field(3, ge=1, le=5, description="Weighs the review item's score.")
    enabled: bool = True
    exempt_roles: list[Role] = Field(
        [Role.moderator],
        max_length=5,
        description="Staff at or above one of these roles are not screened; `[]` screens"
        " staff too. Members are always screened.",
    )
    category_ids: list[uuid.UUID] = Field(
        [], max_length=100, description="Only posts in these categories (default: all)."
    )
    message: Text(500) | None = Field(  # type: ignore[valid-type]
        None, description="What the member is told when the rule blocks or holds a post."
    )


def _rule(kind: RuleKind, config: type[RequestModel]) -> type[_RuleFields]:
    return type(  # one body per kind, so the document says which config goes with which
        f"{kind.value.title().replace('_', '')}RuleCreate",
        (_RuleFields,),
        {
            "__annotations__": {"kind": Literal[kind.value], "config": config},  # type: ignore[valid-type]
            "__module__": __name__,
        },
    )


def _kind_of(body: Any) -> str | None:
    return body.get("kind") if isinstance(body, dict) else getattr(body, "kind", None)


# One body per kind (tagged by `kind`), so the document says which config goes with which.
RuleCreate = Annotated[
    Annotated[_rule(RuleKind.keyword, KeywordConfig), Tag("keyword")]
    | Annotated[_rule(RuleKind.regex, RegexConfig), Tag("regex")]
    | Annotated[_rule(RuleKind.link, LinkConfig), Tag("link")]
    | Annotated[_rule(RuleKind.mentions, MentionsConfig), Tag("mentions")]
    | Annotated[_rule(RuleKind.caps, CapsConfig), Tag("caps")]
    | Annotated[_rule(RuleKind.flood, FloodConfig), Tag("flood")]
    | Annotated[_rule(RuleKind.new_member, NewMemberConfig), Tag("new_member")]
    | Annotated[_rule(RuleKind.toxicity, ToxicityConfig), Tag("toxicity")],
    Discriminator(
        _kind_of,
        custom_error_type="rule_kind",
        custom_error_message="kind must be one of " + ", ".join(k.value for k in RuleKind),
    ),
]


class RuleUpdate(PatchModel):
    nullable = frozenset({"message", "action_config"})

    name: Name | None = None
    config: AnyConfig | None = Field(
        None, description="The rule's kind's config (the kind itself cannot change)."
    )
    action: RuleAction | None = None
    action_config: TimeoutConfig | None = None
    severity: int | None = Field(None, ge=1, le=5)
    enabled: bool | None = None
    exempt_roles: list[Role] | None = Field(None, max_length=5)
    category_ids: list[uuid.UUID] | None = Field(None, max_length=100)
    message: Text(500) | None = None  # type: ignore[valid-type]


class RuleOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    name: str
    kind: RuleKind
    config: dict[str, Any]
    action: RuleAction
    action_config: dict[str, Any] | None
    severity: int
    enabled: bool
    exempt_roles: list[Role]
    category_ids: list[uuid.UUID]
    message: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class AutomodTestIn(RequestModel):
    text: Text(20_000)  # type: ignore[valid-type]
    member_id: uuid.UUID | None = Field(
        None, description="Screen as this member posting now (flood, new-member rules)."
    )
    category_id: uuid.UUID | None = Field(
        None, description="Screen as a post in this category (rules limited to categories)."
    )


class AutomodMatch(ResponseModel):
    rule_id: uuid.UUID
    name: str
    kind: RuleKind
    action: RuleAction
    matched: str = Field(description="The matching text as written ('' for flood, new member).")
    reason: str


class AutomodDecision(StrEnum):
    allow = "allow"
    flag = "flag"
    hold = "hold"
    block = "block"
    hide = "hide"
    timeout = "timeout"
    alert = "alert"


class AutomodTestOut(ResponseModel):
    decision: AutomodDecision = Field(description="The strongest action that matched.")
    matches: list[AutomodMatch]
    message: str | None = Field(description="What the member would be told.")


class BacktestIn(RequestModel):
    days: int = Field(30, ge=1, le=90, description="How far back to scan posts.")


class BacktestSample(ResponseModel):
    post_id: uuid.UUID
    excerpt: str
    matched: str


class BacktestOut(ResponseModel):
    scanned: int = Field(description="Posts in the window, opening posts included.")
    matched: int
    samples: list[BacktestSample] = Field(description="Up to 20 matched posts, newest first.")
