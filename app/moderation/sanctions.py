"""Sanctions, and the member's status, which follows the most severe active one.

`members.status`/`status_until` are what every member write checks (app.forum.members);
they are recomputed from the member's active sanctions whenever one is issued, lifted or
ends, in the same transaction, so the two never disagree for long: a status whose end has
passed already reads as `active` (`current_status`), and the periodic expiry job then
records the end.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.core import audit, events
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, RuleViolation, missing_reference
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.forum.models import Member
from app.moderation import notices
from app.moderation.models import Appeal, ReviewItem, Sanction
from app.moderation.schemas_conduct import Issuer, SanctionIn, SanctionOut

# Most severe first; a warning changes nothing about what a member may do.
SEVERITY = {"ban": 3, "suspend": 2, "mute": 1, "warn": 0}
STATUS_OF = {"ban": "banned", "suspend": "suspended", "mute": "muted"}


def active_clause(now: datetime) -> Any:
    """In force at `now`: started, not ended (nor its end recorded), not lifted."""
    return (
        Sanction.lifted_at.is_(None),
        Sanction.expired_at.is_(None),
        Sanction.starts_at <= now,
        or_(Sanction.ends_at.is_(None), Sanction.ends_at > now),
    )


async def issue(
    session: AsyncSession,
    member: Member,
    *,
    kind: str,
    reason: str,
    issued_by: audit.By,
    audited_as: audit.By | None = None,
    hours: float | None = None,
    review_item_id: uuid.UUID | None = None,
    strike_id: uuid.UUID | None = None,
    now: datetime | None = None,
    notify: bool = False,
) -> Sanction:
    """Record a sanction, move the member's status, emit and audit it (as `audited_as`
    when given: a ladder's sanction is audited as the key that added the strike). With
    `notify`, the event carries what the member is told."""
    await lock_member(session, member.id)
    now = now or utcnow()
    sanction = Sanction(
        org_id=member.org_id,
        community_id=member.community_id,
        member_id=member.id,
        kind=kind,
        reason=reason,
        starts_at=now,
        ends_at=now + timedelta(hours=hours) if hours else None,
        issued_by_type=issued_by.type,
        issued_by_id=issued_by.id,
        issued_by_name=issued_by.name,
        review_item_id=review_item_id,
        strike_id=strike_id,
        created_at=now,
    )
    session.add(sanction)
    await session.flush()
    notice = None
    if notify:
        notice = await notices.compose(
            session, member.id, outcome=None, sanctions=[sanction], reason=reason
        )
    await events.emit(
        session, member.org_id, "sanction.created", sanction_payload(sanction) | {"notify": notice}
    )
    await audit.record(
        session,
        audited_as or issued_by,
        "sanction.created",
        org_id=member.org_id,
        target_type="member",
        target_id=member.id,
        community_id=member.community_id,
        after={"sanction_id": sanction.id, "kind": kind, "ends_at": sanction.ends_at},
        reason=reason,
    )
    await follow_sanctions(session, member, now)
    return sanction


async def follow_sanctions(session: AsyncSession, member: Member, now: datetime) -> None:
    """Set the member's status from their active sanctions (the most severe; of equals,
    the one that lasts longest), emitting `member.status_changed` when it moves."""
    active = list(
        await session.scalars(
            select(Sanction).where(Sanction.member_id == member.id, *active_clause(now))
        )
    )
    ruling = max(
        (s for s in active if s.kind in STATUS_OF),
        key=lambda s: (SEVERITY[s.kind], s.ends_at is None, s.ends_at or now),
        default=None,
    )
    status = STATUS_OF[ruling.kind] if ruling else "active"
    until = ruling.ends_at if ruling else None
    reason = ruling.reason if ruling else None
    if (member.status, member.status_until, member.status_reason) == (status, until, reason):
        return
    before = {"status": member.status, "status_until": member.status_until}
    member.status, member.status_until, member.status_reason = status, until, reason
    await session.flush()
    await events.emit(
        session,
        member.org_id,
        "member.status_changed",
        {
            "member_id": str(member.id),
            "community_id": str(member.community_id),
            "status": status,
            "status_until": _instant(until),
            "previous_status": before["status"],
        },
    )


async def lock_member(session: AsyncSession, member_id: uuid.UUID) -> Member:
    """Writers of a member's sanctions and strikes take the member first: two at once
    would each compute the status (or count the strikes) from what the other has not yet
    written. Returns the member, read under the lock."""
    return await session.get_one(Member, member_id, with_for_update=True)


def sanction_payload(sanction: Sanction) -> dict[str, Any]:
    return {
        "id": str(sanction.id),
        "community_id": str(sanction.community_id),
        "member_id": str(sanction.member_id),
        "kind": sanction.kind,
        "reason": sanction.reason,
        "starts_at": _instant(sanction.starts_at),
        "ends_at": _instant(sanction.ends_at),
        "issued_by": {
            "type": sanction.issued_by_type,
            "id": str(sanction.issued_by_id) if sanction.issued_by_id else None,
            "name": sanction.issued_by_name,
        },
        "review_item_id": str(sanction.review_item_id) if sanction.review_item_id else None,
    }


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# --- staff's sanctions, lifting, expiry -----------------------------------------------------

ORDER = Keyset(((Sanction.starts_at, "desc"), (Sanction.id, "desc")))
EXPIRE_BATCH = 500


async def member_of_org(session: AsyncSession, actor: Actor, member_id: uuid.UUID) -> Member:
    """A member of the caller's organisation (404 otherwise, and once erased)."""
    member = await session.scalar(
        select(Member).where(Member.id == member_id, Member.org_id == actor.org_id)
    )
    if member is None or member.erased_at is not None:
        raise NotFound("No such member.")
    return member


async def issue_by_staff(
    session: AsyncSession, actor: Actor, member_id: uuid.UUID, data: SanctionIn
) -> Sanction:
    actor.require(Role.moderator)
    member = await member_of_org(session, actor, member_id)
    if data.kind == "warn" and data.duration_hours is not None:
        raise RuleViolation(
            "A warning has no duration.",
            errors=[{"loc": ["body", "duration_hours"], "message": "not for warn", "type": "kind"}],
        )
    if data.review_item_id is not None:
        await item_in_community(session, data.review_item_id, member.community_id)
    return await issue(
        session,
        member,
        kind=data.kind.value,
        reason=data.reason,
        issued_by=audit.by(actor),
        hours=data.duration_hours,
        review_item_id=data.review_item_id,
        notify=data.notify,
    )


async def item_in_community(
    session: AsyncSession, item_id: uuid.UUID, community_id: uuid.UUID
) -> None:
    found = await session.scalar(
        select(ReviewItem.id).where(
            ReviewItem.id == item_id, ReviewItem.community_id == community_id
        )
    )
    if found is None:
        raise missing_reference("review_item_id", "No such review item in this community.")


async def list_for_member(
    session: AsyncSession, actor: Actor, member_id: uuid.UUID, params: PageParams
) -> Window[Sanction]:
    actor.require(Role.moderator)
    await member_of_org(session, actor, member_id)
    stmt = select(Sanction).where(Sanction.member_id == member_id)
    return await paginate(session, stmt, ORDER, params)


async def list_for_community(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    params: PageParams,
    *,
    active: bool | None = None,
    kind: str | None = None,
) -> Window[Sanction]:
    actor.require(Role.moderator)
    await communities.get_community(session, actor, community_id)
    stmt = select(Sanction).where(Sanction.community_id == community_id)
    now = utcnow()
    if active is True:
        stmt = stmt.where(*active_clause(now))
    elif active is False:
        stmt = stmt.where(~and_(*active_clause(now)))
    if kind is not None:
        stmt = stmt.where(Sanction.kind == kind)
    return await paginate(session, stmt, ORDER, params)


async def get_sanction(
    session: AsyncSession, actor: Actor, sanction_id: uuid.UUID, *, lock: bool = False
) -> Sanction:
    stmt = select(Sanction).where(Sanction.id == sanction_id, Sanction.org_id == actor.org_id)
    if lock:
        stmt = stmt.with_for_update()
    sanction = await session.scalar(stmt)
    if sanction is None:
        raise NotFound("No such sanction.")
    return sanction


def seen_by(actor: Actor, model: type[Sanction] | type[Appeal]) -> Any:
    """Which sanctions or appeals the caller may read: a member their own, staff
    (moderator) their organisation's."""
    if actor.is_member:
        return model.member_id == actor.member_id
    actor.require(Role.moderator)
    return model.org_id == actor.org_id


async def get_visible_sanction(
    session: AsyncSession, actor: Actor, sanction_id: uuid.UUID
) -> Sanction:
    """One sanction, as `seen_by` the caller."""
    sanction = await session.scalar(
        select(Sanction).where(Sanction.id == sanction_id, seen_by(actor, Sanction))
    )
    if sanction is None:
        raise NotFound("No such sanction of yours." if actor.is_member else "No such sanction.")
    return sanction


async def lift(
    session: AsyncSession, actor: Actor, sanction_id: uuid.UUID, reason: str
) -> Sanction:
    """End a sanction now. Role: moderator (an overturned appeal lifts through here too)."""
    actor.require(Role.moderator)
    sanction = await get_sanction(session, actor, sanction_id, lock=True)
    return await end(session, sanction, reason=reason, by=audit.by(actor))


async def end(session: AsyncSession, sanction: Sanction, *, reason: str, by: audit.By) -> Sanction:
    now = utcnow()
    if sanction.lifted_at is not None:
        raise Conflict("This sanction was already lifted.")
    if sanction.ends_at is not None and sanction.ends_at <= now:
        raise Conflict("This sanction has already ended.")
    member = await lock_member(session, sanction.member_id)
    sanction.lifted_at, sanction.lifted_reason = now, reason
    await session.flush()
    await events.emit(session, sanction.org_id, "sanction.lifted", sanction_payload(sanction))
    await audit.record(
        session,
        by,
        "sanction.lifted",
        org_id=sanction.org_id,
        target_type="member",
        target_id=sanction.member_id,
        community_id=sanction.community_id,
        before={"sanction_id": sanction.id, "active": True},
        after={"sanction_id": sanction.id, "active": False},
        reason=reason,
    )
    await follow_sanctions(session, member, now)
    return sanction


async def expire_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Record the end of sanctions whose time is up: the member's status follows and
    `sanction.expired` goes out, once each. (Until then a lapsed status already reads as
    over: `current_status`.) Returns how many ended."""
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(Sanction)
            .where(
                Sanction.expired_at.is_(None),
                Sanction.lifted_at.is_(None),
                Sanction.ends_at <= now,
            )
            .order_by(Sanction.ends_at)
            .limit(EXPIRE_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for sanction in due:
        member = await lock_member(session, sanction.member_id)
        sanction.expired_at = now
        await events.emit(session, sanction.org_id, "sanction.expired", sanction_payload(sanction))
        await follow_sanctions(session, member, now)
    return len(due)


def is_active(sanction: Sanction, now: datetime) -> bool:
    return (
        sanction.lifted_at is None
        and sanction.expired_at is None
        and sanction.starts_at <= now
        and (sanction.ends_at is None or sanction.ends_at > now)
    )


async def out(session: AsyncSession, sanctions: list[Sanction]) -> list[SanctionOut]:
    """With each one's appeal, read in one query."""
    appeals = (
        {
            a.sanction_id: a.id
            for a in await session.scalars(
                select(Appeal).where(Appeal.sanction_id.in_([s.id for s in sanctions]))
            )
        }
        if sanctions
        else {}
    )
    now = utcnow()
    return [
        SanctionOut(
            id=s.id,
            member_id=s.member_id,
            community_id=s.community_id,
            kind=s.kind,  # type: ignore[arg-type]
            reason=s.reason,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            lifted_at=s.lifted_at,
            lifted_reason=s.lifted_reason,
            issued_by=Issuer(
                type=s.issued_by_type,  # type: ignore[arg-type]
                id=s.issued_by_id,
                name=s.issued_by_name,
            ),
            strike_id=s.strike_id,
            appeal_id=appeals.get(s.id),
            review_item_id=s.review_item_id,
            active=is_active(s, now),
        )
        for s in sanctions
    ]
