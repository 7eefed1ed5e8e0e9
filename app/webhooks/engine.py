"""The delivery engine: fan events out to endpoints, send, retry, disable, sweep.

A delivery row moves `pending → succeeded | failed`. Each attempt claims the row with a
lease in a short transaction, sends outside any transaction, then records the outcome. A
worker that dies mid-send leaves a lease that runs out; the sweep then sends again with the
same `webhook-id`, so receivers that dedupe see the message once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import events, jobs, metrics, outbound, signing
from app.core.db import new_id, utcnow
from app.core.runtime import Runtime
from app.settings import Settings
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = structlog.get_logger("hearth.webhooks")

DELIVER_JOB = "deliver_webhook"
# Retries further away than this are left to the sweep rather than parked in the queue.
MAX_QUEUED_DELAY = 300.0
SWEEP_BATCH = 500
DISPATCH_BATCH = 200
DISPATCH_GATHER_SECONDS = 0.05


def schedule(session: AsyncSession, delivery: WebhookDelivery, delay: float | None = None) -> None:
    """Ask for an attempt after commit. The job id includes the attempt number, so a job
    still queued for this attempt is not duplicated, and the next attempt is not refused."""
    jobs.defer(
        session,
        DELIVER_JOB,
        str(delivery.id),
        job_id=f"{DELIVER_JOB}:{delivery.id}:{delivery.attempt_count}",
        defer_by=delay,
    )


async def fan_out(session: AsyncSession, batch: Sequence[events.ClaimedEvent]) -> int:
    """One delivery row per enabled endpoint of the event's org subscribed to its type.
    One endpoint query serves the whole batch, and only the events someone hears have their
    data read. Returns how many deliveries were created."""
    if not batch:
        return 0
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.org_id.in_({event.org_id for event in batch}),
            WebhookEndpoint.enabled.is_(True),
        )
    )
    by_org: dict[uuid.UUID, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_org[endpoint.org_id].append(endpoint)
    # An endpoint hears what happens after it is registered, however late the dispatch.
    heard = [
        (event, subscribed)
        for event in batch
        if (
            subscribed := [
                e
                for e in by_org.get(event.org_id, ())
                if e.subscribes_to(event.type) and e.created_at <= event.occurred_at
            ]
        )
    ]
    data = await events.load_data(session, [event for event, _ in heard])
    created = 0
    for event, subscribed in heard:
        body = json.dumps(event.envelope(data[event.id]), separators=(",", ":"), ensure_ascii=False)
        for endpoint in subscribed:
            delivery = WebhookDelivery(
                id=new_id(),
                org_id=event.org_id,
                endpoint_id=endpoint.id,
                event_id=event.id,
                message_id=event.message_id,
                event_type=event.type,
                payload=body,
                attempt_count=0,
                next_attempt_at=utcnow(),
            )
            session.add(delivery)
            schedule(session, delivery)
            created += 1
    return created


@dataclass(frozen=True)
class _Claimed:
    delivery_id: uuid.UUID
    attempt_number: int
    url: str
    secret: str
    message_id: str
    payload: str


async def attempt(runtime: Runtime, delivery_id: uuid.UUID) -> str:
    """Make one attempt if the delivery is due and unclaimed. Returns what happened."""
    claimed = await _claim(runtime, delivery_id)
    if claimed is None:
        return "skipped"
    outcome = await _send(runtime, claimed)
    return await _record(runtime, claimed, outcome)


async def _claim(runtime: Runtime, delivery_id: uuid.UUID) -> _Claimed | None:
    now = utcnow()
    async with runtime.unit_of_work() as session:
        row = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).first()
        if row is None or not row.WebhookEndpoint.enabled:
            return None
        # The conditional UPDATE is the claim: only one worker can move the lease forward.
        attempt_number = await session.scalar(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            )
            .values(
                lease_until=now + timedelta(seconds=runtime.settings.lease_seconds),
                attempt_count=WebhookDelivery.attempt_count + 1,
            )
            .returning(WebhookDelivery.attempt_count)
            .execution_options(synchronize_session=False)
        )
        if attempt_number is None:
            return None
        delivery, endpoint = row.WebhookDelivery, row.WebhookEndpoint
        return _Claimed(
            delivery_id=delivery.id,
            attempt_number=attempt_number,
            url=endpoint.url,
            secret=endpoint.secret,
            message_id=delivery.message_id,
            payload=delivery.payload,
        )


async def _send(runtime: Runtime, claimed: _Claimed) -> outbound.Outcome:
    body = claimed.payload.encode()
    outcome = await outbound.send(
        runtime.outbound_http,
        claimed.url,
        runtime.outbound,
        content=body,
        headers=signing.signed_headers(claimed.secret, claimed.message_id, body),
        timeout=runtime.settings.webhook_timeout_seconds,
    )
    metrics.WEBHOOK_DELIVERIES.labels(outcome=outcome.label).inc()
    return outcome


async def _record(runtime: Runtime, claimed: _Claimed, outcome: outbound.Outcome) -> str:
    now = utcnow()
    settings = runtime.settings
    async with runtime.unit_of_work() as session:
        delivery = await session.get(WebhookDelivery, claimed.delivery_id)
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
        if delivery is None or endpoint is None:
            return "gone"  # the endpoint was deleted while we were sending
        session.add(
            WebhookAttempt(
                delivery_id=claimed.delivery_id,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                response_body=outcome.response_body,
                duration_ms=outcome.duration_ms,
            )
        )
        if delivery.attempt_count != claimed.attempt_number or delivery.status != "pending":
            return "stale"  # our lease ran out and another attempt took over; log only
        delivery.lease_until = None
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error or (
            None if outcome.ok else f"HTTP {outcome.status_code}"
        )
        if outcome.ok:
            _succeeded(delivery, endpoint, now)
            return "succeeded"
        return _failed(session, settings, delivery, endpoint, outcome, now)


def _succeeded(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime) -> None:
    delivery.status = "succeeded"
    delivery.delivered_at = now
    delivery.next_attempt_at = None
    endpoint.failing_since = None
    endpoint.last_success_at = now


def _failed(
    session: AsyncSession,
    settings: Settings,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    outcome: outbound.Outcome,
    now: datetime,
) -> str:
    """Schedule the next attempt or give up; disable an endpoint that is gone or keeps failing."""
    endpoint.failing_since = endpoint.failing_since or now
    failing_for = now - endpoint.failing_since
    if outcome.status_code == 410:
        _disable(endpoint, now, "The receiver answered 410 Gone.")
    elif failing_for >= timedelta(seconds=settings.webhook_disable_after_seconds):
        _disable(
            endpoint,
            now,
            f"Every attempt since {_iso(endpoint.failing_since)} failed; last error:"
            f" {delivery.last_error}.",
        )
    delay = retry_delay(settings, delivery.attempt_count, outcome.retry_after)
    if outcome.status_code == 410:
        delay = None
    delivery.next_attempt_at = None if delay is None else now + timedelta(seconds=delay)
    _log_failure(delivery, endpoint, outcome)
    if delay is None:
        delivery.status = "failed"
        return "failed"
    if delay <= MAX_QUEUED_DELAY and endpoint.enabled:
        schedule(session, delivery, delay)
    return "retry"


def _log_failure(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, outcome: outbound.Outcome
) -> None:
    """One line per failed attempt, for whoever watches the log rather than the delivery log."""
    log.warning(
        "webhook_attempt_failed",
        endpoint_id=str(endpoint.id),
        delivery_id=str(delivery.id),
        attempt=delivery.attempt_count,
        status_code=outcome.status_code,
        error=outcome.error,
        next_attempt_at=_iso(delivery.next_attempt_at) if delivery.next_attempt_at else None,
    )


def retry_delay(settings: Settings, attempts_made: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt on the webhook schedule, or None when it is used up."""
    return outbound.retry_delay(settings.webhook_retry_schedule, attempts_made, retry_after)


def _disable(endpoint: WebhookEndpoint, now: datetime, reason: str) -> None:
    if endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = reason
        log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), reason=reason)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


async def dispatch(runtime: Runtime) -> dict[str, int]:
    """Fan out every undispatched event, a batch per transaction. Each event is fanned out
    exactly once whatever the number of concurrent runs: they claim disjoint batches."""
    # Let the events of a burst of writes gather first, so they are claimed as one batch
    # (one claim, one endpoint query) rather than one run each; receivers wait 50 ms more.
    await asyncio.sleep(DISPATCH_GATHER_SECONDS)
    dispatched = deliveries = 0
    while True:
        async with runtime.unit_of_work() as session:
            batch = await events.claim_batch(session, DISPATCH_BATCH)
            deliveries += await fan_out(session, batch)
        dispatched += len(batch)
        if len(batch) < DISPATCH_BATCH:
            return {"events": dispatched, "deliveries": deliveries}


async def sweep(runtime: Runtime) -> tuple[bool, int]:
    """Re-enqueue work whose job was lost: a dispatch when events wait, due deliveries.
    Returns whether a dispatch was asked for, and how many deliveries were re-enqueued."""
    async with runtime.read_session() as session:
        # Newer rows are left to the job their own commit asked for.
        stale_events = await events.any_undispatched(session, older_than=timedelta(seconds=2))
        now = utcnow()
        due = (
            await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.attempt_count)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
    requests = [jobs.JobRequest(events.DISPATCH_JOB, ())] if stale_events else []
    requests += [
        jobs.JobRequest(DELIVER_JOB, (str(did),), f"{DELIVER_JOB}:{did}:{count}")
        for did, count in due
    ]
    await jobs.enqueue_all(runtime.jobs, requests)
    return stale_events, len(due)
