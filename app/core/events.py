"""Domain events, written as outbox rows inside the caller's transaction.

`emit()` writes one `outbox_events` row in the caller's transaction and asks for
`dispatch_events` after the commit. That job claims every undispatched row in batches; the
in-process runner coalesces the requests of a burst of writes into one run, and on arq the
surplus runs find nothing left to claim. If the job is lost (Redis restart, worker killed),
the webhooks sweep finds rows still undispatched and asks again: nothing a domain emits is
lost once it is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, cast, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core import jobs
from app.core.db import Base, new_id, utcnow

DISPATCH_JOB = "dispatch_events"

# The event catalogue: every type a webhook can subscribe to. Later domains add theirs here.
EVENT_TYPES: dict[str, str] = {
    "community.created": "A community was created.",
    "community.updated": "A community's name, description, locales or tone changed.",
    "community.deleted": "A community and its channels were deleted.",
    "community.paused": "Deliveries of a community were paused (crisis pause).",
    "community.resumed": "Deliveries of a paused community resumed.",
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
    "content.created": "A content item was drafted.",
    "content.updated": "A content item was edited.",
    "content.deleted": "A content item that had not been published was deleted.",
    "content.submitted": "A draft was submitted for review.",
    "content.approved": "Content was approved for publishing.",
    "content.rejected": "Content was sent back to draft, with a note.",
    "content.scheduled": "Content was scheduled to publish at a given time.",
    "content.published": "Content went out: to every channel, or to some (see `status`).",
    "content.failed": "Content could not be delivered to any channel.",
    "content.retracted": "Published content was taken down everywhere it went.",
    "delivery.failed": "A delivery of content to one channel failed for good.",
    "automod.matched": "Automod rules matched a post or thread (or blocked one): which"
    " rules, what matched, the decision.",
    "report.created": "A post, thread or member was reported (its review item included).",
    "review.decided": "A moderator decided a review item (with the member's notice when"
    " asked to notify).",
    "sanction.created": "A member was warned, muted, suspended or banned (with the member's"
    " notice when `notify` was set).",
    "sanction.lifted": "A moderator lifted a sanction before its end (or an appeal did).",
    "sanction.expired": "A sanction reached its end.",
    "strike.added": "A strike was added to a member (the ladder may have sanctioned them).",
    "appeal.created": "A sanctioned member appealed.",
    "appeal.decided": "A moderator upheld or overturned an appeal (with the member's notice"
    " when `notify` was set).",
    "member.status_changed": "A member's status (active, muted, suspended, banned) changed.",
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


INSERT = insert(OutboxEvent.__table__)  # built once: emit() is on every write's hot path


async def emit(session: AsyncSession, org_id: uuid.UUID, type: str, data: dict[str, Any]) -> None:
    """Record an event in the caller's transaction; it is dispatched after the commit."""
    await session.execute(INSERT, event_row(org_id, type, data))
    dispatch_after_commit(session)


async def emit_all(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Record several events (from `event_row`) in one statement."""
    if rows:
        await session.execute(INSERT, rows)
        dispatch_after_commit(session)


def event_row(org_id: uuid.UUID, type: str, data: dict[str, Any]) -> dict[str, Any]:
    """An outbox row's columns, for `emit` or a statement that writes it with other rows."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; add it to EVENT_TYPES")
    return {
        "id": new_id(),
        "org_id": org_id,
        "type": type,
        "data": data,
        "occurred_at": utcnow(),
        "dispatched_at": None,
    }


def dispatch_after_commit(session: AsyncSession) -> None:
    # No job id: on arq a queued or running job with the same id refuses the enqueue, and a
    # running dispatcher may already have looked. A surplus run finds nothing to claim.
    jobs.defer(session, DISPATCH_JOB)


@dataclass(frozen=True)
class ClaimedEvent:
    """An event taken for dispatch, without its data: most events have no subscriber, and
    their data is never read (see `load_data`)."""

    id: uuid.UUID
    org_id: uuid.UUID
    type: str
    occurred_at: datetime

    @property
    def message_id(self) -> str:
        return f"msg_{self.id.hex}"

    def envelope(self, data: dict[str, Any]) -> dict[str, Any]:
        """The body receivers get: `{type, timestamp, data}`."""
        return {
            "type": self.type,
            "timestamp": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": data,
        }


_outbox = OutboxEvent.__table__.c


async def claim_batch(session: AsyncSession, limit: int) -> list[ClaimedEvent]:
    """Mark up to `limit` undispatched events dispatched and return them, oldest first.

    On PostgreSQL, rows another dispatcher is claiming are skipped (SKIP LOCKED), so
    concurrent runs take disjoint batches; the outer `dispatched_at IS NULL` keeps a row
    from being claimed twice whatever the isolation. SQLite serialises writers.
    """
    due = (
        select(_outbox.id)
        .where(_outbox.dispatched_at.is_(None))
        .order_by(_outbox.occurred_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.execute(
        update(OutboxEvent.__table__)
        .where(_outbox.id.in_(due.scalar_subquery()), _outbox.dispatched_at.is_(None))
        .values(dispatched_at=utcnow())
        # claim and read in one round trip
        .returning(_outbox.id, _outbox.org_id, _outbox.type, _outbox.occurred_at)
    )
    batch = [ClaimedEvent(*row) for row in claimed]
    return sorted(batch, key=lambda event: (event.occurred_at, event.id.hex))


async def load_data(
    session: AsyncSession, batch: Sequence[ClaimedEvent]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The data of claimed events, by id."""
    if not batch:
        return {}
    rows = await session.execute(
        select(_outbox.id, _outbox.data).where(_outbox.id.in_([event.id for event in batch]))
    )
    return {event_id: data for event_id, data in rows}


async def any_undispatched(session: AsyncSession, *, older_than: timedelta) -> bool:
    cutoff = utcnow() - older_than
    found = await session.scalar(
        select(OutboxEvent.id)
        .where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.occurred_at <= cutoff)
        .limit(1)
    )
    return found is not None


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
