"""reactions keyed by their canonical emoji: `thumbsup`, `+1` and 👍 become one reaction

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:10:00

Until now a reaction was stored as sent, so `thumbsup`, `+1` and 👍 counted as three, and
text such as `notanemoji` was accepted. Each row now holds its emoji's canonical character
(app.core.emoji). A row that names no emoji is deleted, and so is a second row of one
reactor for one emoji (keeping the one already canonical, else the oldest). Then the posts'
`{emoji: count}`, their threads' reaction counts and scores, and the inbox rank of question
threads whose opening post changed are recomputed.

Downgrade keeps the data: the earlier code accepts emoji characters as reaction keys.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from alembic import op
from app.core.db import JSONType, UTCDateTime
from app.core.emoji import canonical_emoji
from app.forum.inbox import rank_at

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

reactions = sa.table(
    "forum_reactions",
    sa.column("id", sa.Uuid()),
    sa.column("post_id", sa.Uuid()),
    sa.column("emoji", sa.String()),
    sa.column("member_id", sa.Uuid()),
    sa.column("key_id", sa.Uuid()),
    sa.column("created_at", UTCDateTime()),
)
posts = sa.table(
    "forum_posts",
    sa.column("id", sa.Uuid()),
    sa.column("thread_id", sa.Uuid()),
    sa.column("reactions", JSONType),
)
threads = sa.table(
    "forum_threads",
    sa.column("id", sa.Uuid()),
    sa.column("first_post_id", sa.Uuid()),
    sa.column("created_at", UTCDateTime()),
    sa.column("reaction_count", sa.Integer()),
    sa.column("score", sa.Integer()),
)
inbox = sa.table(
    "forum_inbox_items",
    sa.column("thread_id", sa.Uuid()),
    sa.column("sentiment_score", sa.Float()),
    sa.column("rank_at", UTCDateTime()),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(reactions).order_by(reactions.c.created_at, reactions.c.id)).all()
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    doomed, touched = [], set()
    for row in rows:
        key = canonical_emoji(row.emoji)
        if key is None:
            doomed.append(row.id)
            touched.add(row.post_id)
        else:
            groups[(row.post_id, row.member_id, row.key_id, key)].append(row)
    renamed = []
    for (post_id, _, _, key), same in groups.items():
        keep = next((row for row in same if row.emoji == key), same[0])
        doomed.extend(row.id for row in same if row is not keep)
        if keep.emoji != key:
            renamed.append((keep.id, key))
        if len(same) > 1 or keep.emoji != key:
            touched.add(post_id)
    # Deletes first: each (post, reactor, emoji) then has one row, so no rename collides.
    for row_id in doomed:
        conn.execute(sa.delete(reactions).where(reactions.c.id == row_id))
    for row_id, key in renamed:
        conn.execute(sa.update(reactions).where(reactions.c.id == row_id).values(emoji=key))
    for post_id in touched:
        _recount(conn, post_id)


def _recount(conn: sa.Connection, post_id: Any) -> None:
    """The post's `{emoji: count}` from its rows; its thread and inbox item follow."""
    counts = conn.execute(
        sa.select(reactions.c.emoji, sa.func.count())
        .where(reactions.c.post_id == post_id)
        .group_by(reactions.c.emoji)
        .order_by(sa.func.count().desc(), reactions.c.emoji)
    ).all()
    post = conn.execute(sa.select(posts).where(posts.c.id == post_id)).one()
    fresh = {emoji: count for emoji, count in counts}
    delta = sum(fresh.values()) - sum((post.reactions or {}).values())
    conn.execute(sa.update(posts).where(posts.c.id == post_id).values(reactions=fresh))
    conn.execute(
        sa.update(threads)
        .where(threads.c.id == post.thread_id)
        .values(
            reaction_count=threads.c.reaction_count + delta,
            score=threads.c.score + delta,
        )
    )
    thread = conn.execute(sa.select(threads).where(threads.c.id == post.thread_id)).one()
    item = conn.execute(sa.select(inbox).where(inbox.c.thread_id == thread.id)).one_or_none()
    if item is not None and thread.first_post_id == post_id:
        conn.execute(
            sa.update(inbox)
            .where(inbox.c.thread_id == thread.id)
            .values(rank_at=rank_at(thread.created_at, item.sentiment_score, sum(fresh.values())))
        )


def downgrade() -> None:
    pass  # canonical keys are valid reaction keys for the earlier code too
