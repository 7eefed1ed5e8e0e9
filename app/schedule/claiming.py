"""Claiming due delivery rows, a batch at a time, in one short transaction.

A job fires for one row; it claims that row first (`claim_row`), then drains other due rows
in batches of up to `HEARTH_DELIVERY_BATCH` (`claim_batch`, see `engine`): a fan-out to
thousands of rows costs a transaction per batch, not per row. Rows and their contents are
locked with SKIP LOCKED, so claimers running at once take disjoint batches, and a row the
claim could not lock stays due for the next batch, job or sweep. The one wait is for the
content of the job's own row, taken while nothing else is held, as the API's transitions
take it before the content's rows: no cycle of waits can form with a transition or a
recorder (contents in id order, then rows).

The conditional UPDATE is the claim itself: it moves the lease forward only where the row
is still claimable, and the lease it sets is the claim's token (see `engine`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import Channel, Community
from app.communities.platforms import ChannelKind
from app.core.db import utcnow
from app.core.errors import AppError
from app.core.runtime import Runtime
from app.schedule import connectors, planning, recording
from app.schedule.content import event_payload
from app.schedule.models import ContentItem, Delivery
from app.schedule.recording import ItemState, RowState
from app.schedule.render import ChannelRef, render

_paused = exists().where(Community.id == Delivery.community_id, Community.paused_at.is_not(None))


def claimable(due_by: datetime, *, leases_at: datetime | None = None) -> tuple[Any, ...]:
    """Rows with an action due by `due_by`, not leased (or whose lease ran out by
    `leases_at`, default `due_by`), in a community that is not paused."""
    leases_at = leases_at or due_by
    return (
        Delivery.action.is_not(None),
        Delivery.next_attempt_at <= due_by,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < leases_at),
        ~_paused,
    )


@dataclass(frozen=True)
class Claimed:
    """One claimed row whose action goes out over HTTP."""

    task: connectors.Task
    # The lease this claim set: its token. A later claim, or a follow-up that restarts the
    # row (a retract after an edit), sets another or none, and this claim's outcome is stale.
    lease: datetime
    channel_id: uuid.UUID
    item: ItemState  # the row's content as claimed, with its JSON form


@dataclass
class Batch:
    """What one claim took: rows to send, and what was settled inside the claim."""

    outbound: list[Claimed] = field(default_factory=list)
    settled: dict[str, int] = field(default_factory=dict)  # outcome -> rows
    # Row -> the id of the job queued for it at its due time (if that job is still queued).
    jobs: dict[uuid.UUID, str] = field(default_factory=dict)
    # Whether more rows may be due: the claim found as many as it looked for.
    more: bool = False

    def count(self, outcome: str) -> None:
        self.settled[outcome] = self.settled.get(outcome, 0) + 1

    def __bool__(self) -> bool:
        return bool(self.outbound or self.settled)


async def claim_row(runtime: Runtime, delivery_id: uuid.UUID) -> Batch:
    """Claim this row alone, if it is claimable: a job's own row, whose send then starts at
    once. Found by its id, not among every due row."""
    return await _claim(runtime, delivery_id, 1)


async def claim_batch(runtime: Runtime, size: int) -> Batch:
    """Claim up to `size` due rows, the longest due first."""
    return await _claim(runtime, None, size)


async def _claim(runtime: Runtime, only: uuid.UUID | None, size: int) -> Batch:
    """Forum and feed actions are done here, in the claim's transaction, so they happen
    exactly once; skipped and refused rows are recorded here too. Returns the rows left to
    send over HTTP."""
    now = utcnow()
    batch = Batch()
    async with runtime.unit_of_work() as session:
        if only is not None:
            await _lock_content_of(session, only)
        candidates = (
            await session.execute(
                select(Delivery.id, Delivery.content_id)
                .where(*claimable(now), *([Delivery.id == only] if only else []))
                .order_by(Delivery.next_attempt_at)
                .limit(size)
                .with_for_update(skip_locked=True, of=Delivery)
            )
        ).all()
        if not candidates:
            return batch
        batch.more = len(candidates) == size
        items = {
            item.id: item
            for item in await session.scalars(
                select(ContentItem)
                .where(ContentItem.id.in_({content_id for _, content_id in candidates}))
                .order_by(ContentItem.id)
                .with_for_update(skip_locked=True)
            )
        }
        # Read as plain values: an item's first send moves it to `publishing` with one
        # statement for the batch (below), not a flush per item.
        for item in items.values():
            session.expunge(item)
        lease = now + timedelta(seconds=runtime.settings.lease_seconds)
        # The claim, returning the claimed rows themselves (no second read).
        rows = [
            RowState(*row)
            for row in await session.execute(
                update(recording.DELIVERIES)
                .where(
                    Delivery.id.in_([d for d, content_id in candidates if content_id in items]),
                    *claimable(now),
                )
                .values(
                    lease_until=lease,
                    action_attempts=Delivery.action_attempts + 1,
                    attempts=Delivery.attempts + case((Delivery.action == "send", 1), else_=0),
                    status=case((Delivery.action == "send", "sending"), else_=Delivery.status),
                )
                .returning(*recording.COLUMNS)
            )
        ]
        if not rows:
            return batch
        rows.sort(key=lambda row: (row.next_attempt_at, row.id))
        channels = {
            channel.id: channel
            for channel in await session.scalars(
                select(Channel).where(Channel.id.in_({row.channel_id for row in rows}))
            )
        }
        # The item's state and JSON form (which webhooks carry): once per item of the batch.
        states: dict[uuid.UUID, ItemState] = {}
        starting: list[uuid.UUID] = []
        changed: list[RowState] = []
        recorded: dict[uuid.UUID, ItemState] = {}
        for row in rows:
            assert row.next_attempt_at is not None  # claimable rows have one
            batch.jobs[row.id] = planning.job_id(row.id, row.next_attempt_at)
            item = items[row.content_id]
            if row.action == "send" and item.status not in ("scheduled", "publishing"):
                # Cancelled, retracted or sent back to draft after this row was due.
                row.status, row.action, row.next_attempt_at = "skipped", None, None
                row.lease_until, row.updated_at = None, now
                changed.append(row)
                batch.count("skipped")
                continue
            if row.action == "send" and item.status == "scheduled":
                item.status = "publishing"
                starting.append(item.id)
                states.pop(item.id, None)
            if item.id not in states:
                states[item.id] = ItemState.of(item, event_payload(item))
            state = states[item.id]
            assert state.payload is not None  # the claim's own, just made
            channel = channels[row.channel_id]
            task = connectors.Task(
                delivery_id=row.id,
                action=row.action,  # type: ignore[arg-type]
                kind=ChannelKind(channel.kind),
                config=channel.config,
                rendered=render(item, state.payload, ChannelRef.of(channel), row.action or "send"),
                external_id=row.external_id,
                content_version=item.version,
            )
            if not channel.enabled and row.action == "send":
                error = f"The channel “{channel.name}” is disabled; enable it and retry."
                result = connectors.Result("failed", error=error)
            elif task.kind not in connectors.OUTBOUND:
                result = await _internal(session, runtime, task, item)
            else:
                batch.outbound.append(Claimed(task, lease, channel.id, state))
                continue
            batch.count(await recording.apply(session, runtime, row, state, result))
            changed.append(row)
            recorded[item.id] = state
        if starting:
            await session.execute(
                update(ContentItem.__table__)
                .where(ContentItem.id.in_(starting))
                .values(status="publishing")
            )
        await recording.write(session, changed)
        await recording.settle(session, list(recorded.values()))
    return batch


async def _lock_content_of(session: AsyncSession, delivery_id: uuid.UUID) -> None:
    """Wait for the lock on the row's content, holding nothing else yet (as the API's
    transitions take it, before the content's rows): the job's own row is then never
    skipped because a transition or a recorder held its content a moment. Other rows'
    contents are only taken when free."""
    content_id = await session.scalar(select(Delivery.content_id).where(Delivery.id == delivery_id))
    if content_id is not None:
        await session.execute(
            select(ContentItem.id).where(ContentItem.id == content_id).with_for_update()
        )


async def _internal(
    session: AsyncSession, runtime: Runtime, task: connectors.Task, item: ContentItem
) -> connectors.Result:
    """The forum or feed change, in a savepoint: a refusal (the category was deleted) fails
    the delivery and leaves nothing half-written."""
    community = await session.get_one(Community, item.community_id)
    author = connectors.staff_author(
        item.org_id, item.approved_by or item.created_by, f"{community.name} team"
    )
    try:
        async with session.begin_nested():
            return await connectors.apply_internal(
                session, task, item.community_id, author, runtime
            )
    except AppError as exc:
        return connectors.Result("failed", error=exc.detail)
    except ValidationError as exc:  # the forum's own limits, should checks have missed one
        return connectors.Result("failed", error=f"The forum refused the post: {exc}")
