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

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, events
from app.core.db import utcnow
from app.forum.models import Member
from app.moderation.models import Sanction

# Most severe first; a warning changes nothing about what a member may do.
SEVERITY = {"ban": 3, "suspend": 2, "mute": 1, "warn": 0}
STATUS_OF = {"ban": "banned", "suspend": "suspended", "mute": "muted"}


def active_clause(now: datetime) -> Any:
    return (
        Sanction.lifted_at.is_(None),
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
    hours: float | None = None,
    review_item_id: uuid.UUID | None = None,
    strike_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Sanction:
    """Record a sanction, move the member's status, emit and audit it."""
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
    await events.emit(session, member.org_id, "sanction.created", sanction_payload(sanction))
    await audit.record(
        session,
        issued_by,
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
