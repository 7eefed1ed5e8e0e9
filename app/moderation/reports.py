"""Reports: members and staff point moderators at a post, a thread or a member.

A report lands on the target's review item (opened, or reopened when it was resolved),
weighted by its reason and the reporter's record. Members may report what they can see in
their own community, a budget at a time (`HEARTH_RATE_LIMIT_MEMBER_REPORTS`); a muted
member still may, a suspended or banned one may not. The same reporter reporting the same
target again is a 409.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import events
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.ratelimit import RateLimiter
from app.forum.access import visible_clause
from app.forum.members import current_status, fresh_standing
from app.forum.models import Member, Post, Thread
from app.moderation import queue, review
from app.moderation.models import Report
from app.moderation.schemas_review import ReportIn

MAY_NOT_REPORT = ("suspended", "banned")


async def create_report(
    session: AsyncSession, actor: Actor, data: ReportIn, *, limiter: RateLimiter
) -> Report:
    if actor.is_member:
        actor = await fresh_standing(session, actor)
        standing = actor.standing
        status = current_status(standing.status, standing.until) if standing else "active"
        if status in MAY_NOT_REPORT:
            raise Forbidden(f"A {status} member cannot report.", extra={"member_status": status})
        await limiter.hit("member_reports", str(actor.member_id))
    else:
        actor.require(Role.viewer)
    community_id, author_id = await _target(session, actor, data)
    upheld, dismissed = await _record_of(session, actor)
    item = await queue.item_for(
        session,
        org_id=actor.org_id,
        community_id=community_id,
        target_type=data.target_type.value,
        target_id=data.target_id,
        author_member_id=author_id,
    )
    report = Report(
        org_id=actor.org_id,
        community_id=community_id,
        review_item_id=item.id,
        target_type=data.target_type.value,
        target_id=data.target_id,
        reporter_member_id=actor.member_id,
        reporter_key_id=None if actor.is_member else actor.key_id,
        reason=data.reason.value,
        note=data.note,
        weight=queue.report_weight(data.reason.value, upheld, dismissed),
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(report)
    except IntegrityError:
        raise Conflict("You have already reported this.") from None
    item.reasons = {**item.reasons, report.reason: item.reasons.get(report.reason, 0) + 1}
    item.report_count += 1
    item.report_score = (item.report_score or 0.0) + report.weight
    queue.touch(item)
    await session.flush()
    await events.emit(
        session,
        actor.org_id,
        "report.created",
        {
            "id": str(report.id),
            "community_id": str(community_id),
            "target_type": report.target_type,
            "target_id": str(report.target_id),
            "reason": report.reason,
            "review_item": queue.event_payload(item),
        },
    )
    await review.announce(session, [item])
    return report


async def _target(
    session: AsyncSession, actor: Actor, data: ReportIn
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The target's community and author, as the reporter may see it (404 otherwise)."""
    model: Any = {"post": Post, "thread": Thread, "member": Member}[data.target_type.value]
    stmt = select(model).where(model.id == data.target_id, model.org_id == actor.org_id)
    if actor.is_member:
        stmt = stmt.where(model.community_id == actor.community_id)
        if model is not Member:
            stmt = stmt.where(visible_clause(model, actor))
    found = await session.scalar(stmt)
    if found is None or (model is Member and found.erased_at is not None):
        raise NotFound(
            f"No such {data.target_type.value}.",
            errors=[{"loc": ["body", "target_id"], "message": "not found", "type": "ref"}],
        )
    if actor.is_member and found.id == actor.member_id:
        raise Forbidden("You cannot report yourself.")
    author = found.id if model is Member else found.author_member_id
    return found.community_id, author


async def _record_of(session: AsyncSession, actor: Actor) -> tuple[int, int]:
    """How many of this reporter's reports were upheld and dismissed."""
    column = Report.reporter_member_id if actor.is_member else Report.reporter_key_id
    who = actor.member_id if actor.is_member else actor.key_id
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((Report.outcome == "upheld", 1), else_=0)), 0),
                func.coalesce(func.sum(case((Report.outcome == "dismissed", 1), else_=0)), 0),
            ).where(column == who)
        )
    ).one()
    return int(row[0]), int(row[1])
