"""posts by author and time

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 20:04:58

`forum_posts(author_member_id, created_at)`: automod's flood and new-member rules read a
member's latest posts on every reply in a community that has such rules.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.create_index("ix_forum_posts_author_time", ["author_member_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_forum_posts_author_time")
