"""The delivery engine: claim a due row, perform its action, record the outcome, settle the
content's status, and sweep for rows whose job was lost.

An attempt claims its row with a lease in one short transaction, sends outside any
transaction, then records the outcome. A worker that dies mid-send leaves a lease that runs
out; the sweep then queues the row again, and the send carries the same idempotency key
(`webhook-id`). A delivered row has no action left, so it is never sent again. Hearth's own
surfaces (forum, launcher feed) are changed inside the claiming transaction: exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from limits import RateLimitItemPerSecond
from pydantic import ValidationError
from sqlalchemy import case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import Channel, Community
from app.communities.platforms import PROFILES, ChannelKind
from app.core import events, jobs, outbound
from app.core.db import utcnow
from app.core.errors import AppError
from app.core.runtime import Runtime
from app.schedule import connectors, planning
from app.schedule.content import event_payload, to_out
from app.schedule.models import ContentItem, Delivery
from app.schedule.render import ChannelRef, render

log = structlog.get_logger("hearth.schedule")

SWEEP_BATCH = 500
# A job that fires a moment before its row is due (clocks of API and worker differ
# slightly) waits for it rather than leaving it to the next sweep.
EARLY_WAIT_LIMIT = 2.0

_paused = exists().where(Community.id == Delivery.community_id, Community.paused_at.is_not(None))


def _claimable(now: datetime) -> Any:
    return (
        Delivery.action.is_not(None),
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        ~_paused,
    )


@dataclass(frozen=True)
class Claimed:
    task: connectors.Task
    # The lease this claim set: its token. A later claim, or a follow-up that restarts the
    # row (a retract after an edit), sets another or none, and this claim's outcome is stale.
    lease: datetime
    channel_id: uuid.UUID


async def attempt(runtime: Runtime, delivery_id: uuid.UUID) -> str:
    """Perform the row's due action if it is due and unclaimed. Returns what happened."""
    claimed = await _claim(runtime, delivery_id)
    if claimed is None:
        wait = await _early_by(runtime, delivery_id)
        if wait is None:
            return "not due"
        await asyncio.sleep(wait)
        claimed = await _claim(runtime, delivery_id)
        if claimed is None:
            return "not due"
    if isinstance(claimed, str):
        return claimed
    wait = await _pace(runtime, claimed)
    if wait:
        await _release(runtime, claimed, wait)
        return "paced"
    result = await connectors.perform(runtime, claimed.task)
    return await _record(runtime, claimed, result)


async def _early_by(runtime: Runtime, delivery_id: uuid.UUID) -> float | None:
    async with runtime.read_session() as session:
        due = await session.scalar(
            select(Delivery.next_attempt_at).where(
                Delivery.id == delivery_id, Delivery.action.is_not(None)
            )
        )
    if due is None:
        return None
    wait = (due - utcnow()).total_seconds()
    return wait if 0 < wait <= EARLY_WAIT_LIMIT else None


async def _claim(runtime: Runtime, delivery_id: uuid.UUID) -> Claimed | str | None:
    now = utcnow()
    async with runtime.unit_of_work() as session:
        item = await _lock_content_of(session, delivery_id)
        if item is None:
            return None
        # The conditional UPDATE is the claim: only one worker moves the lease forward.
        lease = now + timedelta(seconds=runtime.settings.lease_seconds)
        claimed = await session.scalar(
            update(Delivery)
            .where(Delivery.id == delivery_id, *_claimable(now))
            .values(
                lease_until=lease,
                action_attempts=Delivery.action_attempts + 1,
                attempts=Delivery.attempts + case((Delivery.action == "send", 1), else_=0),
                status=case((Delivery.action == "send", "sending"), else_=Delivery.status),
            )
            .returning(Delivery.action_attempts)
            .execution_options(synchronize_session=False)
        )
        if claimed is None:
            return None
        row = await session.get_one(Delivery, delivery_id, populate_existing=True)
        channel = await session.get_one(Channel, row.channel_id)
        if row.action == "send" and item.status not in ("scheduled", "publishing"):
            # Cancelled, retracted or sent back to draft after this job was queued.
            row.status, row.action, row.next_attempt_at, row.lease_until = (
                "skipped",
                None,
                None,
                None,
            )
            return "skipped"
        if row.action == "send" and item.status == "scheduled":
            item.status = "publishing"
        task = connectors.Task(
            delivery_id=row.id,
            action=row.action,  # type: ignore[arg-type]
            kind=ChannelKind(channel.kind),
            config=channel.config,
            rendered=render(item, to_out(item), _ref(channel), row.action or "send"),
            external_id=row.external_id,
            content_version=item.version,
        )
        if not channel.enabled and row.action == "send":
            error = f"The channel “{channel.name}” is disabled; enable it and retry."
            await _apply(session, runtime, row, item, connectors.Result("failed", error=error))
            return "failed"
        if task.kind not in connectors.OUTBOUND:
            result = await _internal(session, runtime, task, item)
            return await _apply(session, runtime, row, item, result)
        return Claimed(task, lease, channel.id)


async def _lock_content_of(session: AsyncSession, delivery_id: uuid.UUID) -> ContentItem | None:
    """Lock the delivery's content first, as the API's transitions do (content, then its
    rows), so a claim and a retract never wait on each other in opposite orders. Holding it
    also lets exactly one recorder see the item's last row settle."""
    content_id = await session.scalar(select(Delivery.content_id).where(Delivery.id == delivery_id))
    if content_id is None:
        return None
    return await session.get(ContentItem, content_id, with_for_update=True)


def _ref(channel: Channel) -> ChannelRef:
    return ChannelRef.of(channel)


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
                session, task, item.community_id, author, runtime.limiter
            )
    except AppError as exc:
        return connectors.Result("failed", error=exc.detail)
    except ValidationError as exc:  # the forum's own limits, should checks have missed one
        return connectors.Result("failed", error=f"The forum refused the post: {exc}")


async def _pace(runtime: Runtime, claimed: Claimed) -> float:
    """Seconds to wait before this channel may be sent to again (its platform's rate)."""
    rate = PROFILES[claimed.task.kind].rate
    if rate is None:
        return 0.0
    limit = RateLimitItemPerSecond(rate.requests, rate.per_seconds)
    return await runtime.limiter.acquire(limit, "channel", str(claimed.channel_id))


async def _release(runtime: Runtime, claimed: Claimed, wait: float) -> None:
    """Give the claim back without counting an attempt, due again once the channel has room."""
    now = utcnow()
    due = now + timedelta(seconds=wait)
    async with runtime.unit_of_work() as session:
        released = await session.scalar(
            update(Delivery)
            .where(
                Delivery.id == claimed.task.delivery_id,
                Delivery.lease_until == claimed.lease,
            )
            .values(
                lease_until=None,
                next_attempt_at=due,
                action_attempts=Delivery.action_attempts - 1,
                attempts=Delivery.attempts - case((Delivery.action == "send", 1), else_=0),
                status=case((Delivery.action == "send", "pending"), else_=Delivery.status),
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        if released is not None:
            request = planning.request_for(released, due, now)
            if request is not None:
                jobs.defer(
                    session,
                    request.name,
                    *request.args,
                    job_id=request.job_id,
                    defer_by=request.defer_by,
                )


async def _record(runtime: Runtime, claimed: Claimed, result: connectors.Result) -> str:
    async with runtime.unit_of_work() as session:
        item = await _lock_content_of(session, claimed.task.delivery_id)
        row = await session.get(Delivery, claimed.task.delivery_id, with_for_update=True)
        if item is None or row is None:
            return "gone"  # the content or channel was deleted while we were sending
        if row.lease_until != claimed.lease:
            return "stale"  # our lease ran out and another attempt took over, or the row
            # was given other work meanwhile (a retract after an edit)
        return await _apply(session, runtime, row, item, result)


async def _apply(
    session: AsyncSession,
    runtime: Runtime,
    row: Delivery,
    item: ContentItem,
    result: connectors.Result,
) -> str:
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
    planning.enqueue(session, row, now)
    if action == "send":
        await settle(session, item, now)
    return outcome


def _done(row: Delivery, item: ContentItem, result: connectors.Result, now: datetime) -> None:
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
    session: AsyncSession, row: Delivery, item: ContentItem, result: connectors.Result
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


async def settle(session: AsyncSession, item: ContentItem, now: datetime) -> None:
    """Once no row of a publishing item waits, its status follows its rows: published,
    partially published or failed (and the matching event goes out, once)."""
    if item.status != "publishing":
        return
    await session.flush()
    counts: dict[str, int] = dict(
        (
            await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.content_id == item.id)
                .group_by(Delivery.status)
            )
        ).all()  # type: ignore[arg-type]
    )
    if counts.get("pending") or counts.get("sending"):
        return
    delivered = counts.get("delivered", 0) + counts.get("retracted", 0)
    failed = counts.get("failed", 0)
    if delivered and not failed:
        item.status = "published"
    elif delivered:
        item.status = "partially_published"
    else:
        item.status = "failed"
    if delivered:
        item.published_at = item.published_at or now
    payload = {**event_payload(item), "deliveries": {"delivered": delivered, "failed": failed}}
    kind = "content.failed" if item.status == "failed" else "content.published"
    await events.emit(session, item.org_id, kind, payload)


async def sweep(runtime: Runtime) -> int:
    """Queue the rows due within the horizon whose job may be lost (Redis restarted, a worker
    killed), and rows whose lease ran out. Returns how many were queued."""
    now = utcnow()
    horizon = now + timedelta(seconds=planning.QUEUE_HORIZON)
    async with runtime.read_session() as session:
        due = (
            await session.execute(
                select(Delivery.id, Delivery.next_attempt_at)
                .where(
                    Delivery.action.is_not(None),
                    Delivery.next_attempt_at <= horizon,
                    or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                    ~_paused,
                )
                .order_by(Delivery.next_attempt_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
    requests = [planning.request_for(delivery_id, at, now) for delivery_id, at in due]
    await jobs.enqueue_all(runtime.jobs, [r for r in requests if r is not None])
    return len(due)
