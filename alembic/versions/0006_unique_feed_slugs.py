"""unique feed slugs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 14:20:00

A launcher feed's `config.public_slug` gets a column of its own, unique across the server:
the API checked the slug before writing, and the constraint also settles two requests
racing for one. Should such a race have left two feeds with one slug already, the later
feed keeps it in its config but not in the column (it stays reachable by its id, as a feed
without a slug is), so that the constraint can be built.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: the table as it is at this revision.
channels = sa.table(
    "channels",
    sa.column("id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("public_slug", sa.String(64)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
SLUG = channels.c.config["public_slug"].as_string()


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch_op:
        batch_op.add_column(sa.Column("public_slug", sa.String(length=64), nullable=True))
    # The oldest feed of each slug takes it: one statement, whatever the number of rows.
    other = channels.alias("other")
    earlier_feed = sa.exists().where(
        other.c.kind == "launcher_feed",
        other.c.config["public_slug"].as_string() == SLUG,
        sa.or_(
            other.c.created_at < channels.c.created_at,
            sa.and_(other.c.created_at == channels.c.created_at, other.c.id < channels.c.id),
        ),
    )
    op.execute(
        channels.update()
        .where(channels.c.kind == "launcher_feed", SLUG.is_not(None), ~earlier_feed)
        .values(public_slug=SLUG)
    )
    with op.batch_alter_table("channels") as batch_op:
        batch_op.create_unique_constraint("uq_channels_public_slug", ["public_slug"])


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch_op:
        batch_op.drop_constraint("uq_channels_public_slug", type_="unique")
        batch_op.drop_column("public_slug")
