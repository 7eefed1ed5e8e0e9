"""Content written once and delivered to many channels, and one delivery row per channel."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, new_id, utcnow

CONTENT_KINDS = ("announcement", "patch_notes", "event", "maintenance", "incident", "highlight")
CONTENT_STATUSES = (
    "draft",
    "in_review",
    "approved",
    "scheduled",
    "publishing",
    "published",
    "partially_published",
    "failed",
    "cancelled",
    "retracted",
)
DELIVERY_STATUSES = ("pending", "sending", "delivered", "failed", "retracted", "skipped")
# What a delivery row's next job does: send it, edit what was sent, or take it down.
DELIVERY_ACTIONS = ("send", "update", "retract")


class ContentItem(Base):
    __tablename__ = "content_items"
    __table_args__ = (
        CheckConstraint(f"kind IN {CONTENT_KINDS}", name="kind"),
        CheckConstraint(f"status IN {CONTENT_STATUSES}", name="status"),
        Index("ix_content_items_list", "community_id", "created_at", "id"),
        Index("ix_content_items_calendar", "community_id", "publish_at"),
        # The series job's question: which scheduled items recur?
        Index("ix_content_items_series", "recurring", "status"),
        # One copy per occurrence of a series, however often the job runs.
        UniqueConstraint("series_id", "publish_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="draft")
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(35))
    translations: Mapped[dict[str, Any]]
    # Channel ids as strings, in the order the author gave; `content_channels` indexes them.
    channel_ids: Mapped[list[str]] = mapped_column(JSONType)
    variants: Mapped[dict[str, Any]]
    asset_ids: Mapped[list[str]] = mapped_column(JSONType)
    tags: Mapped[list[str]] = mapped_column(JSONType)
    fields: Mapped[dict[str, Any]]
    feed: Mapped[dict[str, Any]]
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Whether `recurrence` is set: a JSON column's null is not indexable alike everywhere.
    recurring: Mapped[bool] = mapped_column(default=False)
    # An occurrence of a recurring item is its own content, linked to the series it came from.
    series_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("content_items.id", ondelete="SET NULL"), index=True
    )
    publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    retracted_at: Mapped[datetime | None]
    retract_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentChannel(Base):
    """Which channels an item goes to, as rows: `?channel_id=` is then an indexed join on
    both databases, and deleting a channel drops it from every item."""

    __tablename__ = "content_channels"

    content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Delivery(Base):
    """One (content, channel) pair: the outbox row the delivery jobs work from."""

    __tablename__ = "content_deliveries"
    __table_args__ = (
        UniqueConstraint("content_id", "channel_id"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        CheckConstraint(f"action IN {DELIVERY_ACTIONS}", name="action"),
        # The sweep's question: which rows have work due (or a lease that ran out)?
        Index("ix_content_deliveries_due", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE")
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    channel_kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The work waiting on this row, if any, and when it is due: None when nothing is.
    action: Mapped[str | None] = mapped_column(String(16))
    next_attempt_at: Mapped[datetime | None]
    # Set while a job sends; a crashed worker's lease runs out and the sweep takes the row.
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # Attempts at the current action (sends count in `attempts` too); drives the retry delay.
    action_attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200))
    retract_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentAsset(Base):
    """Which assets an item uses (its `asset_ids` and feed image), as rows: an asset in use
    by published content is found with one indexed query."""

    __tablename__ = "content_assets"

    content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Asset(Base):
    """An uploaded file. The bytes live in the database (every API replica serves them) or,
    with HEARTH_ASSET_DIR, in a directory shared by the replicas (`stored_path`)."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("community_id", "sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None]
    height: Mapped[int | None]
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    stored_path: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
