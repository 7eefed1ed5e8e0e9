"""A thread's counters, moved in SQL (shared by posts, privacy and moderation decisions)."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.forum.models import Thread


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
