"""What players did with a feed's items: one row per client, item, type and day."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, new_id, utcnow

EVENT_TYPES = ("impression", "click")


class FeedEvent(Base):
    __tablename__ = "feed_events"
    __table_args__ = (
        # Deduplication: a launcher restarted ten times a day is one impression that day.
        UniqueConstraint("channel_id", "content_id", "client_id", "type", "day"),
        CheckConstraint(f"type IN {EVENT_TYPES}", name="type"),
        # The KPIs' question: impressions and clicks per item and day.
        Index("ix_feed_events_item_day", "content_id", "day", "type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE")
    )
    client_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
