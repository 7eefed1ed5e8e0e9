"""What `flood` and `new_member` rules read of a member: their age in the community and
their posts, counted in one statement (the member's posts are indexed by author)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.forum.models import Member, Post
from app.moderation.screening import MemberActivity


async def member_activity(
    session: AsyncSession, member_id: uuid.UUID, windows: Iterable[int]
) -> MemberActivity | None:
    """The member's age, visible posts, and posts within each window (seconds) before now;
    None for an unknown member."""
    now = utcnow()
    windows = sorted(set(windows))
    counts = [
        func.coalesce(
            func.sum(case((Post.created_at >= now - timedelta(seconds=w), 1), else_=0)), 0
        )
        for w in windows
    ]
    visible = func.coalesce(func.sum(case((Post.status == "visible", 1), else_=0)), 0)
    posts = select(visible, *counts).where(Post.author_member_id == member_id).subquery()
    # One member row beside one row of counts.
    stmt = select(Member.joined_at, posts).join(posts, true()).where(Member.id == member_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    joined, visible_posts, *within = row
    return MemberActivity(
        age_hours=(now - joined).total_seconds() / 3600,
        visible_posts=int(visible_posts),
        posts_within={w: int(n) for w, n in zip(windows, within, strict=True)},
    )
