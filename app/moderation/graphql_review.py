"""GraphQL: reports, the review queue and decisions, through the same services as REST;
types derive from the REST schemas, inputs are validated by them."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.experimental import pydantic as derived
from strawberry.scalars import JSON
from strawberry.types import Info

from app.core.graphql import Context, page, parse, plain
from app.moderation import reports, review
from app.moderation.schemas_review import (
    AutomodHit,
    BulkDecisionIn,
    BulkResult,
    DecisionIn,
    ReportIn,
    ReportOut,
    ReportReason,
    Resolution,
    ReviewItemOut,
    ReviewStatus,
    ReviewTarget,
    SanctionKind,
    TargetType,
)

Ctx = Info[Context, None]


@derived.type(model=ReviewTarget, all_fields=True, name="ReviewTarget")
class ReviewTargetType:
    pass


@derived.type(model=AutomodHit, all_fields=True, name="AutomodHit")
class AutomodHitType:
    pass


@derived.type(model=ReviewItemOut, all_fields=True, name="ReviewItem")
class ReviewItemType:
    reasons: JSON = strawberry.field(description="Reports by reason.")


@derived.type(model=ReportOut, all_fields=True, name="Report")
class ReportType:
    pass


@derived.type(model=BulkResult, all_fields=True, name="BulkDecisionResult")
class BulkResultType:
    pass


@strawberry.type
class ReviewPage:
    items: list[ReviewItemType]
    next_cursor: str | None


@strawberry.input(description="A report, as in REST.")
class ReportInput:
    target_type: TargetType
    target_id: uuid.UUID
    reason: ReportReason
    note: str | None = strawberry.UNSET


@strawberry.input(description="A sanction issued with a decision.")
class DecisionSanctionInput:
    kind: SanctionKind
    duration_hours: float | None = strawberry.UNSET
    reason: str | None = strawberry.UNSET


@strawberry.input(description="A decision on one item, as in REST.")
class DecisionInput:
    action: Resolution
    version: int
    reason: str | None = strawberry.UNSET
    sanction: DecisionSanctionInput | None = strawberry.UNSET
    notify: bool | None = strawberry.UNSET


@strawberry.input
class BulkItemInput:
    id: uuid.UUID
    version: int


def _item(out: ReviewItemOut) -> ReviewItemType:
    return ReviewItemType.from_pydantic(out)


@strawberry.type
class Query:
    @strawberry.field(
        description="The review queue (open items, highest score first by default). Role:"
        " moderator."
    )
    async def moderation_queue(
        self,
        info: Ctx,
        community_id: uuid.UUID,
        status: ReviewStatus | None = ReviewStatus.open,
        reason: ReportReason | None = None,
        sort: str = "priority",
        assigned_to_me: bool = False,
        first: int = 20,
        after: str | None = None,
    ) -> ReviewPage:
        actor = await info.context.actor()
        wanted = review.QueueFilter(
            status=status.value if status else None,
            reason=reason.value if reason else None,
            assignee_me=assigned_to_me,
            sort="oldest" if sort == "oldest" else "priority",
        )
        async with info.context.runtime.read_session() as session:
            window = await review.list_queue(
                session, actor, community_id, wanted, page(first, after)
            )
        return ReviewPage(items=[_item(i) for i in window.items], next_cursor=window.next_cursor)

    @strawberry.field(description="One review item. Role: moderator.")
    async def review_item(self, info: Ctx, id: uuid.UUID) -> ReviewItemType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return _item(await review.get_item(session, actor, id))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Report a post, thread or member. Members and staff.")
    async def create_report(self, info: Ctx, input: ReportInput) -> ReportType:
        actor = await info.context.actor()
        data = parse(ReportIn, plain(input))
        runtime = info.context.runtime
        async with runtime.unit_of_work() as session:
            found = await reports.create_report(session, actor, data, limiter=runtime.limiter)
            return ReportType.from_pydantic(ReportOut.model_validate(found))

    @strawberry.mutation(description="Assign a review item to a key, or unassign it.")
    async def assign_review_item(
        self, info: Ctx, id: uuid.UUID, assignee_key_id: uuid.UUID | None
    ) -> ReviewItemType:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            return _item(await review.assign(session, actor, id, assignee_key_id))

    @strawberry.mutation(description="Decide one review item; a stale version is a CONFLICT.")
    async def decide_review_item(
        self, info: Ctx, id: uuid.UUID, input: DecisionInput
    ) -> ReviewItemType:
        actor = await info.context.actor()
        data = parse(DecisionIn, plain(input))
        async with info.context.runtime.unit_of_work() as session:
            return _item(await review.decide(session, actor, id, data))

    @strawberry.mutation(description="One decision for up to 100 items, each on its own.")
    async def decide_review_items(
        self,
        info: Ctx,
        items: list[BulkItemInput],
        action: Resolution,
        reason: str | None = None,
    ) -> list[BulkResultType]:
        actor = await info.context.actor()
        data = parse(
            BulkDecisionIn,
            {"items": plain(items), "action": action.value, "reason": reason},
        )
        results = await review.decide_bulk(info.context.runtime.unit_of_work, actor, data)
        return [BulkResultType.from_pydantic(r) for r in results]
