"""Reports, the review queue and sanctions as the API takes and returns them."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, Field

from app.core.schemas import RequestModel, ResponseModel, Text
from app.moderation.schemas import RuleAction


class ReportReason(StrEnum):
    spam = "spam"
    harassment = "harassment"
    hate = "hate"
    cheating = "cheating"
    scam = "scam"
    personal_info = "personal_info"
    off_topic = "off_topic"
    illegal = "illegal"
    other = "other"


class TargetType(StrEnum):
    post = "post"
    thread = "thread"
    member = "member"


class ReportIn(RequestModel):
    target_type: TargetType
    target_id: uuid.UUID
    reason: ReportReason
    note: Text(1_000) | None = None  # type: ignore[valid-type]


class ReportOut(ResponseModel):
    id: uuid.UUID
    target_type: TargetType
    target_id: uuid.UUID
    reason: ReportReason
    note: str | None
    created_at: AwareDatetime


class ReviewTarget(ResponseModel):
    excerpt: str | None = Field(description="The start of the post or thread; null for members.")
    author_id: uuid.UUID | None = Field(description="The member who wrote it, or the member.")
    status: str = Field(description="The post's or thread's status, or the member's.")


class AutomodHit(ResponseModel):
    rule_id: uuid.UUID
    name: str
    action: RuleAction


class ReviewStatus(StrEnum):
    open = "open"
    resolved = "resolved"


class Resolution(StrEnum):
    approve = "approve"
    hide = "hide"
    remove = "remove"
    dismiss = "dismiss"


class Priority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class ReviewItemOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    target_type: TargetType
    target_id: uuid.UUID
    target: ReviewTarget
    reasons: dict[str, int] = Field(description="Reports by reason.")
    report_count: int
    automod: list[AutomodHit]
    score: float
    priority: Priority
    status: ReviewStatus
    resolution: Resolution | None
    assignee_key_id: uuid.UUID | None
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime


class AssignIn(RequestModel):
    assignee_key_id: uuid.UUID | None = Field(description="A key of the organisation, or null.")


class SanctionKind(StrEnum):
    warn = "warn"
    mute = "mute"
    suspend = "suspend"
    ban = "ban"


class DecisionSanction(RequestModel):
    kind: SanctionKind
    duration_hours: float | None = Field(
        None, gt=0, le=24 * 3_650, description="None: until lifted (warnings have none)."
    )
    reason: Text(500) | None = None  # type: ignore[valid-type]


class DecisionIn(RequestModel):
    action: Resolution
    version: int = Field(ge=1, description="The item's `version` as you saw it.")
    reason: Text(500) | None = None  # type: ignore[valid-type]
    strike: bool = Field(
        False, description="Add a strike to the target's author (a member): applies the ladder."
    )
    sanction: DecisionSanction | None = Field(
        None, description="Sanction the target's author (a member) at once."
    )
    notify: bool = Field(
        False,
        description="Tell the member: `review.decided` carries the message for them, in the"
        " community's wording (`member-notices`).",
    )


class BulkItem(RequestModel):
    id: uuid.UUID
    version: int = Field(ge=1)


class BulkDecisionIn(RequestModel):
    items: list[BulkItem] = Field(min_length=1, max_length=100)
    action: Resolution
    reason: Text(500) | None = None  # type: ignore[valid-type]


class BulkResult(ResponseModel):
    id: uuid.UUID
    ok: bool
    status: int = Field(description="What the single decision would have answered.")
    error: str | None = None


class BulkDecisionOut(ResponseModel):
    results: list[BulkResult]
