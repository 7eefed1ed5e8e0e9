"""reactions keyed by their canonical emoji: `thumbsup`, `+1` and 👍 become one reaction

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:10:00

Until now a reaction was stored as sent, so `thumbsup`, `+1` and 👍 counted as three, and
text such as `notanemoji` was accepted. Each row now holds its emoji's fully-qualified
character. Rows that name no emoji are deleted, and so is a second row of one reactor for
one emoji (the row already canonical is kept). Then the posts' `{emoji: count}`, their
threads' reaction counts and scores, and the inbox rank of question threads whose opening
post changed are recomputed. Only the spellings that change are touched, value by value.

The rules are frozen here (the emoji package's data; the inbox rank's formula), not read
from the app, so this migration does the same whenever it runs.

Downgrade: the earlier code took shortcodes, and emoji characters only of some kinds;
keys it would refuse (keycaps such as 1️⃣) go back to a shortcode it takes.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import emoji
import sqlalchemy as sa

from alembic import op
from app.core.db import JSONType, UTCDateTime

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
_SHORTCODE = r"[a-z0-9_+\-]{1,32}"


def _spellings() -> dict[str, str]:
    """Every accepted spelling (a character or a shortcode) → the canonical character."""
    fully = emoji.STATUS["fully_qualified"]
    qualified = {d["en"]: ch for ch, d in emoji.EMOJI_DATA.items() if d["status"] == fully}
    known = [
        (ch, d, qualified[d["en"]])
        for ch, d in emoji.EMOJI_DATA.items()
        if d["status"] != emoji.STATUS["component"]
    ]
    spelled: dict[str, str] = {}
    for names in (lambda d: [d["en"]], lambda d: d.get("alias", [])):  # CLDR names first
        for _, data, canonical in known:
            for name in names(data):
                if re.fullmatch(r"[a-z0-9_+\-]{1,64}", name.strip(":")):
                    spelled.setdefault(name.strip(":"), canonical)
    return {**spelled, **{ch: canonical for ch, _, canonical in known}}


def upgrade() -> None:
    conn = op.get_bind()
    spellings = _spellings()
    values = conn.execute(sa.select(reactions.c.emoji).distinct()).scalars().all()
    renames = {v: spellings.get(v) for v in values if spellings.get(v) != v}
    touched = _posts_with(conn, renames)
    for value, canonical in renames.items():
        mine = reactions.c.emoji == value
        if canonical is None:  # not an emoji at all
            conn.execute(sa.delete(reactions).where(mine))
            continue
        theirs = reactions.alias("canonical")
        twin = sa.exists().where(
            theirs.c.post_id == reactions.c.post_id,
            theirs.c.emoji == canonical,
            sa.or_(
                theirs.c.member_id == reactions.c.member_id,
                theirs.c.key_id == reactions.c.key_id,
            ),
        )
        conn.execute(sa.delete(reactions).where(mine, twin))  # the reactor has it already
        conn.execute(sa.update(reactions).where(mine).values(emoji=canonical))
    for post_id in touched:
        _recount(conn, post_id)


def downgrade() -> None:
    conn = op.get_bind()
    shortcode = {}
    for spelling, canonical in _spellings().items():
        if _old_shortcode(spelling):
            shortcode.setdefault(canonical, spelling)
    values = conn.execute(sa.select(reactions.c.emoji).distinct()).scalars().all()
    renames = {v: shortcode.get(v) for v in values if not _old_accepts(v)}
    touched = _posts_with(conn, renames)
    for value, old in renames.items():
        statement = sa.update(reactions).values(emoji=old) if old else sa.delete(reactions)
        conn.execute(statement.where(reactions.c.emoji == value))
    for post_id in touched:
        _recount(conn, post_id)


def _old_shortcode(value: str) -> bool:
    return re.fullmatch(_SHORTCODE, value) is not None


def _old_accepts(value: str) -> bool:
    """The earlier code's check: a shortcode, or a few symbols and nothing that reads as text."""
    if _old_shortcode(value):
        return True
    joiners = {"\u200d"} | {chr(c) for c in range(0xE0020, 0xE0080)}
    marks = {"So", "Sk", "Mn", "Me"}
    return (
        0 < len(value) <= 16
        and all(
            ord(ch) > 0x7F and (unicodedata.category(ch) in marks or ch in joiners) for ch in value
        )
        and any(unicodedata.category(ch) == "So" for ch in value)
    )


def _posts_with(conn: sa.Connection, values: Iterable[str]) -> set[Any]:
    wanted = list(values)
    if not wanted:
        return set()
    rows = conn.execute(sa.select(reactions.c.post_id).where(reactions.c.emoji.in_(wanted)))
    return set(rows.scalars())


def _recount(conn: sa.Connection, post_id: Any) -> None:
    """The post's `{emoji: count}` from its rows; its thread and inbox item follow."""
    counts = conn.execute(
        sa.select(reactions.c.emoji, sa.func.count())
        .where(reactions.c.post_id == post_id)
        .group_by(reactions.c.emoji)
        .order_by(sa.func.count().desc(), reactions.c.emoji)
    ).all()
    post = conn.execute(sa.select(posts).where(posts.c.id == post_id)).one()
    fresh = {key: count for key, count in counts}
    total = sum(fresh.values())
    delta = total - sum((post.reactions or {}).values())
    conn.execute(sa.update(posts).where(posts.c.id == post_id).values(reactions=fresh))
    conn.execute(
        sa.update(threads)
        .where(threads.c.id == post.thread_id)
        .values(reaction_count=threads.c.reaction_count + delta, score=threads.c.score + delta)
    )
    thread = conn.execute(sa.select(threads).where(threads.c.id == post.thread_id)).one()
    item = conn.execute(sa.select(inbox).where(inbox.c.thread_id == thread.id)).one_or_none()
    if item is not None and thread.first_post_id == post_id:
        # The inbox rank as 0002 defined it: a day per unit of negativity, an hour per
        # reaction up to 24.
        negativity = max(0.0, -item.sentiment_score)
        rank = thread.created_at - timedelta(hours=24 * negativity + min(total, 24))
        conn.execute(sa.update(inbox).where(inbox.c.thread_id == thread.id).values(rank_at=rank))
