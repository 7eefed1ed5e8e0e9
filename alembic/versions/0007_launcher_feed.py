"""launcher feed

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:36:03

The public launcher feed: `channels.feed_version` and `feed_changed_at`, bumped whenever
what a feed shows changes (API replicas compare it with their cached answers), and
`feed_events`, players' impressions and clicks, one row per client, item, type and day.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("content_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("type IN ('impression', 'click')", name=op.f("ck_feed_events_type")),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_feed_events_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_feed_events_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["content_items.id"],
            name=op.f("fk_feed_events_content_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_feed_events_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_events")),
        sa.UniqueConstraint(
            "channel_id",
            "content_id",
            "client_id",
            "type",
            "day",
            name=op.f("uq_feed_events_channel_id_content_id_client_id_type_day"),
        ),
    )
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feed_events_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(
            "ix_feed_events_item_day", ["content_id", "day", "type"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_feed_events_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("feed_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("feed_changed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("feed_changed_at")
        batch_op.drop_column("feed_version")

    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_events_org_id"))
        batch_op.drop_index("ix_feed_events_item_day")
        batch_op.drop_index(batch_op.f("ix_feed_events_community_id"))

    op.drop_table("feed_events")
