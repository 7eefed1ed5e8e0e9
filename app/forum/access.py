"""Who may see and touch what in the forum: one place for tenancy and visibility rules.

Staff (API keys) see everything in their org's communities; reading needs `viewer`, writing
as staff needs `moderator` (the people who answer and moderate). A member sees only their
own community, and in it only visible threads and posts plus their own.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.communities import service as communities_service
from app.core.auth import Actor, Role
from app.core.errors import NotFound
from app.forum.members import DELETED_MEMBER
from app.forum.models import Category, Post, Thread
from app.forum.schemas import AuthorOut

STAFF_WRITER = Role.moderator


async def ensure_community(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    *,
    staff_role: Role = Role.viewer,
    members: bool = True,
) -> None:
    """404 unless the caller belongs to this community (member) or its org (staff).

    `members=False` makes it staff-only: a member token is refused (403) even in its own
    community.
    """
    if actor.is_member:
        if not members:
            actor.require(staff_role)  # raises: a member token has no role
        if community_id != actor.community_id:
            raise NotFound("No such community.")
        return
    actor.require(staff_role)
    await communities_service.get_community(session, actor, community_id)


def require_writer(actor: Actor) -> None:
    """Members may write (their conduct is checked separately); staff need `moderator`."""
    if not actor.is_member:
        actor.require(STAFF_WRITER)


def visible_clause(model: type[Thread] | type[Post], actor: Actor) -> Any:
    """What a caller may read: staff everything, members visible rows and their own."""
    if not actor.is_member:
        return True
    return visible_to_member(model, actor.member_id)


def visible_to_member(columns: Any, member_id: Any) -> Any:
    """Visible rows and the member's own. `columns` is a model or its table's `.c`, and
    `member_id` may be a bind parameter, for statements built once (see posts.py)."""
    return or_(columns.status == "visible", columns.author_member_id == member_id)


def visible_post_clause(actor: Actor) -> Any:
    """A post reached on its own (by id, as a reply target): its thread must be visible to
    the caller too, or hiding a thread would not hide its replies."""
    if not actor.is_member:
        return True
    thread_visible = exists().where(Thread.id == Post.thread_id, visible_clause(Thread, actor))
    return and_(visible_clause(Post, actor), thread_visible)


def readable(model: type[Thread] | type[Post] | type[Category], actor: Actor) -> list[Any]:
    """The conditions under which the caller may read rows of `model`: their org, for a
    member only their community, and only what is visible to them."""
    clauses = [model.org_id == actor.org_id]
    if actor.is_member:
        clauses.append(model.community_id == actor.community_id)
    if model is Post:
        clauses.append(visible_post_clause(actor))
    elif model is Thread:
        clauses.append(visible_clause(Thread, actor))
    return clauses


def _scoped(model: type[Thread] | type[Post], actor: Actor, object_id: uuid.UUID) -> Any:
    if not actor.is_member:
        actor.require(Role.viewer)
    return select(model).where(model.id == object_id, *readable(model, actor))


async def load_thread(
    session: AsyncSession,
    actor: Actor,
    thread_id: uuid.UUID,
    *,
    lock: bool = False,
    with_author: bool = True,
) -> Thread:
    stmt = _scoped(Thread, actor, thread_id)
    if with_author:
        stmt = stmt.options(joinedload(Thread.author_member))
    if lock:
        stmt = stmt.with_for_update(of=Thread)
    thread = await session.scalar(stmt)
    if thread is None:
        raise NotFound("No such thread.")
    return thread


async def load_post(
    session: AsyncSession, actor: Actor, post_id: uuid.UUID, *, lock: bool = False
) -> Post:
    stmt = _scoped(Post, actor, post_id).options(joinedload(Post.author_member))
    if lock:
        # Serialises reaction counts and edits of one post across concurrent requests.
        stmt = stmt.with_for_update(of=Post)
    post = await session.scalar(stmt)
    if post is None:
        raise NotFound("No such post.")
    return post


def is_author(actor: Actor, obj: Thread | Post) -> bool:
    if actor.is_member:
        return obj.author_member_id == actor.member_id
    return obj.author_member_id is None and obj.author_key_id == actor.key_id


def author_of(obj: Thread | Post) -> AuthorOut:
    """The byline: a member's current display name, or the staff key's name."""
    if obj.author_member_id is None:
        return AuthorOut(
            id=obj.author_key_id, display_name=obj.author_name or "staff", is_staff=True
        )
    member = obj.author_member
    name = member.display_name if member is not None else None
    return AuthorOut(id=obj.author_member_id, display_name=name or DELETED_MEMBER, is_staff=False)
