"""REST: automod rules, the dry run and the backtest."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import document_not_found, problem_responses
from app.core.pagination import Page, paging
from app.moderation import backtest, reports, review, rules
from app.moderation.schemas import (
    AutomodTestIn,
    AutomodTestOut,
    BacktestIn,
    BacktestOut,
    RuleCreate,
    RuleOut,
    RuleUpdate,
)
from app.moderation.schemas_review import (
    AssignIn,
    BulkDecisionIn,
    BulkDecisionOut,
    DecisionIn,
    ReportIn,
    ReportOut,
    ReportReason,
    ReviewItemOut,
    ReviewStatus,
)

router = APIRouter(
    prefix="/v1", tags=["moderation"], responses=problem_responses(401, 403, 404, 422)
)
RulePaging = paging(rules.ORDER.cursor)


@router.post(
    "/communities/{community_id}/automod/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleOut,
)
async def create_rule(
    community_id: uuid.UUID,
    data: RuleCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> RuleOut:
    """Add a rule; every post and thread created or edited in the community is screened by
    it from the next write on (on every replica). Role: moderator."""
    rule = await rules.create_rule(session, actor, community_id, data)
    response.headers["Location"] = f"/v1/automod/rules/{rule.id}"
    return rules.rule_out(rule)


@router.get("/communities/{community_id}/automod/rules", response_model=Page[RuleOut])
async def list_rules(
    community_id: uuid.UUID, session: Session, actor: CurrentActor, page: RulePaging
) -> Page[RuleOut]:
    """The community's rules, oldest first, enabled or not. Role: moderator."""
    window = await rules.list_rules(session, actor, community_id, page)
    return Page[RuleOut](
        items=[rules.rule_out(r) for r in window.items], next_cursor=window.next_cursor
    )


@router.get("/automod/rules/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: uuid.UUID, session: Session, actor: CurrentActor) -> RuleOut:
    """One rule. Role: moderator."""
    return rules.rule_out(await rules.get_rule(session, actor, rule_id))


@router.patch("/automod/rules/{rule_id}", response_model=RuleOut)
async def update_rule(
    rule_id: uuid.UUID, data: RuleUpdate, session: Session, actor: CurrentActor
) -> RuleOut:
    """Change a rule (its kind stays; `config` is that kind's). Role: moderator."""
    return rules.rule_out(await rules.update_rule(session, actor, rule_id, data))


@router.delete("/automod/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """Delete a rule (what it matched stays on the review items). Role: moderator."""
    await rules.delete_rule(session, actor, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/communities/{community_id}/automod/test", response_model=AutomodTestOut)
async def test_rules(
    community_id: uuid.UUID,
    data: AutomodTestIn,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
) -> AutomodTestOut:
    """A dry run: what the community's enabled rules would decide for this text posted by a
    member (by this member, with `member_id`), and why. Nothing is written. Role: moderator."""
    verdict = await rules.test_text(session, actor, runtime.automod, community_id, data)
    return rules.verdict_out(verdict)


@router.post("/automod/rules/{rule_id}/backtest", response_model=BacktestOut)
async def backtest_rule(
    rule_id: uuid.UUID,
    data: BacktestIn,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
) -> BacktestOut:
    """What this rule (enabled or not) would have matched among the community's posts of
    the last `days` (≤ 90), opening posts included: counts and up to 20 samples, newest
    first. Text rules only. Role: moderator."""
    found = await backtest.backtest(session, actor, runtime.automod, rule_id, data.days)
    return found.out()


# --- reports and the review queue ---------------------------------------------------------

QueuePaging = paging(review.BY_PRIORITY.cursor)


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportOut,
    responses=problem_responses(409, 429),
)
async def create_report(
    data: ReportIn, session: Session, actor: CurrentActor, runtime: RuntimeDep
) -> ReportOut:
    """Report a post, thread or member to the community's moderators. Members (a muted
    member too; not a suspended or banned one) and staff. Once per reporter and target."""
    report = await reports.create_report(session, actor, data, limiter=runtime.limiter)
    return ReportOut.model_validate(report)


@router.get("/communities/{community_id}/queue", response_model=Page[ReviewItemOut])
async def list_queue(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: QueuePaging,
    status_: Annotated[ReviewStatus | None, Query(alias="status")] = ReviewStatus.open,
    reason: ReportReason | None = None,
    sort: Literal["priority", "oldest"] = "priority",
    assignee: Annotated[
        Literal["me"] | None, Query(description="`me`: only items assigned to your key.")
    ] = None,
) -> Page[ReviewItemOut]:
    """The review queue: open items by default, highest score first (`sort=oldest`: the
    longest waiting). Role: moderator."""
    wanted = review.QueueFilter(
        status=status_.value if status_ else None,
        reason=reason.value if reason else None,
        assignee_me=assignee == "me",
        sort=sort,
    )
    window = await review.list_queue(session, actor, community_id, wanted, page)
    return Page[ReviewItemOut](items=window.items, next_cursor=window.next_cursor)


@router.api_route(
    "/queue/decisions",
    methods=["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def queue_decisions_other_methods() -> None:
    """`/queue/decisions` takes POST only; without this, `/queue/{item_id}` would answer
    its other methods, with a 422 about an item id."""
    raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED, headers={"Allow": "POST"})


@router.get("/queue/{item_id}", response_model=ReviewItemOut)
async def get_review_item(
    item_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ReviewItemOut:
    """One review item. Role: moderator."""
    return await review.get_item(session, actor, item_id)


@router.patch("/queue/{item_id}", response_model=ReviewItemOut)
async def assign_review_item(
    item_id: uuid.UUID, data: AssignIn, session: Session, actor: CurrentActor
) -> ReviewItemOut:
    """Assign the item to a key (or unassign it with null). Role: moderator."""
    return await review.assign(session, actor, item_id, data.assignee_key_id)


@router.post(
    "/queue/{item_id}/decision", response_model=ReviewItemOut, responses=problem_responses(409)
)
async def decide_review_item(
    item_id: uuid.UUID, data: DecisionIn, session: Session, actor: CurrentActor
) -> ReviewItemOut:
    """Approve (show), hide, remove or dismiss, optionally sanctioning the author. `version`
    must be the item's current one: a stale one is a 409 with the item as it is now (two
    moderators deciding at once: one wins). Role: moderator."""
    return await review.decide(session, actor, item_id, data)


@router.post("/queue/decisions", response_model=BulkDecisionOut)
async def decide_in_bulk(
    data: BulkDecisionIn, actor: CurrentActor, runtime: RuntimeDep
) -> BulkDecisionOut:
    """One decision for up to 100 items, each in its own transaction; the answer says how
    each went (`status` as the single decision would have answered). Role: moderator."""
    results = await review.decide_bulk(runtime.unit_of_work, actor, data)
    return BulkDecisionOut(results=results)


document_not_found(router)
