"""Players' impressions and clicks: accepted at once (202), written in batches.

Every launcher start posts a few events; one transaction per call would cost the database
a commit per player at a patch release. Accepted events wait in the process (up to a
second, or until a batch is full) and go in with one INSERT that skips duplicates (per
client, item, type and day) on both databases. A batch the database refuses stays pending
(up to a backlog bound); a process that stops writes what it holds first, and one that
dies loses at most the last second's.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import Channel
from app.core.db import Database, new_id, utcnow
from app.core.errors import ValidationFailed
from app.core.ratelimit import ip_bucket
from app.core.runtime import Runtime
from app.feeds.cache import FeedCache
from app.feeds.models import FeedEvent
from app.feeds.schemas import FeedEventsIn
from app.feeds.service import Snapshot
from app.schedule.models import ContentItem

log = structlog.get_logger("hearth.feeds")

FLUSH_SECONDS = 1.0
BATCH = 1_000
MAX_PENDING = 50_000  # beyond this, events are dropped (and logged) rather than piled up
PAST = timedelta(hours=48)
FUTURE = timedelta(minutes=5)  # launchers' clocks drift


@dataclass(frozen=True, slots=True)
class PendingEvent:
    org_id: uuid.UUID
    community_id: uuid.UUID
    channel_id: uuid.UUID
    content_id: uuid.UUID
    client_id: str
    type: str
    day: date
    at: datetime

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID, str, str, date]:
        return (self.channel_id, self.content_id, self.client_id, self.type, self.day)


def accept(snapshot: Snapshot, data: FeedEventsIn) -> tuple[list[PendingEvent], int]:
    """The call's events of this feed's items (others are ignored and counted); 422 for an
    `at` outside the last 48 hours."""
    now = utcnow()
    known = {live.id for live in snapshot.items}
    ref = snapshot.ref
    accepted, ignored = [], 0
    for index, event in enumerate(data.events):
        at = event.at or now
        if not now - PAST <= at <= now + FUTURE:
            raise ValidationFailed(
                "Events are accepted up to 48 hours after they happened.",
                errors=[
                    {
                        "loc": ["body", "events", str(index), "at"],
                        "message": "not within the last 48 hours",
                        "type": "value_error",
                    }
                ],
            )
        if event.item_id not in known:
            ignored += 1
            continue
        accepted.append(
            PendingEvent(
                ref.org_id,
                ref.community_id,
                ref.channel_id,
                event.item_id,
                event.client_id,
                event.type,
                at.astimezone(UTC).date(),  # the day in UTC: one count per client a day
                min(at, now),
            )
        )
    return accepted, ignored


async def submit(
    runtime: Runtime,
    cache: FeedCache,
    writer: EventWriter,
    name: str,
    data: FeedEventsIn,
    ip: str | None,
) -> tuple[int, int]:
    """A launcher's events for feed `name`: rate limited per IP address, checked against
    the feed's items, queued for writing. Returns (accepted, ignored)."""
    if ip:
        await runtime.limiter.hit("feed_events", ip_bucket(ip))
    ref = await cache.require(runtime, name)
    accepted, ignored = accept(await cache.snapshot(runtime, ref), data)
    writer.add(accepted)
    return len(accepted), ignored


class EventWriter:
    """Collects accepted events and writes them in batches, in the background."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[tuple[object, ...], PendingEvent] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feed-event-writer")

    def add(self, events: list[PendingEvent]) -> None:
        if len(self._pending) + len(events) > MAX_PENDING:
            log.warning("feed_events_dropped", count=len(events), reason="backlog full")
            return
        for event in events:
            self._pending.setdefault(event.key, event)
        if len(self._pending) >= BATCH:
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                # Kept for the next round (the database may be back by then).
                log.exception("feed_events_write_failed", pending=len(self._pending))

    async def flush(self) -> int:
        """Write what is pending now; returns how many events went to the database. A
        batch that fails stays pending."""
        async with self._lock:
            written = 0
            while self._pending:
                keys = list(self._pending)[:BATCH]
                batch = [self._pending[key] for key in keys]
                written += await self._insert(batch)
                for key in keys:
                    self._pending.pop(key, None)
            return written

    async def _insert(self, batch: list[PendingEvent]) -> int:
        async with self.db.session() as session:
            try:
                await session.execute(_insert_ignoring_repeats(session, batch))
                await session.commit()
                return len(batch)
            except IntegrityError:
                # An item (or feed) deleted since its events were accepted: write the rest.
                await session.rollback()
            items = {e.content_id for e in batch}
            feeds = {e.channel_id for e in batch}
            alive = set(
                await session.scalars(select(ContentItem.id).where(ContentItem.id.in_(items)))
            )
            alive |= set(await session.scalars(select(Channel.id).where(Channel.id.in_(feeds))))
            kept = [e for e in batch if e.content_id in alive and e.channel_id in alive]
            if kept:
                await session.execute(_insert_ignoring_repeats(session, kept))
                await session.commit()
            return len(kept)

    async def close(self) -> None:
        """Stop after writing what is pending (an API process shutting down loses none)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        try:
            await self.flush()
        except Exception:
            log.exception("feed_events_write_failed", lost=len(self._pending))


def _insert_ignoring_repeats(session: AsyncSession, batch: list[PendingEvent]) -> Any:
    """One INSERT of the batch that skips what is stored already (same client, item, type
    and day), on either database."""
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "org_id": e.org_id,
            "community_id": e.community_id,
            "channel_id": e.channel_id,
            "content_id": e.content_id,
            "client_id": e.client_id,
            "type": e.type,
            "day": e.day,
            "at": e.at,
            "created_at": now,
        }
        for e in batch
    ]
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(FeedEvent).values(rows).on_conflict_do_nothing()
