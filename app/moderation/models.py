from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, new_id, utcnow

RULE_KINDS = ("keyword", "regex", "link", "mentions", "caps", "flood", "new_member", "toxicity")
RULE_ACTIONS = ("flag", "hold", "block", "hide", "timeout", "alert")


class AutomodRule(Base):
    __tablename__ = "automod_rules"
    __table_args__ = (
        CheckConstraint(f"kind IN {RULE_KINDS}", name="kind"),
        CheckConstraint(f"action IN {RULE_ACTIONS}", name="action"),
        CheckConstraint("severity BETWEEN 1 AND 5", name="severity"),
        Index("ix_automod_rules_community", "community_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]]
    action: Mapped[str] = mapped_column(String(16))
    action_config: Mapped[dict[str, Any]]
    severity: Mapped[int]
    enabled: Mapped[bool]
    exempt_roles: Mapped[list[str]] = mapped_column(JSONType)
    category_ids: Mapped[list[str]] = mapped_column(JSONType)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


REVIEW_TARGETS = ("post", "thread", "member")
REVIEW_STATUSES = ("open", "resolved")
RESOLUTIONS = ("approve", "hide", "remove", "dismiss")
PRIORITIES = ("low", "medium", "high")
SANCTION_KINDS = ("warn", "mute", "suspend", "ban")
ISSUERS = ("key", "automod", "ladder")


class ReviewItem(Base):
    """One per target, ever: every report and automod match of a post, thread or member
    gathers on it; a new report on a resolved target reopens the same item."""

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint(f"target_type IN {REVIEW_TARGETS}", name="target_type"),
        CheckConstraint(f"status IN {REVIEW_STATUSES}", name="status"),
        CheckConstraint(f"priority IN {PRIORITIES}", name="priority"),
        UniqueConstraint("target_type", "target_id", name="one_per_target"),
        Index("ix_review_items_queue", "community_id", "status", "score", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID]
    # Whose post, thread or self it is (null once erased, or for staff authors).
    author_member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[dict[str, Any]]  # report reason -> count
    report_count: Mapped[int] = mapped_column(default=0)
    # The reports' weights summed: each its reason's weight times its reporter's record.
    report_score: Mapped[float] = mapped_column(default=0.0)
    # Every automod match: {rule_id, name, kind, action, severity, matched, reason, at,
    # toxicity?: {provider, model, version, value, skipped}}.
    automod: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    score: Mapped[float] = mapped_column(default=0.0)
    priority: Mapped[str] = mapped_column(String(8), default="low")
    assignee_key_id: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class Sanction(Base):
    __tablename__ = "sanctions"
    __table_args__ = (
        CheckConstraint(f"kind IN {SANCTION_KINDS}", name="kind"),
        CheckConstraint(f"issued_by_type IN {ISSUERS}", name="issued_by_type"),
        Index("ix_sanctions_member", "member_id", "starts_at"),
        Index("ix_sanctions_community", "community_id", "starts_at", "id"),
        Index("ix_sanctions_due", "ends_at", postgresql_where=text("expired_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]  # null: until lifted (warnings have no duration)
    lifted_at: Mapped[datetime | None]
    lifted_reason: Mapped[str | None] = mapped_column(Text)
    # When its end was recorded (the member's status moved, `sanction.expired` sent).
    expired_at: Mapped[datetime | None]
    issued_by_type: Mapped[str] = mapped_column(String(16))
    issued_by_id: Mapped[uuid.UUID | None]
    issued_by_name: Mapped[str | None] = mapped_column(String(200))
    review_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("review_items.id", ondelete="SET NULL")
    )
    strike_id: Mapped[uuid.UUID | None]
    appeal_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


REPORT_REASONS = (
    "spam",
    "harassment",
    "hate",
    "cheating",
    "scam",
    "personal_info",
    "off_topic",
    "illegal",
    "other",
)
REPORT_OUTCOMES = ("upheld", "dismissed")


class Report(Base):
    """One person's report of a post, thread or member; it weighs on the target's review
    item, and its outcome (the decision) counts toward the reporter's record."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(f"reason IN {REPORT_REASONS}", name="reason"),
        CheckConstraint(f"outcome IN {REPORT_OUTCOMES}", name="outcome"),
        CheckConstraint(
            "(reporter_member_id IS NULL) <> (reporter_key_id IS NULL)", name="one_reporter"
        ),
        UniqueConstraint("target_type", "target_id", "reporter_member_id", name="once_by_member"),
        UniqueConstraint("target_type", "target_id", "reporter_key_id", name="once_by_key"),
        Index("ix_reports_reporter", "reporter_member_id", "outcome"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    review_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID]
    reporter_member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE")
    )
    reporter_key_id: Mapped[uuid.UUID | None]
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[float]
    outcome: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Strike(Base):
    """A mark against a member; counting the live ones applies the community's ladder."""

    __tablename__ = "strikes"
    __table_args__ = (
        CheckConstraint(f"issued_by_type IN {ISSUERS}", name="issued_by_type"),
        Index("ix_strikes_member", "member_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    review_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("review_items.id", ondelete="SET NULL")
    )
    issued_by_type: Mapped[str] = mapped_column(String(16))
    issued_by_id: Mapped[uuid.UUID | None]
    issued_by_name: Mapped[str | None] = mapped_column(String(200))
    voided_at: Mapped[datetime | None]  # an overturned appeal voids it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


APPEAL_STATUSES = ("open", "upheld", "overturned")


class Appeal(Base):
    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint(f"status IN {APPEAL_STATUSES}", name="status"),
        Index("ix_appeals_community", "community_id", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    # One appeal per sanction.
    sanction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sanctions.id", ondelete="CASCADE"), unique=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_key_id: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberNote(Base):
    """Staff's notes on a member: seen by staff only."""

    __tablename__ = "member_notes"
    __table_args__ = (Index("ix_member_notes_member", "member_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    author_key_id: Mapped[uuid.UUID | None]
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
