"""automod rules

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 19:05:00

`automod_rules`, one row per rule of a community, and `communities.automod_version`, bumped
with every change of them (each process recompiles a community's rules when it moves).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automod_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "action_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "exempt_roles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "category_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('flag', 'hold', 'block', 'hide', 'timeout', 'alert')",
            name=op.f("ck_automod_rules_action"),
        ),
        sa.CheckConstraint(
            "kind IN ('keyword', 'regex', 'link', 'mentions', 'caps', 'flood', 'new_member',"
            " 'toxicity')",
            name=op.f("ck_automod_rules_kind"),
        ),
        sa.CheckConstraint("severity BETWEEN 1 AND 5", name=op.f("ck_automod_rules_severity")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_automod_rules_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_automod_rules_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automod_rules")),
    )
    with op.batch_alter_table("automod_rules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automod_rules_community", ["community_id", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("automod_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("automod_version")

    with op.batch_alter_table("automod_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_automod_rules_community")

    op.drop_table("automod_rules")
