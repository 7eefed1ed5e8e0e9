"""strikes, appeals and notes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:20:00

`strikes` and the community's `strike_policy` (the ladder), `appeals` (one per sanction),
`member_notes` (staff's notes on a member), and `sanctions.expired_at`, when a sanction's
end was recorded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("author_key_id", sa.Uuid(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_member_notes_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_notes_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_member_notes_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_notes")),
    )
    with op.batch_alter_table("member_notes", schema=None) as batch_op:
        batch_op.create_index("ix_member_notes_member", ["member_id", "created_at"], unique=False)

    op.create_table(
        "strikes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("review_item_id", sa.Uuid(), nullable=True),
        sa.Column("issued_by_type", sa.String(length=16), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("issued_by_name", sa.String(length=200), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "issued_by_type IN ('key', 'automod', 'ladder')", name=op.f("ck_strikes_issued_by_type")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_strikes_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_strikes_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_strikes_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_strikes_review_item_id_review_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strikes")),
    )
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.create_index("ix_strikes_member", ["member_id", "created_at"], unique=False)

    op.create_table(
        "appeals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("sanction_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by_key_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'upheld', 'overturned')", name=op.f("ck_appeals_status")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_appeals_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_appeals_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_appeals_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sanction_id"],
            ["sanctions.id"],
            name=op.f("fk_appeals_sanction_id_sanctions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("sanction_id", name=op.f("uq_appeals_sanction_id")),
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appeals_community", ["community_id", "status", "created_at"], unique=False
        )

    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "strike_policy",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )

    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_sanctions_due",
            ["ends_at"],
            unique=False,
            postgresql_where=sa.text("expired_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.drop_index("ix_sanctions_due", postgresql_where=sa.text("expired_at IS NULL"))
        batch_op.drop_column("expired_at")

    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("strike_policy")

    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index("ix_appeals_community")

    op.drop_table("appeals")
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.drop_index("ix_strikes_member")

    op.drop_table("strikes")
    with op.batch_alter_table("member_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_member_notes_member")

    op.drop_table("member_notes")
