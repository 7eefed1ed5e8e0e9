"""series and assets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:07:12.489282

Assets (uploaded files, their bytes in the database or a shared directory) and which
content uses them; content items gain `recurring` (true where `recurrence` is set, filled
here for existing rows) and one copy per occurrence of a series.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "assets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("stored_path", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_assets_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["api_keys.id"],
            name=op.f("fk_assets_created_by_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_assets_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("community_id", "sha256", name=op.f("uq_assets_community_id_sha256")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_org_id"), ["org_id"], unique=False)

    op.create_table(
        "content_assets",
        sa.Column("content_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_content_assets_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["content_items.id"],
            name=op.f("fk_content_assets_content_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("content_id", "asset_id", name=op.f("pk_content_assets")),
    )
    with op.batch_alter_table("content_assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_assets_asset_id"), ["asset_id"], unique=False)

    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recurring", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_content_items_series", ["recurring", "status"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_content_items_series_id_publish_at"), ["series_id", "publish_at"]
        )

    items = sa.table(
        "content_items", sa.column("recurring", sa.Boolean()), sa.column("recurrence", sa.JSON())
    )
    op.execute(
        items.update()
        .where(
            sa.and_(items.c.recurrence.is_not(None), sa.cast(items.c.recurrence, sa.Text) != "null")
        )
        .values(recurring=True)
    )


def downgrade() -> None:

    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_content_items_series_id_publish_at"), type_="unique"
        )
        batch_op.drop_index("ix_content_items_series")
        batch_op.drop_column("recurring")

    with op.batch_alter_table("content_assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_assets_asset_id"))

    op.drop_table("content_assets")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_org_id"))
        batch_op.drop_index(batch_op.f("ix_assets_community_id"))

    op.drop_table("assets")
