"""What an action's outcome does to its delivery row, and the content's status once its rows
have settled: shared by the claim (forum and feed actions, skips) and the recorder (sends).

The engine reads a row as a `RowState` and a content item as an `ItemState` (the columns it
needs, no ORM object), changes them in Python and writes a whole batch back in one statement
(`write`, `settle`), while they are locked by the same transaction: per row, that costs a
fraction of an ORM object's load and flush.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import TypeAdapter
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.communities.platforms import ChannelKind
from app.core import events, outbound
from app.core.db import utcnow
from app.core.runtime import Runtime
from app.schedule import connectors, planning
from app.schedule.content import event_payload
from app.schedule.models import ContentItem, Delivery

log = structlog.get_logger("hearth.schedule")


@dataclass(slots=True)
class RowState:
    """A delivery row as the engine reads and changes it. The first four fields are the
    row's identity; `write` stores the others."""

    id: uuid.UUID
    content_id: uuid.UUID
    channel_id: uuid.UUID
    channel_kind: str
    status: str
    action: str | None
    next_attempt_at: datetime | None
    lease_until: datetime | None
    attempts: int
    action_attempts: int
    last_status_code: int | None
    last_error: str | None
    external_id: str | None
    retract_error: str | None
    delivered_at: datetime | None
    updated_at: datetime


# What to select (or return) to build a RowState: `RowState(*row)`.
COLUMNS = tuple(getattr(Delivery, f.name) for f in fields(RowState))
_CHANGEABLE = [f.name for f in fields(RowState)][4:]
DELIVERIES = Delivery.__table__  # for Core statements on the rows
# Bound names differ from the columns' own: SQLAlchemy keeps those for its own parameters.
_WRITE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("row_id", type_=DELIVERIES.c.id.type))
    .values({name: bindparam(f"new_{name}", type_=DELIVERIES.c[name].type) for name in _CHANGEABLE})
)


@dataclass(slots=True)
class ItemState:
    """A content item as recording reads and changes it: its status decides and is decided.
    `payload` is its JSON form (its events' payload, `event_payload`) as the claim made it,
    carried to the recorder, which keeps it only while status and version are still the
    claim's: a publishing item changes in no other way. None: read it again to settle."""

    id: uuid.UUID
    org_id: uuid.UUID
    status: str
    version: int
    published_at: datetime | None
    payload: dict[str, Any] | None = None

    @classmethod
    def of(cls, item: ContentItem, payload: dict[str, Any] | None) -> ItemState:
        return cls(item.id, item.org_id, item.status, item.version, item.published_at, payload)

    def still(self, claimed: ItemState) -> ItemState:
        """This state, with the claim's payload if the item has not changed since."""
        if (self.status, self.version) == (claimed.status, claimed.version):
            self.payload = claimed.payload
        return self


# What to select to build an ItemState: `ItemState(*row)`.
ITEM_COLUMNS = tuple(getattr(ContentItem, f.name) for f in fields(ItemState)[:-1])
_ITEMS = ContentItem.__table__
_SETTLE = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("item_id", type_=_ITEMS.c.id.type))
    .values(
        status=bindparam("new_status", type_=_ITEMS.c.status.type),
        published_at=bindparam("new_published_at", type_=_ITEMS.c.published_at.type),
    )
)
# How the content's JSON form writes an instant (a settled item's new `published_at`).
_INSTANT = TypeAdapter(datetime | None)


async def write(session: AsyncSession, rows: Sequence[RowState]) -> None:
    """Store the changed state of `rows` (locked by this transaction), in one statement."""
    if not rows:
        return
    params: list[dict[str, Any]] = [
        {"row_id": row.id, **{f"new_{name}": getattr(row, name) for name in _CHANGEABLE}}
        for row in rows
    ]
    await session.execute(_WRITE, params)


async def apply(
    session: AsyncSession,
    runtime: Runtime,
    row: RowState,
    item: ItemState,
    result: connectors.Result,
) -> str:
    """Record one action's result on its row (the caller writes the row and settles the
    content after)."""
    now = utcnow()
    action = row.action
    row.lease_until, row.updated_at = None, now
    row.last_status_code = result.status_code
    outcome = result.outcome
    delay = None
    if outcome == "retry":
        schedule = runtime.settings.delivery_retry_schedule
        delay = outbound.retry_delay(schedule, row.action_attempts, result.retry_after)
        if delay is None:
            outcome = "failed"
    if outcome == "done":
        _done(row, item, result, now)
    elif outcome == "failed":
        await _failed(session, row, item, result)
    else:
        row.last_error = result.error
        row.next_attempt_at = now + timedelta(seconds=delay or 0)
        if action == "send":
            row.status = "pending"
        log.warning(
            "content_delivery_retry",
            delivery_id=str(row.id),
            action=action,
            attempt=row.action_attempts,
            error=result.error,
            next_attempt_at=row.next_attempt_at.isoformat(),
        )
    if outcome == "done" and row.channel_kind == ChannelKind.launcher_feed:
        await communities.touch_feeds(session, channel_ids=[row.channel_id])
    planning.enqueue(session, row.id, row.next_attempt_at, now)
    return outcome


def _done(row: RowState, item: ItemState, result: connectors.Result, now: datetime) -> None:
    action = row.action
    row.last_error, row.action, row.next_attempt_at = None, None, None
    if action == "send":
        row.status, row.delivered_at = "delivered", now
        row.external_id = result.external_id
        if item.status == "retracted":
            # Retracted while this was on its way: take it down too.
            planning.start_follow_up(row, "retract", now)
    elif action == "retract":
        row.status, row.retract_error = "retracted", None


async def _failed(
    session: AsyncSession, row: RowState, item: ItemState, result: connectors.Result
) -> None:
    action = row.action
    row.action, row.next_attempt_at = None, None
    if action == "retract":
        row.retract_error = result.error
    else:
        row.last_error = result.error
    if action == "send":
        row.status = "failed"
        await events.emit(
            session,
            item.org_id,
            "delivery.failed",
            {
                "delivery_id": str(row.id),
                "content_id": str(item.id),
                "channel_id": str(row.channel_id),
                "channel_kind": row.channel_kind,
                "attempts": row.attempts,
                "error": result.error,
            },
        )
    log.warning(
        "content_delivery_failed",
        delivery_id=str(row.id),
        action=action,
        status_code=result.status_code,
        error=result.error,
    )


async def settle(session: AsyncSession, items: Iterable[ItemState]) -> None:
    """Once no row of a publishing item waits, its status follows its rows: published,
    partially published or failed (and the matching event goes out, once). One query for
    all the items of a batch, so the batch's rows must be written (`write`) first."""
    publishing = {item.id: item for item in items if item.status == "publishing"}
    if not publishing:
        return
    counts: dict[uuid.UUID, Counter[str]] = {content_id: Counter() for content_id in publishing}
    for content_id, status, n in await session.execute(
        select(Delivery.content_id, Delivery.status, func.count())
        .where(Delivery.content_id.in_(publishing))
        .group_by(Delivery.content_id, Delivery.status)
    ):
        counts[content_id][status] = n
    now = utcnow()
    settled: list[tuple[ItemState, int, int]] = []
    for content_id, item in publishing.items():
        count = counts[content_id]
        if count["pending"] or count["sending"]:
            continue
        delivered = count["delivered"] + count["retracted"]
        failed = count["failed"]
        if delivered and not failed:
            item.status = "published"
        elif delivered:
            item.status = "partially_published"
        else:
            item.status = "failed"
        if delivered:
            item.published_at = item.published_at or now
        settled.append((item, delivered, failed))
    if not settled:
        return
    await session.execute(
        _SETTLE,
        [
            {"item_id": item.id, "new_status": item.status, "new_published_at": item.published_at}
            for item, _, _ in settled
        ],
    )
    # An item changed since its claim is read again, as now written.
    changed = [item.id for item, _, _ in settled if item.payload is None]
    read_again = {}
    if changed:
        for loaded in await session.scalars(
            select(ContentItem)
            .where(ContentItem.id.in_(changed))
            .execution_options(populate_existing=True)
        ):
            read_again[loaded.id] = event_payload(loaded)
    rows = []
    for item, delivered, failed in settled:
        if item.payload is None:
            payload = read_again[item.id]
        else:
            published_at = _INSTANT.dump_python(item.published_at, mode="json")
            payload = {**item.payload, "status": item.status, "published_at": published_at}
        kind = "content.failed" if item.status == "failed" else "content.published"
        data = {**payload, "deliveries": {"delivered": delivered, "failed": failed}}
        rows.append(events.event_row(item.org_id, kind, data))
    await events.emit_all(session, rows)


def give_back(session: AsyncSession, row: RowState, due: datetime, now: datetime) -> None:
    """Undo a claim whose action was not performed: no attempt counted, due at `due`."""
    row.lease_until, row.next_attempt_at, row.updated_at = None, due, now
    row.action_attempts -= 1
    if row.action == "send":
        row.attempts -= 1
        row.status = "pending"
    planning.enqueue(session, row.id, row.next_attempt_at, now)
