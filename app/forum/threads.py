"""Threads: start one (with its opening post), list with sorts, read, and staff changes."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.communities.models import Community
from app.core import audit, events
from app.core.auth import Actor, Role
from app.core.db import new_id, utcnow
from app.core.errors import NotFound
from app.core.pagination import CursorShape, Keyset, PageParams, Window, paginate
from app.core.ratelimit import RateLimiter
from app.forum import inbox
from app.forum.access import ensure_community, load_thread, require_writer, visible_clause
from app.forum.categories import category_in_community
from app.forum.members import fresh_standing
from app.forum.models import Category, Thread
from app.forum.posts import attach_byline, build_post, guard_member_write
from app.forum.schemas import ThreadCreate, ThreadSort, ThreadUpdate
from app.forum.views import event_payload
from app.moderation import enforce
from app.moderation.rulebook import Rulebook

# Pinned threads come first in every sort; the id breaks ties so cursors are exact.
# Every sort's cursor holds every column the sorts use, so a cursor is a position whatever
# the sort (one shape for the OpenAPI document too).
THREAD_CURSOR = CursorShape(
    Thread.pinned, Thread.score, Thread.created_at, Thread.last_posted_at, Thread.id
)
SORTS: dict[str, Keyset] = {
    "latest": Keyset(
        [(Thread.pinned, "desc"), (Thread.created_at, "desc"), (Thread.id, "desc")],
        THREAD_CURSOR,
    ),
    "active": Keyset(
        [(Thread.pinned, "desc"), (Thread.last_posted_at, "desc"), (Thread.id, "desc")],
        THREAD_CURSOR,
    ),
    "top": Keyset(
        [
            (Thread.pinned, "desc"),
            (Thread.score, "desc"),
            (Thread.created_at, "desc"),  # equal scores: newest first
            (Thread.id, "desc"),
        ],
        THREAD_CURSOR,
    ),
}


async def create_thread(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    data: ThreadCreate,
    *,
    limiter: RateLimiter,
    automod: Rulebook,
) -> Thread:
    require_writer(actor)
    actor = await fresh_standing(session, actor)
    await ensure_community(session, actor, community_id, staff_role=Role.moderator)
    await category_in_community(session, community_id, data.category_id)
    await guard_member_write(actor, limiter, "member_posts")
    version = await session.scalar(
        select(Community.automod_version).where(Community.id == community_id)
    )
    verdict = await automod.screen(
        f"{data.title}\n{data.body}",
        community_id=community_id,
        version=version or 0,
        actor=actor,
        category_id=data.category_id,
    )
    await enforce.refuse_if_blocked(
        automod,
        verdict,
        org_id=actor.org_id,
        community_id=community_id,
        member_id=actor.member_id,
        target_type="thread",
    )
    status = enforce.status_for(verdict)
    now = utcnow()
    thread = Thread(
        id=new_id(),
        org_id=actor.org_id,
        community_id=community_id,
        category_id=data.category_id,
        author_member_id=actor.member_id,
        author_key_id=actor.key_id,
        author_name=None if actor.is_member else actor.name,
        kind=data.kind,
        title=data.title,
        status=status,
        pinned=False,
        locked=False,
        reply_count=0,
        reaction_count=0,
        score=0,
        created_at=now,
        updated_at=now,
        last_posted_at=now,
    )
    opening = build_post(actor, thread, data.body, at=now)
    opening.status = status
    thread.first_post_id = thread.last_post_id = opening.id
    session.add(thread)
    await session.flush()  # the thread row first: the post refers to it
    session.add(opening)
    if inbox.wants(thread):
        inbox.open_item(session, thread, opening.sentiment_score)
    await session.flush()
    await enforce.record(
        session,
        verdict,
        org_id=actor.org_id,
        community_id=community_id,
        target_type="thread",
        target_id=thread.id,
        author_member_id=actor.member_id,
    )
    attach_byline(thread, actor)
    attach_byline(opening, actor)
    await events.emit(session, actor.org_id, "thread.created", event_payload(thread))
    await events.emit(session, actor.org_id, "post.created", event_payload(opening))
    return thread


async def list_threads(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    params: PageParams,
    *,
    sort: ThreadSort = "latest",
    category: str | None = None,
    kind: str | None = None,
) -> Window[Thread]:
    await ensure_community(session, actor, community_id)
    stmt = (
        select(Thread)
        .where(Thread.community_id == community_id, visible_clause(Thread, actor))
        .options(joinedload(Thread.author_member))
    )
    if category is not None:
        stmt = stmt.where(Thread.category_id == await _category_id(session, community_id, category))
    if kind is not None:
        stmt = stmt.where(Thread.kind == kind)
    return await paginate(session, stmt, SORTS[sort], params)


async def _category_id(session: AsyncSession, community_id: uuid.UUID, ref: str) -> uuid.UUID:
    """`?category=` takes a category's id or its slug (a slug may look like an id)."""
    try:
        as_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        as_id = None
    in_community = select(Category.id).where(Category.community_id == community_id)
    found = await session.scalar(in_community.where(Category.id == as_id)) if as_id else None
    if found is None:
        found = await session.scalar(in_community.where(Category.slug == ref))
    if found is None:
        raise NotFound(
            "No category with this id or slug in this community.",
            errors=[{"loc": ["query", "category"], "message": "not found", "type": "ref"}],
        )
    return found


async def get_thread(session: AsyncSession, actor: Actor, thread_id: uuid.UUID) -> Thread:
    return await load_thread(session, actor, thread_id)


async def update_thread(
    session: AsyncSession, actor: Actor, thread_id: uuid.UUID, data: ThreadUpdate
) -> Thread:
    """Rename, pin, lock or move a thread. Role: moderator."""
    actor.require(Role.moderator)
    thread = await load_thread(session, actor, thread_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    if "category_id" in changes:
        await category_in_community(session, thread.community_id, changes["category_id"])
    was = {field: getattr(thread, field) for field in changes}
    for field, value in changes.items():
        setattr(thread, field, value)
    thread.updated_at = utcnow()
    await session.flush()
    if actor.is_staff:
        await _audit_update(session, actor, thread, was)
    await events.emit(session, actor.org_id, "thread.updated", event_payload(thread))
    return thread


async def _audit_update(
    session: AsyncSession, actor: Actor, thread: Thread, was: dict[str, object]
) -> None:
    """`thread.updated` with the states that changed; a new title is only said to be one
    (the log never holds what anyone wrote)."""
    states = [field for field in ("pinned", "locked", "category_id") if field in was]
    before, after = audit.changes(
        {field: was[field] for field in states}, {field: getattr(thread, field) for field in states}
    )
    if "title" in was and was["title"] != thread.title:
        after["title"] = "changed"
    if after:
        await audit.record(
            session,
            actor,
            "thread.updated",
            org_id=thread.org_id,
            target_type="thread",
            target_id=thread.id,
            community_id=thread.community_id,
            before=before or None,
            after=after,
        )


# Audited as `thread.<new status>` (`thread.hidden`, `thread.held`, `thread.removed`), or
# `thread.restored` when it becomes visible again, with before/after {"status"}.
STATUS_ACTIONS = {"visible": "thread.restored"}


async def set_thread_status(
    session: AsyncSession, actor: Actor, thread_id: uuid.UUID, status: str
) -> Thread:
    """Hide a thread from members (`hidden`) or show it again (`visible`). Role: moderator."""
    actor.require(Role.moderator)
    thread = await load_thread(session, actor, thread_id, lock=True)
    was = thread.status
    thread.status = status
    thread.updated_at = utcnow()
    await session.flush()
    if actor.is_staff and was != status:
        await audit.record(
            session,
            actor,
            STATUS_ACTIONS.get(status, f"thread.{status}"),
            org_id=thread.org_id,
            target_type="thread",
            target_id=thread.id,
            community_id=thread.community_id,
            before={"status": was},
            after={"status": status},
        )
    await events.emit(session, actor.org_id, "thread.updated", event_payload(thread))
    return thread
