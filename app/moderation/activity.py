"""What `flood` and `new_member` rules read of a member: their age in the community, their
visible posts (counted up to what the rules need), and their posts within each flood
window, in one statement over the member's posts by time (index author, created_at): a
member with thousands of posts costs what their last window holds, not their history."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.forum.models import Member, Post
from app.moderation.screening import MemberActivity

# Visible posts are counted up to this many: no new-member rule needs more.
MAX_COUNTED_POSTS = 10_000


async def member_activity(
    session: AsyncSession,
    member_id: uuid.UUID,
    windows: Iterable[int],
    posts_needed: int = MAX_COUNTED_POSTS,
) -> MemberActivity | None:
    """The member's age, visible posts (at most `posts_needed`), and posts within each
    window (seconds) before now; None for an unknown member."""
    now = utcnow()
    windows = sorted(set(windows))
    visible = (
        select(func.count())
        .select_from(
            select(Post.id)
            .where(Post.author_member_id == member_id, Post.status == "visible")
            .limit(max(0, min(posts_needed, MAX_COUNTED_POSTS)))
            .subquery()
        )
        .scalar_subquery()
    )
    stmt = select(Member.joined_at, visible).where(Member.id == member_id)
    if windows:
        recent = select(
            *(
                func.coalesce(
                    func.sum(case((Post.created_at >= now - timedelta(seconds=w), 1), else_=0)),
                    0,
                ).label(f"w{n}")
                for n, w in enumerate(windows)
            )
        ).where(
            Post.author_member_id == member_id,
            Post.created_at >= now - timedelta(seconds=windows[-1]),
        )
        counts = recent.subquery()
        # One member row beside one row of counts.
        stmt = stmt.add_columns(*counts.c).join(counts, true())
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    joined, visible_posts, *within = row
    return MemberActivity(
        age_hours=(now - joined).total_seconds() / 3600,
        visible_posts=int(visible_posts),
        posts_within={w: int(n) for w, n in zip(windows, within, strict=True)},
    )
