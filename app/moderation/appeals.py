"""Appeals against sanctions, staff notes on members, and a member's view of their own
standing (`GET /v1/me`).

A sanctioned member appeals with their own token, once per sanction, even while banned
(a ban refuses writes to the forum, not this). Overturning lifts the sanction and voids the
strike it came from; upholding leaves both.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.core import audit, events
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.forum.members import post_counts, to_out
from app.forum.models import Member
from app.moderation import notices, sanctions, strikes
from app.moderation.models import Appeal, MemberNote, Report, ReviewItem, Sanction, Strike
from app.moderation.schemas_conduct import AppealDecisionIn, AppealOut

ORDER = Keyset(((Appeal.created_at, "desc"), (Appeal.id, "desc")))
NOTE_ORDER = Keyset(((MemberNote.created_at, "desc"), (MemberNote.id, "desc")))


async def create_appeal(
    session: AsyncSession, actor: Actor, sanction_id: uuid.UUID, statement: str
) -> Appeal:
    mine = (
        Sanction.member_id == actor.member_id
        if actor.is_member
        else Sanction.org_id == actor.org_id
    )
    sanction = await session.scalar(select(Sanction).where(Sanction.id == sanction_id, mine))
    if sanction is None:
        raise NotFound("No such sanction of yours." if actor.is_member else "No such sanction.")
    if not actor.is_member:
        raise Forbidden("Only the sanctioned member appeals, with their member token.")
    appeal = Appeal(
        org_id=sanction.org_id,
        community_id=sanction.community_id,
        sanction_id=sanction.id,
        member_id=sanction.member_id,
        statement=statement,
        status="open",
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(appeal)
    except IntegrityError:
        raise Conflict("This sanction has already been appealed.") from None
    await events.emit(session, appeal.org_id, "appeal.created", payload(appeal))
    return appeal


async def get_appeal(session: AsyncSession, actor: Actor, appeal_id: uuid.UUID) -> Appeal:
    """One appeal, for its outcome (see `sanctions.seen_by`)."""
    appeal = await session.scalar(
        select(Appeal).where(Appeal.id == appeal_id, sanctions.seen_by(actor, Appeal))
    )
    if appeal is None:
        raise NotFound("No such appeal of yours." if actor.is_member else "No such appeal.")
    return appeal


async def list_appeals(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    params: PageParams,
    status: str | None,
) -> Window[Appeal]:
    actor.require(Role.moderator)
    await communities.get_community(session, actor, community_id)
    stmt = select(Appeal).where(Appeal.community_id == community_id)
    if status is not None:
        stmt = stmt.where(Appeal.status == status)
    return await paginate(session, stmt, ORDER, params)


async def decide_appeal(
    session: AsyncSession, actor: Actor, appeal_id: uuid.UUID, data: AppealDecisionIn
) -> Appeal:
    actor.require(Role.moderator)
    appeal = await session.scalar(
        select(Appeal)
        .where(Appeal.id == appeal_id, Appeal.org_id == actor.org_id)
        .with_for_update()
    )
    if appeal is None:
        raise NotFound("No such appeal.")
    if appeal.status != "open":
        raise Conflict(f"This appeal was already decided ({appeal.status}).")
    now = utcnow()
    overturn = data.outcome.value == "overturn"
    appeal.status = "overturned" if overturn else "upheld"
    appeal.note, appeal.decided_by_key_id, appeal.decided_at = data.note, actor.key_id, now
    if overturn:
        sanction = await session.get_one(Sanction, appeal.sanction_id, with_for_update=True)
        still_on = sanction.lifted_at is None and (
            sanction.ends_at is None or sanction.ends_at > now
        )
        if still_on:
            await sanctions.end(
                session, sanction, reason=f"Appeal overturned: {data.note}", by=audit.by(actor)
            )
        if sanction.strike_id is not None:
            strike = await session.get(Strike, sanction.strike_id)
            if strike is not None and strike.voided_at is None:
                strike.voided_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "appeal.decided",
        org_id=appeal.org_id,
        target_type="appeal",
        target_id=appeal.id,
        community_id=appeal.community_id,
        before={"status": "open"},
        after={"status": appeal.status, "sanction_id": appeal.sanction_id},
        reason=data.note,
    )
    notice = None
    if data.notify:
        notice = await notices.compose(
            session, appeal.member_id, outcome=f"appeal_{appeal.status}", reason=data.note
        )
    await events.emit(
        session, appeal.org_id, "appeal.decided", payload(appeal) | {"notify": notice}
    )
    return appeal


def payload(appeal: Appeal) -> dict[str, Any]:
    return {
        "id": str(appeal.id),
        "community_id": str(appeal.community_id),
        "member_id": str(appeal.member_id),
        "sanction_id": str(appeal.sanction_id),
        "status": appeal.status,
        "note": appeal.note,
    }


def appeal_out(appeal: Appeal) -> AppealOut:
    return AppealOut.model_validate(appeal)


# --- notes -----------------------------------------------------------------------------------


async def add_note(
    session: AsyncSession, actor: Actor, member_id: uuid.UUID, body: str
) -> MemberNote:
    actor.require(Role.moderator)
    member = await sanctions.member_of_org(session, actor, member_id)
    note = MemberNote(
        org_id=member.org_id,
        community_id=member.community_id,
        member_id=member.id,
        author_key_id=actor.key_id,
        author_name=actor.name,
        body=body,
        created_at=utcnow(),
    )
    session.add(note)
    await session.flush()
    await audit.record(
        session,
        actor,
        "member_note.created",
        org_id=member.org_id,
        target_type="member",
        target_id=member.id,
        community_id=member.community_id,
        after={"note_id": note.id},
    )
    return note


async def list_notes(
    session: AsyncSession, actor: Actor, member_id: uuid.UUID, params: PageParams
) -> Window[MemberNote]:
    actor.require(Role.moderator)
    await sanctions.member_of_org(session, actor, member_id)
    stmt = select(MemberNote).where(MemberNote.member_id == member_id)
    return await paginate(session, stmt, NOTE_ORDER, params)


# --- what staff and the member see of a member ----------------------------------------------


async def moderation_counts(session: AsyncSession, member: Member) -> dict[str, int]:
    """Staff's view adds: reports against the member (their posts, threads and self),
    live strikes, active sanctions, notes."""
    now = utcnow()
    reports = await session.scalar(
        select(func.count(Report.id))
        .select_from(Report)
        .where(
            Report.review_item_id.in_(
                select(ReviewItem.id).where(ReviewItem.author_member_id == member.id)
            )
        )
    )
    active = await session.scalar(
        select(func.count(Sanction.id)).where(
            Sanction.member_id == member.id, *sanctions.active_clause(now)
        )
    )
    notes = await session.scalar(
        select(func.count(MemberNote.id)).where(MemberNote.member_id == member.id)
    )
    return {
        "reports_against": int(reports or 0),
        "strikes": (await strikes.counts_for(session, member))["strikes"],
        "active_sanctions": int(active or 0),
        "notes": int(notes or 0),
    }


async def me(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    """A member's own profile and standing: status, active sanctions, appeals."""
    if not actor.is_member:
        raise Forbidden("`/v1/me` is for members; use a member token.")
    member = await session.get_one(Member, actor.member_id)
    counts = await post_counts(session, [member.id])
    now = utcnow()
    own = list(
        await session.scalars(
            select(Sanction)
            .where(Sanction.member_id == member.id)
            .order_by(Sanction.starts_at.desc())
            .limit(100)
        )
    )
    active = [s for s in own if sanctions.is_active(s, now)]
    appeals = list(
        await session.scalars(
            select(Appeal).where(Appeal.member_id == member.id).order_by(Appeal.created_at.desc())
        )
    )
    return {
        "member": to_out(member, counts.get(member.id, 0)),
        "sanctions": await sanctions.out(session, active),
        "appeals": [appeal_out(a) for a in appeals],
    }
