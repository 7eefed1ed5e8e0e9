"""review queue, reports and sanctions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 19:45:00

`review_items`, one per post, thread or member ever reported or matched by automod;
`reports`, each weighing on its target's item; and `sanctions` (warnings, mutes,
suspensions, bans), which a member's status follows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("author_member_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column(
            "reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("report_score", sa.Double(), nullable=False),
        sa.Column(
            "automod",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("assignee_key_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high')", name=op.f("ck_review_items_priority")
        ),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_review_items_status")),
        sa.CheckConstraint(
            "target_type IN ('post', 'thread', 'member')", name=op.f("ck_review_items_target_type")
        ),
        sa.ForeignKeyConstraint(
            ["author_member_id"],
            ["members.id"],
            name=op.f("fk_review_items_author_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_review_items_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_review_items_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("target_type", "target_id", name="one_per_target"),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_items_author_member_id"), ["author_member_id"], unique=False
        )
        batch_op.create_index(
            "ix_review_items_queue", ["community_id", "status", "score", "created_at"], unique=False
        )

    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("review_item_id", sa.Uuid(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("reporter_member_id", sa.Uuid(), nullable=True),
        sa.Column("reporter_key_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('upheld', 'dismissed')", name=op.f("ck_reports_outcome")),
        sa.CheckConstraint(
            "reason IN ('spam', 'harassment', 'hate', 'cheating', 'scam', 'personal_info',"
            " 'off_topic', 'illegal', 'other')",
            name=op.f("ck_reports_reason"),
        ),
        sa.CheckConstraint(
            "(reporter_member_id IS NULL) <> (reporter_key_id IS NULL)",
            name=op.f("ck_reports_one_reporter"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_reports_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_reports_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_member_id"],
            ["members.id"],
            name=op.f("fk_reports_reporter_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_reports_review_item_id_review_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("target_type", "target_id", "reporter_key_id", name="once_by_key"),
        sa.UniqueConstraint(
            "target_type", "target_id", "reporter_member_id", name="once_by_member"
        ),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reports_reporter", ["reporter_member_id", "outcome"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reports_review_item_id"), ["review_item_id"], unique=False
        )

    op.create_table(
        "sanctions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_reason", sa.Text(), nullable=True),
        sa.Column("issued_by_type", sa.String(length=16), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("issued_by_name", sa.String(length=200), nullable=True),
        sa.Column("review_item_id", sa.Uuid(), nullable=True),
        sa.Column("strike_id", sa.Uuid(), nullable=True),
        sa.Column("appeal_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "issued_by_type IN ('key', 'automod', 'ladder')",
            name=op.f("ck_sanctions_issued_by_type"),
        ),
        sa.CheckConstraint(
            "kind IN ('warn', 'mute', 'suspend', 'ban')", name=op.f("ck_sanctions_kind")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_sanctions_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_sanctions_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_sanctions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_sanctions_review_item_id_review_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions")),
    )
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sanctions_community", ["community_id", "starts_at", "id"], unique=False
        )
        batch_op.create_index("ix_sanctions_member", ["member_id", "starts_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.drop_index("ix_sanctions_member")
        batch_op.drop_index("ix_sanctions_community")

    op.drop_table("sanctions")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_review_item_id"))
        batch_op.drop_index("ix_reports_reporter")

    op.drop_table("reports")
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_queue")
        batch_op.drop_index(batch_op.f("ix_review_items_author_member_id"))

    op.drop_table("review_items")
