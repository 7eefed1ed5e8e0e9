"""The review queue: listing, assignment, decisions (one at a time or in bulk).

A decision names the item's `version` as the moderator saw it; the item is locked and the
version compared, so of two moderators deciding at once exactly one wins and the other gets
a 409 with the item as it now is. Deciding resolves the item, does what the action says to
the post or thread, marks its reports upheld (hide, remove) or dismissed (approve,
dismiss), optionally sanctions the author, and is audited and announced (`review.decided`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.core import audit, broadcast, events
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import AppError, Conflict, NotFound
from app.core.pagination import CursorShape, Keyset, PageParams, Window, paginate
from app.core.text import excerpt
from app.forum import inbox
from app.forum.counters import follow_post_status
from app.forum.members import current_status
from app.forum.models import InboxItem, Member, Post, Thread
from app.moderation import notices, queue, sanctions, strikes
from app.moderation.models import Report, ReviewItem, Sanction
from app.moderation.schemas_review import (
    AutomodHit,
    BulkDecisionIn,
    BulkResult,
    DecisionIn,
    ReviewItemOut,
    ReviewTarget,
)
from app.orgs.models import ApiKey

# Both orders share one cursor shape: score, creation, id.
_SHAPE = CursorShape(ReviewItem.score, ReviewItem.created_at, ReviewItem.id)
BY_PRIORITY = Keyset(
    ((ReviewItem.score, "desc"), (ReviewItem.created_at, "asc"), (ReviewItem.id, "asc")),
    _SHAPE,
)
OLDEST = Keyset(
    ((ReviewItem.created_at, "asc"), (ReviewItem.score, "desc"), (ReviewItem.id, "asc")), _SHAPE
)
UPHOLDING = ("hide", "remove")
NEW_STATUS = {"approve": "visible", "hide": "hidden", "remove": "removed"}


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = "open"
    reason: str | None = None
    assignee_me: bool = False
    sort: str = "priority"


async def list_queue(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    wanted: QueueFilter,
    params: PageParams,
) -> Window[ReviewItemOut]:
    actor.require(Role.moderator)
    await communities.get_community(session, actor, community_id)
    stmt = select(ReviewItem).where(ReviewItem.community_id == community_id)
    if wanted.status:
        stmt = stmt.where(ReviewItem.status == wanted.status)
    if wanted.assignee_me:
        stmt = stmt.where(ReviewItem.assignee_key_id == actor.key_id)
    if wanted.reason:
        # Items with at least one report of this reason (the JSON map's key).
        stmt = stmt.where(
            ReviewItem.id.in_(
                select(Report.review_item_id).where(
                    Report.community_id == community_id, Report.reason == wanted.reason
                )
            )
        )
    order = OLDEST if wanted.sort == "oldest" else BY_PRIORITY
    window = await paginate(session, stmt, order, params)
    return Window(await outs(session, window.items), window.next_cursor)


async def get_item(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> ReviewItemOut:
    return (await outs(session, [await _load(session, actor, item_id)]))[0]


async def assign(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, key_id: uuid.UUID | None
) -> ReviewItemOut:
    item = await _load(session, actor, item_id, lock=True)
    if key_id is not None:
        found = await session.scalar(
            select(ApiKey.id).where(
                ApiKey.id == key_id, ApiKey.org_id == actor.org_id, ApiKey.revoked_at.is_(None)
            )
        )
        if found is None:
            raise NotFound(
                "No such API key in this organisation.",
                errors=[
                    {"loc": ["body", "assignee_key_id"], "message": "not found", "type": "ref"}
                ],
            )
    before = item.assignee_key_id
    if before != key_id:
        item.assignee_key_id = key_id
        queue.touch(item)
        await session.flush()
        await audit.record(
            session,
            actor,
            "review_item.assigned",
            org_id=item.org_id,
            target_type="review_item",
            target_id=item.id,
            community_id=item.community_id,
            before={"assignee_key_id": before},
            after={"assignee_key_id": key_id},
        )
        await announce(session, [item])
    return (await outs(session, [item]))[0]


async def decide(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, data: DecisionIn
) -> ReviewItemOut:
    item = await _load(session, actor, item_id, lock=True)
    if item.version != data.version:
        current = (await outs(session, [item]))[0]
        raise Conflict(
            "The item changed since you saw it; look again and decide on the current"
            f" version ({item.version}).",
            extra={"item": current.model_dump(mode="json")},
        )
    action = data.action.value
    before = {"status": item.status, "resolution": item.resolution}
    target_before, target_after = await _act_on_target(session, actor, item, action)
    now = utcnow()
    item.status, item.resolution, item.resolved_at = "resolved", action, now
    queue.touch(item)
    outcome = "upheld" if action in UPHOLDING else "dismissed"
    await session.execute(
        update(Report)
        .where(Report.review_item_id == item.id, Report.outcome.is_(None))
        .values(outcome=outcome)
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "review_item.decided",
        org_id=item.org_id,
        target_type="review_item",
        target_id=item.id,
        community_id=item.community_id,
        before={**before, **({"target": target_before} if target_before else {})},
        after={
            "status": item.status,
            "resolution": action,
            **({"target": target_after} if target_after else {}),
        },
        reason=data.reason,
    )
    strike = ladder_sanction = None
    if data.strike and item.author_member_id is not None:
        strike, ladder_sanction = await strikes.add_strike(
            session,
            actor,
            item.author_member_id,
            data.reason or _default_reason(action),
            review_item_id=item.id,
        )
    sanction = None
    if data.sanction is not None and item.author_member_id is not None:
        member = await session.get_one(Member, item.author_member_id)
        sanction = await sanctions.issue(
            session,
            member,
            kind=data.sanction.kind.value,
            reason=data.sanction.reason or data.reason or _default_reason(action),
            issued_by=audit.by(actor),
            hours=data.sanction.duration_hours,
            review_item_id=item.id,
            now=now,
        )
    payload = {
        **queue.event_payload(item),
        "resolution": action,
        "reason": data.reason,
        "decided_by": {"type": "key", "id": str(actor.key_id), "name": actor.name},
        "sanction_id": str(sanction.id) if sanction else None,
        "strike_id": str(strike.id) if strike else None,
        "notify": await _notice(
            session, item, action, data, [s for s in (ladder_sanction, sanction) if s]
        ),
    }
    await events.emit(session, item.org_id, "review.decided", payload)
    await announce(session, [item])
    return (await outs(session, [item]))[0]


async def decide_bulk(
    runtime_unit_of_work: Any, actor: Actor, data: BulkDecisionIn
) -> list[BulkResult]:
    """Each item decided in a transaction of its own: one stale or gone item does not
    undo the others. Role: moderator (checked once, before any)."""
    actor.require(Role.moderator)
    results = []
    for entry in data.items:
        single = DecisionIn(action=data.action, version=entry.version, reason=data.reason)
        try:
            async with runtime_unit_of_work() as session:
                await decide(session, actor, entry.id, single)
            results.append(BulkResult(id=entry.id, ok=True, status=200, error=None))
        except AppError as exc:
            results.append(BulkResult(id=entry.id, ok=False, status=exc.status, error=exc.detail))
    return results


def _default_reason(action: str) -> str:
    return {"hide": "Hidden by a moderator.", "remove": "Removed by a moderator."}.get(
        action, "Decided by a moderator."
    )


async def _notice(
    session: AsyncSession,
    item: ReviewItem,
    action: str,
    data: DecisionIn,
    issued: list[Sanction],
) -> dict[str, Any] | None:
    """What the target's author is told, when the decision says so."""
    if not data.notify or item.author_member_id is None:
        return None
    return await notices.compose(
        session,
        item.author_member_id,
        outcome=action,
        what=item.target_type,
        sanctions=issued,
        reason=data.reason,
    )


async def _act_on_target(
    session: AsyncSession, actor: Actor, item: ReviewItem, action: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Show, hide or remove the post or thread; members are sanctioned, not hidden. What
    is removed (by its author, an erasure or a moderator) stays removed: approving a
    report on it shows nothing again."""
    status = NEW_STATUS.get(action)
    if status is None or item.target_type == "member":
        return None, None
    if item.target_type == "thread":
        thread = await session.get(Thread, item.target_id, with_for_update=True)
        if thread is None or thread.status in (status, "removed"):
            return None, None
        was = thread.status
        thread.status, thread.updated_at = status, utcnow()
        opening = await session.get(Post, thread.first_post_id)
        if opening is not None and opening.status != "removed":
            opening.status = status
        await _follow_inbox(session, actor, thread, opening)
        return {"status": was}, {"status": status}
    post = await session.get(Post, item.target_id, with_for_update=True)
    if post is None or post.status in (status, "removed"):
        return None, None
    was = post.status
    thread = await session.get_one(Thread, post.thread_id)
    if status == "removed":
        post.removed_at = utcnow()
    await follow_post_status(session, thread, post, status)
    return {"status": was}, {"status": status}


async def _follow_inbox(
    session: AsyncSession, actor: Actor, thread: Thread, opening: Post | None
) -> None:
    """A member's question shown again waits in the staff inbox (a held one never entered
    it); one taken out of view leaves it."""
    if thread.status != "visible":
        await inbox.resolve_for_thread(session, thread.id, by_key_id=actor.key_id)
        return
    if not inbox.wants(thread) or opening is None:
        return
    waiting = await session.scalar(select(InboxItem.id).where(InboxItem.thread_id == thread.id))
    if waiting is None:
        inbox.open_item(session, thread, opening.sentiment_score)


async def _load(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, *, lock: bool = False
) -> ReviewItem:
    actor.require(Role.moderator)
    stmt = select(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.org_id == actor.org_id)
    if lock:
        stmt = stmt.with_for_update()
    item = await session.scalar(stmt)
    if item is None:
        raise NotFound("No such review item.")
    return item


async def outs(session: AsyncSession, items: list[ReviewItem]) -> list[ReviewItemOut]:
    """Items with their targets, read in one query per kind of target."""
    targets: dict[tuple[str, uuid.UUID], ReviewTarget] = {}
    for kind, model in (("post", Post), ("thread", Thread)):
        ids = [i.target_id for i in items if i.target_type == kind]
        if ids:
            for row in await session.scalars(select(model).where(model.id.in_(ids))):
                text = row.body if kind == "post" else row.title
                targets[(kind, row.id)] = ReviewTarget(
                    excerpt=excerpt(text), author_id=row.author_member_id, status=row.status
                )
    member_ids = [i.target_id for i in items if i.target_type == "member"]
    if member_ids:
        for member in await session.scalars(select(Member).where(Member.id.in_(member_ids))):
            status = current_status(member.status, member.status_until)
            targets[("member", member.id)] = ReviewTarget(
                excerpt=None, author_id=member.id, status=status
            )
    return [_out(item, targets.get((item.target_type, item.target_id))) for item in items]


def _out(item: ReviewItem, target: ReviewTarget | None) -> ReviewItemOut:
    seen: dict[str, AutomodHit] = {}
    for entry in item.automod:
        seen.setdefault(
            entry["rule_id"],
            AutomodHit(rule_id=entry["rule_id"], name=entry["name"], action=entry["action"]),
        )
    return ReviewItemOut(
        id=item.id,
        community_id=item.community_id,
        target_type=item.target_type,  # type: ignore[arg-type]
        target_id=item.target_id,
        target=target or ReviewTarget(excerpt=None, author_id=None, status="deleted"),
        reasons=item.reasons,
        report_count=item.report_count,
        automod=list(seen.values()),
        score=item.score,
        priority=item.priority,  # type: ignore[arg-type]
        status=item.status,  # type: ignore[arg-type]
        resolution=item.resolution,  # type: ignore[arg-type]
        assignee_key_id=item.assignee_key_id,
        version=item.version,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


async def announce(session: AsyncSession, items: list[ReviewItem]) -> None:
    """Tell the live queue (GraphQL `moderationQueue`) once the change commits."""
    for out in await outs(session, items):
        broadcast.announce(session, channel(out.community_id), out.model_dump(mode="json"))


def channel(community_id: uuid.UUID) -> str:
    return f"queue:{community_id}"
