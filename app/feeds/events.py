"""Players' impressions and clicks: accepted at once (202), written in batches.

Every launcher start posts a few events; one transaction per call would cost the database
a commit per player at a patch release. Accepted events wait in the process (up to a
second, or until a batch is full) and go in with one INSERT that skips duplicates (per
client, item, type and day) on both databases. An API process that dies loses at most the
last second of events; a player's count is an estimate anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.dialects import postgresql, sqlite

from app.core.db import Database, new_id, utcnow
from app.core.errors import ValidationFailed
from app.feeds.models import FeedEvent
from app.feeds.schemas import FeedEventsIn
from app.feeds.service import Snapshot

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
                        "loc": ["body", "events", index, "at"],
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
                at.date(),
                min(at, now),
            )
        )
    return accepted, ignored


class EventWriter:
    """Collects accepted events and writes them in batches, in the background."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[tuple[object, ...], PendingEvent] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feed-event-writer")

    def add(self, events: list[PendingEvent]) -> None:
        if len(self._pending) + len(events) > MAX_PENDING:
            log.warning("feed_events_dropped", count=len(events))
            return
        for event in events:
            self._pending.setdefault(event.key, event)
        if len(self._pending) >= BATCH:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("feed_events_write_failed")

    async def flush(self) -> int:
        """Write what is pending now; returns how many events were written or known."""
        async with self._lock:
            written = 0
            while self._pending:
                keys = list(self._pending)[:BATCH]
                batch = [self._pending.pop(key) for key in keys]
                await self._insert(batch)
                written += len(batch)
            return written

    async def _insert(self, batch: list[PendingEvent]) -> None:
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
                "created_at": utcnow(),
            }
            for e in batch
        ]
        async with self.db.session() as session:
            dialect = session.bind.dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = insert(FeedEvent).values(rows).on_conflict_do_nothing()
            await session.execute(stmt)
            await session.commit()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        except Exception:
            log.exception("feed_events_write_failed")
