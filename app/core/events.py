"""Domain events, written as outbox rows inside the caller's transaction.

`emit()` adds one `outbox_events` row to the session and asks for `dispatch_event` after the
commit. If that job is lost (Redis restart, worker killed), the webhooks sweep finds the row
still undispatched and dispatches it: nothing a domain emits is lost once it is committed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, cast, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core import jobs
from app.core.db import Base, new_id, utcnow

DISPATCH_JOB = "dispatch_event"

# The event catalogue: every type a webhook can subscribe to. Later domains add theirs here.
EVENT_TYPES: dict[str, str] = {
    "community.created": "A community was created.",
    "community.updated": "A community's name, description, locales or tone changed.",
    "community.deleted": "A community and its channels were deleted.",
    "channel.created": "A channel was added to a community.",
    "channel.updated": "A channel's name, configuration or state changed.",
    "channel.deleted": "A channel was deleted.",
    "member.joined": "A member used the community for the first time.",
    "member.erased": "A member's personal data was erased; their posts remain, unattributed.",
    "thread.created": "A thread was started (its opening post also sends post.created).",
    "thread.updated": "A thread was renamed, pinned, locked or moved.",
    "post.created": "A post was written in a thread.",
    "post.edited": "A post's text was changed by its author or a moderator.",
    "post.deleted": "A post was removed (soft delete: it stays for moderators).",
    "post.accepted": "A post was marked as the answer of its question thread.",
}

# Not subscribable: sent only by `POST /v1/webhooks/{id}/ping`.
PING = "ping"


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_undispatched", "dispatched_at", "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]

    def envelope(self) -> dict[str, Any]:
        """The body receivers get: `{type, timestamp, data}`."""
        return {
            "type": self.type,
            "timestamp": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }

    @property
    def message_id(self) -> str:
        return f"msg_{self.id.hex}"


def emit(session: AsyncSession, org_id: uuid.UUID, type: str, data: dict[str, Any]) -> OutboxEvent:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; add it to EVENT_TYPES")
    event = OutboxEvent(id=new_id(), org_id=org_id, type=type, data=data, occurred_at=utcnow())
    session.add(event)
    jobs.defer(session, DISPATCH_JOB, str(event.id), job_id=f"{DISPATCH_JOB}:{event.id}")
    return event


async def claim(session: AsyncSession, event_id: uuid.UUID) -> OutboxEvent | None:
    """Mark one event dispatched; None if another run got there first.

    The conditional UPDATE is the lock: on PostgreSQL a concurrent claimer waits for this
    transaction and then matches nothing; on SQLite writers are serialised.
    """
    claimed = await session.scalars(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.dispatched_at.is_(None))
        .values(dispatched_at=utcnow())
        .returning(OutboxEvent),  # claim and read in one round trip
        execution_options={"synchronize_session": False},
    )
    return claimed.one_or_none()


async def undispatched(
    session: AsyncSession, *, older_than: timedelta, limit: int
) -> list[uuid.UUID]:
    cutoff = utcnow() - older_than
    rows = await session.scalars(
        select(OutboxEvent.id)
        .where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.occurred_at <= cutoff)
        .order_by(OutboxEvent.occurred_at)
        .limit(limit)
    )
    return list(rows)


async def redact_mentions(session: AsyncSession, org_id: uuid.UUID, needle: str) -> int:
    """Replace the data of the org's events whose data mentions `needle` (e.g. an erased
    member's id) with a marker; the event's type and time stay. Returns how many."""
    text = cast(OutboxEvent.data, Text)
    result = await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.org_id == org_id, text.contains(needle, autoescape=True))
        .values(data={"redacted": True, "reason": "personal data erased"})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
