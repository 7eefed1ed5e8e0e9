"""Sanctions, strikes and the ladder, appeals, staff notes and a member's own view."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, Field, field_validator

from app.core.schemas import RequestModel, ResponseModel, Text
from app.forum.schemas import MemberOut
from app.moderation.schemas_review import SanctionKind


class IssuerType(StrEnum):
    key = "key"
    automod = "automod"
    ladder = "ladder"


class SanctionIn(RequestModel):
    kind: SanctionKind
    duration_hours: float | None = Field(
        None, gt=0, le=24 * 3_650, description="None: until lifted. Warnings have none."
    )
    reason: Text(500)  # type: ignore[valid-type]
    review_item_id: uuid.UUID | None = Field(None, description="The item it was decided on.")
    notify: bool = Field(
        False,
        description="Tell the member: `sanction.created` carries the message for them, in the"
        " community's wording (`member-notices`).",
    )


class Issuer(ResponseModel):
    type: IssuerType
    id: uuid.UUID | None = Field(description="The key's id, or the automod rule's id.")
    name: str | None


class SanctionOut(ResponseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    community_id: uuid.UUID
    kind: SanctionKind
    reason: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None
    lifted_at: AwareDatetime | None
    lifted_reason: str | None
    issued_by: Issuer
    strike_id: uuid.UUID | None
    appeal_id: uuid.UUID | None
    review_item_id: uuid.UUID | None
    active: bool = Field(description="In force now: started, not ended, not lifted.")


class LiftIn(RequestModel):
    reason: Text(500)  # type: ignore[valid-type]


class StrikeIn(RequestModel):
    reason: Text(500)  # type: ignore[valid-type]
    review_item_id: uuid.UUID | None = None
    notify: bool = Field(
        False,
        description="Tell the member of what the ladder issued: its `sanction.created` carries"
        " the message, in the community's wording (`member-notices`).",
    )


class StrikeOut(ResponseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    reason: str
    review_item_id: uuid.UUID | None
    issued_by: Issuer
    voided_at: AwareDatetime | None
    counts: bool = Field(description="Not voided, and younger than the policy's decay_days.")
    created_at: AwareDatetime


class StrikeAdded(ResponseModel):
    strike: StrikeOut
    sanction: SanctionOut | None = Field(description="What the ladder issued, if anything.")


class LadderStep(RequestModel):
    strikes: int = Field(ge=1, le=100, description="Counting strikes that reach this step.")
    kind: SanctionKind
    duration_hours: float | None = Field(None, gt=0, le=24 * 3_650)


class StrikePolicy(RequestModel):
    ladder: list[LadderStep] = Field(
        max_length=20,
        description="Kept in order of `strikes`; of two steps with the same count, the later"
        " one given.",
    )
    decay_days: int = Field(ge=1, le=3_650, description="Older strikes no longer count.")

    @field_validator("ladder")
    @classmethod
    def _in_order(cls, steps: list[LadderStep]) -> list[LadderStep]:
        by_count = {step.strikes: step for step in steps}
        return [by_count[count] for count in sorted(by_count)]


class AppealIn(RequestModel):
    statement: Text(2_000)  # type: ignore[valid-type]


class AppealStatus(StrEnum):
    open = "open"
    upheld = "upheld"
    overturned = "overturned"


class AppealOut(ResponseModel):
    id: uuid.UUID
    sanction_id: uuid.UUID
    member_id: uuid.UUID
    community_id: uuid.UUID
    statement: str
    status: AppealStatus
    note: str | None
    created_at: AwareDatetime
    decided_at: AwareDatetime | None


class AppealOutcome(StrEnum):
    uphold = "uphold"
    overturn = "overturn"


class AppealDecisionIn(RequestModel):
    outcome: AppealOutcome
    note: Text(1_000)  # type: ignore[valid-type]
    notify: bool = Field(
        False,
        description="Tell the member: `appeal.decided` carries the message for them, in the"
        " community's wording (`member-notices`), with the note as its reason.",
    )


class NoteIn(RequestModel):
    body: Text(5_000)  # type: ignore[valid-type]


class NoteOut(ResponseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    author_key_id: uuid.UUID | None
    author_name: str
    body: str
    created_at: AwareDatetime


class MeOut(ResponseModel):
    member: MemberOut = Field(description="The member's profile and status.")
    sanctions: list[SanctionOut] = Field(description="Sanctions in force now.")
    appeals: list[AppealOut] = Field(description="Every appeal the member made, newest first.")
