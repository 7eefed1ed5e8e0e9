"""REST schemas of content, its review, preflight checks, previews and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.communities.platforms import ChannelKind
from app.communities.schemas import Locale
from app.core.schemas import (
    NO_NUL_PATTERN,
    Instant,
    PatchModel,
    RequestModel,
    ResponseModel,
    Text,
    has_nul,
    request_schema_extra,
)
from app.schedule.rrule import Recurrence

Title = Text(300)
Body = Text(100_000)
Note = Text(2000)
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
Platform = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$"),
    Field(description="A platform name the launcher reports, e.g. `windows`, `ps5`."),
]
Region = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2, e.g. `DE`."),
]
SemVer = Annotated[
    str,
    StringConstraints(
        max_length=64,
        pattern=r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})"
        r"(?:-[0-9A-Za-z.-]{1,32})?(?:\+[0-9A-Za-z.-]{1,32})?$",
    ),
    Field(description="A semantic version, e.g. `1.4.0`."),
]


class ContentKind(StrEnum):
    announcement = "announcement"
    patch_notes = "patch_notes"
    event = "event"
    maintenance = "maintenance"
    incident = "incident"
    highlight = "highlight"


class ContentStatus(StrEnum):
    draft = "draft"
    in_review = "in_review"
    approved = "approved"
    scheduled = "scheduled"
    publishing = "publishing"
    published = "published"
    partially_published = "partially_published"
    failed = "failed"
    cancelled = "cancelled"
    retracted = "retracted"


class DeliveryStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    delivered = "delivered"
    failed = "failed"
    retracted = "retracted"
    skipped = "skipped"


class Translation(RequestModel):
    title: Title
    body: Body


class Variant(RequestModel):
    """What one channel gets instead of the item's own title or body."""

    title: Title | None = None
    body: Body | None = None


class FeedOptions(RequestModel):
    """How the item shows in launcher feeds, and for whom."""

    summary: Text(300) | None = None
    image_asset_id: uuid.UUID | None = None
    pinned: bool = False
    priority: int = Field(0, ge=0, le=100, description="Higher comes first (after pinned).")
    starts_at: Instant | None = None
    expires_at: Instant | None = None
    platforms: list[Platform] = Field(default_factory=list, max_length=20)
    regions: list[Region] = Field(default_factory=list, max_length=250)
    min_version: SemVer | None = Field(None, description="Shown from this version on.")
    max_version: SemVer | None = Field(None, description="Shown below this version.")


FieldValue = Annotated[str, StringConstraints(max_length=4000)] | int | float | bool | None


class ContentFields(RequestModel):
    """Free fields that travel unchanged to webhook channels (`data.content.fields`); the
    unwelcome-news kit reads the named ones. Values are text, numbers, true/false or null."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra=lambda schema, model: _fields_schema(schema),
    )
    __pydantic_extra__: dict[str, FieldValue] = Field(init=False)  # type: ignore[assignment]

    what_changed: Text(4000) | None = None
    why: Text(4000) | None = None
    player_impact: Text(4000) | None = None
    new_date: Instant | None = Field(None, description="When it happens now.")
    next_update_at: Instant | None = Field(None, description="When players hear more.")
    delay: bool | None = Field(None, description="This content announces a delay.")

    @model_validator(mode="after")
    def _extras_fit(self) -> ContentFields:
        extra = self.__pydantic_extra__ or {}
        if len(extra) > 50:
            raise ValueError("at most 50 fields besides the named ones")
        if has_nul(extra):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return self


def _fields_schema(schema: dict[str, Any]) -> None:
    request_schema_extra(schema, ContentFields)
    schema["propertyNames"] = {"pattern": NO_NUL_PATTERN}
    schema["maxProperties"] = 56


class _ContentFields(RequestModel):
    """What a draft may set; the rules are the same on create and edit."""

    @field_validator("channel_ids", "asset_ids", check_fields=False)
    @classmethod
    def _unique(cls, value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("tags", check_fields=False)
    @classmethod
    def _unique_tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class ContentCreate(_ContentFields):
    kind: ContentKind
    title: Title
    body: Body
    locale: Locale | None = Field(None, description="Defaults to the community's default locale.")
    translations: dict[Locale, Translation] = Field(default_factory=dict, max_length=100)
    channel_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    variants: dict[uuid.UUID, Variant] = Field(
        default_factory=dict, description="Per channel (one of `channel_ids`)."
    )
    asset_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    feed: FeedOptions = Field(default_factory=FeedOptions)
    fields: ContentFields = Field(default_factory=ContentFields)
    recurrence: Recurrence | None = None
    publish_at: Instant | None = Field(
        None, description="The planned time; `schedule` is what commits to it."
    )


class ContentUpdate(_ContentFields, PatchModel):
    nullable = frozenset({"recurrence", "publish_at"})

    version: int = Field(ge=1, description="The version you edited; a stale one is a 409.")
    redeliver: bool = Field(
        False,
        description="Published content: edit what was sent (Discord message, forum post, feed"
        " item) and send `content.updated` to webhook channels. Role: manager.",
    )
    kind: ContentKind | None = None
    title: Title | None = None
    body: Body | None = None
    locale: Locale | None = None
    translations: dict[Locale, Translation] | None = Field(None, max_length=100)
    channel_ids: list[uuid.UUID] | None = Field(None, max_length=20)
    variants: dict[uuid.UUID, Variant] | None = None
    asset_ids: list[uuid.UUID] | None = Field(None, max_length=10)
    tags: list[Tag] | None = Field(None, max_length=20)
    feed: FeedOptions | None = None
    fields: ContentFields | None = None
    recurrence: Recurrence | None = None
    publish_at: Instant | None = None


class ContentOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    kind: ContentKind
    status: ContentStatus
    title: str
    body: str
    body_html: str
    locale: str
    translations: dict[str, Translation]
    channel_ids: list[uuid.UUID]
    variants: dict[str, Variant]
    asset_ids: list[uuid.UUID]
    tags: list[str]
    fields: dict[str, Any]
    feed: FeedOptions
    recurrence: Recurrence | None
    series_id: uuid.UUID | None = Field(description="The recurring item this occurrence is of.")
    publish_at: datetime | None
    published_at: datetime | None
    review_note: str | None = Field(description="Why it was last sent back to draft.")
    retracted_at: datetime | None
    retract_reason: str | None
    version: int
    created_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ScheduleIn(RequestModel):
    publish_at: Instant = Field(description="A future instant, with its UTC offset.")


class RejectIn(RequestModel):
    note: Note


class RetractIn(RequestModel):
    reason: Note


class CheckLevel(StrEnum):
    error = "error"  # blocks schedule and publish
    warning = "warning"


class Check(BaseModel):
    level: CheckLevel
    code: str
    message: str
    channel_id: uuid.UUID | None = None
    field: str | None = None


class CheckResult(BaseModel):
    ok: bool = Field(description="No check is an error.")
    checks: list[Check]


class PreviewOut(BaseModel):
    channel_id: uuid.UUID
    kind: ChannelKind
    title: str | None
    text: str = Field(description="The text as the channel receives it.")
    length: int = Field(description="Characters of `text`.")
    max_length: int = Field(description="The platform profile's limit.")
    payload: dict[str, Any] = Field(description="The request body, or the item, sent.")
    checks: list[Check]


class DeliveryOut(ResponseModel):
    id: uuid.UUID
    content_id: uuid.UUID
    channel_id: uuid.UUID
    channel_kind: ChannelKind
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    last_status_code: int | None
    external_id: str | None = Field(description="The message or thread id on the channel.")
    retract_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PauseIn(RequestModel):
    reason: Note


class ResumeIn(RequestModel):
    publish_overdue: bool = Field(
        False,
        description="Deliver what fell due during the pause; otherwise it returns to `approved`.",
    )


class CalendarRange(RequestModel):
    start: Instant
    end: Instant


class CalendarEntry(BaseModel):
    content_id: uuid.UUID = Field(description="The item, or the series an occurrence is of.")
    title: str
    kind: ContentKind
    status: ContentStatus
    at: datetime
    recurring: bool = Field(description="An occurrence of a recurring series.")


class CalendarOut(BaseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    items: list[CalendarEntry] = Field(description="At most 1,000, in time order.")
    next_from: datetime | None = Field(
        description="More entries follow: ask again with this as `from`."
    )


class AssetOut(BaseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    filename: str
    content_type: str = Field(description="From the bytes, not from what the client said.")
    bytes: int
    sha256: str = Field(description="Hex; the same bytes in the same community are one asset.")
    width: int | None
    height: int | None
    url: str = Field(description="Public, cacheable for a year (the bytes never change).")
    created_at: datetime


class ContentImport(BaseModel):
    """A JSON import: drafts as `POST …/content` takes them. Each row gets its own verdict;
    a row that breaks a rule does not stop the others."""

    items: list[ContentCreate] = Field(max_length=1000)


class ImportRowOut(BaseModel):
    row: int = Field(description="From 1, in file order (after the CSV header).")
    ok: bool
    id: uuid.UUID | None = Field(None, description="The draft created (not on a dry run).")
    errors: list[dict[str, Any]] = Field(description="`{loc, message, type}` per problem.")


class ImportOut(BaseModel):
    results: list[ImportRowOut]
    created: int
    failed: int
