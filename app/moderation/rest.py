"""REST: automod rules, the dry run and the backtest."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import document_not_found, problem_responses
from app.core.pagination import Page, paging
from app.moderation import backtest, rules
from app.moderation.models import AutomodRule
from app.moderation.rulebook import Verdict
from app.moderation.schemas import (
    AutomodMatch,
    AutomodTestIn,
    AutomodTestOut,
    BacktestIn,
    BacktestOut,
    BacktestSample,
    RuleCreate,
    RuleOut,
    RuleUpdate,
)

router = APIRouter(
    prefix="/v1", tags=["moderation"], responses=problem_responses(401, 403, 404, 422)
)
RulePaging = paging(rules.ORDER.cursor)


def rule_out(rule: AutomodRule) -> RuleOut:
    out = RuleOut.model_validate(rule)
    return out.model_copy(update={"action_config": rule.action_config or None})


def verdict_out(verdict: Verdict) -> AutomodTestOut:
    deciding = verdict.deciding
    return AutomodTestOut(
        decision=verdict.decision,  # type: ignore[arg-type]
        matches=[
            AutomodMatch(
                rule_id=hit.rule.id,
                name=hit.rule.name,
                kind=hit.rule.kind,  # type: ignore[arg-type]
                action=hit.rule.action,  # type: ignore[arg-type]
                matched=hit.matched,
                reason=hit.reason,
            )
            for hit in verdict.hits
        ],
        message=(deciding.rule.message or deciding.rule.name) if deciding else None,
    )


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
    return rule_out(rule)


@router.get("/communities/{community_id}/automod/rules", response_model=Page[RuleOut])
async def list_rules(
    community_id: uuid.UUID, session: Session, actor: CurrentActor, page: RulePaging
) -> Page[RuleOut]:
    """The community's rules, oldest first, enabled or not. Role: moderator."""
    window = await rules.list_rules(session, actor, community_id, page)
    return Page[RuleOut](items=[rule_out(r) for r in window.items], next_cursor=window.next_cursor)


@router.get("/automod/rules/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: uuid.UUID, session: Session, actor: CurrentActor) -> RuleOut:
    """One rule. Role: moderator."""
    return rule_out(await rules.get_rule(session, actor, rule_id))


@router.patch("/automod/rules/{rule_id}", response_model=RuleOut)
async def update_rule(
    rule_id: uuid.UUID, data: RuleUpdate, session: Session, actor: CurrentActor
) -> RuleOut:
    """Change a rule (its kind stays; `config` is that kind's). Role: moderator."""
    return rule_out(await rules.update_rule(session, actor, rule_id, data))


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
    return verdict_out(verdict)


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
    return BacktestOut(
        scanned=found.scanned,
        matched=found.matched,
        samples=[BacktestSample(post_id=p, excerpt=e, matched=m) for p, e, m in found.samples],
    )


document_not_found(router)
