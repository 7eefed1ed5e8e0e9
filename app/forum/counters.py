"""A thread's counters and pointers, moved as its replies enter and leave members' view
(shared by posts, privacy and moderation decisions)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.forum.models import Post, Thread


async def bump(
    session: AsyncSession, thread_id: uuid.UUID, *, replies: int = 0, reactions: int = 0
) -> None:
    """Move a thread's counters in SQL, so concurrent writers never lose an update."""
    await session.execute(
        update(Thread)
        .where(Thread.id == thread_id)
        .values(
            reply_count=Thread.reply_count + replies,
            reaction_count=Thread.reaction_count + reactions,
            score=Thread.score + replies + reactions,
        )
    )


def _latest_visible(column: Any) -> Any:
    """The thread's newest visible post (its opening post when nothing else is left)."""
    return (
        select(column)
        .where(Post.thread_id == Thread.id, Post.status == "visible")
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(1)
        .correlate(Thread)
        .scalar_subquery()
    )


# The values that point a thread (in an UPDATE of threads) back at its newest visible post.
LATEST_VISIBLE_POST = {
    "last_post_id": func.coalesce(_latest_visible(Post.id), Thread.first_post_id),
    "last_posted_at": func.coalesce(_latest_visible(Post.created_at), Thread.created_at),
}


def reaction_total(reactions: dict[str, int] | None) -> int:
    """A post's reactions, all emoji together."""
    return sum((reactions or {}).values())


async def follow_post_status(
    session: AsyncSession, thread: Thread, post: Post, status: str
) -> None:
    """Set a post's status: an opening post carries its whole thread; a reply moves the
    thread's counters and pointers (`follow_reply_status`)."""
    if thread.first_post_id == post.id:
        post.status = thread.status = status
    else:
        await follow_reply_status(session, thread, post, status)


async def follow_reply_status(
    session: AsyncSession, thread: Thread, post: Post, status: str
) -> None:
    """Set a reply's status; the thread follows what members now see: its counters, its
    last-post pointer, and its accepted answer (an answer out of view is no answer). The
    caller holds the post's lock. Counters and pointer move in SQL, conditionally, so a
    reply committing meanwhile is never overwritten."""
    was, post.status = post.status, status
    reactions = reaction_total(post.reactions)
    if status != "visible" and thread.accepted_post_id == post.id:
        thread.accepted_post_id, post.is_answer = None, False
    if was == "visible" and status != "visible":
        await bump(session, thread.id, replies=-1, reactions=-reactions)
        await session.flush()
        await _point(
            session,
            thread,
            update(Thread)
            .where(Thread.id == thread.id, Thread.last_post_id == post.id)
            .values(**LATEST_VISIBLE_POST),
        )
    elif was != "visible" and status == "visible":
        await bump(session, thread.id, replies=1, reactions=reactions)
        await _point(
            session,
            thread,
            update(Thread)
            .where(Thread.id == thread.id, Thread.last_posted_at < post.created_at)
            .values(last_post_id=post.id, last_posted_at=post.created_at),
        )


async def _point(session: AsyncSession, thread: Thread, moved: Any) -> None:
    """Run a conditional UPDATE of the thread's pointer; the loaded thread then shows what
    it wrote (as loaded from the database: nothing for the session to flush)."""
    row = (
        await session.execute(
            moved.returning(Thread.last_post_id, Thread.last_posted_at).execution_options(
                synchronize_session=False
            )
        )
    ).one_or_none()
    if row is not None:
        set_committed_value(thread, "last_post_id", row.last_post_id)
        set_committed_value(thread, "last_posted_at", row.last_posted_at)
