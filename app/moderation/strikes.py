"""Strikes and the community's ladder.

A strike counts while it is not voided and younger than the policy's `decay_days`. Adding
one counts the member's live strikes and issues the sanction of the ladder's step for that
count (the highest step reached; beyond the top, the top again), issued by `ladder` with
the strike's id, and audited as `sanction.created` by the key that added the strike.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.communities.models import Community
from app.core import audit, events
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.forum.models import Member
from app.moderation import sanctions
from app.moderation.models import Sanction, Strike
from app.moderation.schemas_conduct import Issuer, StrikeOut, StrikePolicy

DEFAULT_POLICY = StrikePolicy.model_validate(
    {
        "ladder": [
            {"strikes": 1, "kind": "warn"},
            {"strikes": 2, "kind": "mute", "duration_hours": 24},
            {"strikes": 3, "kind": "suspend", "duration_hours": 168},
            {"strikes": 4, "kind": "ban"},
        ],
        "decay_days": 90,
    }
)
ORDER = Keyset(((Strike.created_at, "desc"), (Strike.id, "desc")))


def policy_of(community: Community) -> StrikePolicy:
    if community.strike_policy is None:
        return DEFAULT_POLICY
    return StrikePolicy.model_validate(community.strike_policy)


async def get_policy(session: AsyncSession, actor: Actor, community_id: uuid.UUID) -> StrikePolicy:
    actor.require(Role.moderator)
    return policy_of(await communities.get_community(session, actor, community_id))


async def put_policy(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, policy: StrikePolicy
) -> StrikePolicy:
    actor.require(Role.manager)
    community = await communities.get_community(session, actor, community_id)
    before = policy_of(community).model_dump(mode="json")
    community.strike_policy = policy.model_dump(mode="json")
    await session.flush()
    await audit.record(
        session,
        actor,
        "community.strike_policy_set",
        org_id=community.org_id,
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        before=before,
        after=community.strike_policy,
    )
    return policy


async def add_strike(
    session: AsyncSession,
    actor: Actor,
    member_id: uuid.UUID,
    reason: str,
    *,
    review_item_id: uuid.UUID | None = None,
    notify: bool = False,
) -> tuple[Strike, Sanction | None]:
    """Record a strike and apply the ladder (with `notify`, the ladder's sanction.created
    carries what the member is told). Role: moderator."""
    actor.require(Role.moderator)
    member = await sanctions.member_of_org(session, actor, member_id)
    if review_item_id is not None:
        await sanctions.item_in_community(session, review_item_id, member.community_id)
    await sanctions.lock_member(session, member.id)  # counts and the ladder, one at a time
    community = await session.get_one(Community, member.community_id)
    policy = policy_of(community)
    now = utcnow()
    by = audit.by(actor)
    strike = Strike(
        org_id=member.org_id,
        community_id=member.community_id,
        member_id=member.id,
        reason=reason,
        review_item_id=review_item_id,
        issued_by_type=by.type,
        issued_by_id=by.id,
        issued_by_name=by.name,
        created_at=now,
    )
    session.add(strike)
    await session.flush()
    live = await live_count(session, member.id, policy, now)
    await events.emit(
        session,
        member.org_id,
        "strike.added",
        {
            "id": str(strike.id),
            "community_id": str(member.community_id),
            "member_id": str(member.id),
            "reason": reason,
            "strikes": live,
        },
    )
    await audit.record(
        session,
        actor,
        "strike.added",
        org_id=member.org_id,
        target_type="member",
        target_id=member.id,
        community_id=member.community_id,
        after={"strike_id": strike.id, "strikes": live},
        reason=reason,
    )
    step = next((s for s in reversed(policy.ladder) if s.strikes <= live), None)
    sanction = None
    if step is not None:
        sanction = await sanctions.issue(
            session,
            member,
            kind=step.kind.value,
            reason=f"Strike {live}: {reason}",
            issued_by=audit.By("ladder", None, "Strike ladder"),
            audited_as=by,
            hours=step.duration_hours,
            review_item_id=review_item_id,
            strike_id=strike.id,
            now=now,
            notify=notify,
        )
    return strike, sanction


async def live_count(
    session: AsyncSession, member_id: uuid.UUID, policy: StrikePolicy, now: datetime
) -> int:
    since = now - timedelta(days=policy.decay_days)
    counted = await session.scalar(
        select(func.count()).where(
            Strike.member_id == member_id, Strike.voided_at.is_(None), Strike.created_at > since
        )
    )
    return int(counted or 0)


async def list_strikes(
    session: AsyncSession, actor: Actor, member_id: uuid.UUID, params: PageParams
) -> Window[StrikeOut]:
    actor.require(Role.moderator)
    member = await sanctions.member_of_org(session, actor, member_id)
    policy = policy_of(await session.get_one(Community, member.community_id))
    window = await paginate(
        session, select(Strike).where(Strike.member_id == member_id), ORDER, params
    )
    return Window([strike_out(s, policy) for s in window.items], window.next_cursor)


def strike_out(strike: Strike, policy: StrikePolicy, now: datetime | None = None) -> StrikeOut:
    now = now or utcnow()
    counts = strike.voided_at is None and strike.created_at > now - timedelta(
        days=policy.decay_days
    )
    return StrikeOut(
        id=strike.id,
        member_id=strike.member_id,
        reason=strike.reason,
        review_item_id=strike.review_item_id,
        issued_by=Issuer(
            type=strike.issued_by_type,  # type: ignore[arg-type]
            id=strike.issued_by_id,
            name=strike.issued_by_name,
        ),
        voided_at=strike.voided_at,
        counts=counts,
        created_at=strike.created_at,
    )


async def counts_for(session: AsyncSession, member: Member) -> dict[str, Any]:
    """What staff's view of a member adds: live strikes (for the ladder)."""
    policy = policy_of(await session.get_one(Community, member.community_id))
    return {"strikes": await live_count(session, member.id, policy, utcnow())}


async def community_of(session: AsyncSession, strike: Strike) -> Community:
    return await session.get_one(Community, strike.community_id)
