"""The delivery engine: claim due rows (`claiming`), perform their actions, record the
outcomes (`recording`: each row, then each content's status), and sweep for rows whose job
was lost.

An attempt claims a batch of rows with a lease in one short transaction, sends them outside
any transaction (through the process's `HEARTH_DELIVERY_CONCURRENCY` senders), then records
every outcome in one transaction. A worker that dies mid-batch leaves leases that run out;
the sweep then queues those rows again, and the send carries the same idempotency key
(`webhook-id`): what a batch had sent but not yet recorded may arrive twice, with one id. A
delivered row has no action left, so it is never sent again. Hearth's own surfaces (forum,
launcher feed) are changed inside the claiming transaction: exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from limits import RateLimitItemPerSecond
from sqlalchemy import select

from app.communities.platforms import PROFILES
from app.core import jobs
from app.core.db import utcnow
from app.core.runtime import Runtime
from app.schedule import claiming, connectors, planning, recording
from app.schedule.claiming import Claimed
from app.schedule.models import ContentItem, Delivery
from app.schedule.recording import ItemState, RowState

log = structlog.get_logger("hearth.schedule")

SWEEP_BATCH = 500
# A job starts a moment before its row is due (it is queued `planning.JOB_LEAD` ahead, and
# the clocks of API and worker differ slightly): it waits for the instant rather than
# leaving the row to the next sweep.
EARLY_WAIT_LIMIT = 2.0
# A batch's outcomes are recorded at least this often (seconds) while its sends go on.
RECORD_EVERY = 1.0


async def attempt(runtime: Runtime, delivery_id: uuid.UUID) -> str:
    """Perform the due action of this row and of other due rows, a batch at a time, for as
    long as full batches keep coming and time allows: a backlog is drained by the jobs
    already running rather than by one job start per batch. Returns what happened, e.g.
    "29 done, 1 retry"."""
    settings = runtime.settings
    loop = asyncio.get_running_loop()
    slack = settings.lease_seconds - settings.webhook_timeout_seconds
    # arq stops a job after `lease_seconds` (its timeout). No send may start that could end
    # after that, less a margin to record it; and no batch is taken after half the slack.
    deadline = utcnow() + timedelta(seconds=settings.lease_seconds - slack / 4)
    drain_until = loop.time() + slack / 2
    # The job's own row goes first, alone, so that its send starts at once (the precision
    # of a post scheduled for a busy instant); the batches drained after it are full.
    batch = await claiming.claim_row(runtime, delivery_id)
    if not batch:
        wait = await _early_by(runtime, delivery_id)
        if wait is None:
            return "not due"
        await asyncio.sleep(wait)
        batch = await claiming.claim_row(runtime, delivery_id)
    outcomes: Counter[str] = Counter()
    while batch:
        outcomes += await _perform(runtime, batch, delivery_id, deadline)
        if not batch.more or loop.time() >= drain_until:
            break  # the backlog is worked off, or the job's time is up
        batch = await claiming.claim_batch(runtime, settings.delivery_batch)
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "not due"


async def _perform(
    runtime: Runtime, batch: claiming.Batch, own: uuid.UUID, deadline: datetime
) -> Counter[str]:
    """Send a claimed batch's rows and record the outcomes as they come: a slow receiver
    does not keep the others' sends unrecorded (what a crash would send again)."""
    # The other rows' own jobs would find nothing left to do.
    await runtime.jobs.discard([job for row, job in batch.jobs.items() if row != own])
    ready, paced = await _pace(runtime, batch.outbound)
    now = utcnow()
    given_back = [(claimed, now + timedelta(seconds=wait)) for claimed, wait in paced]
    outcomes = Counter(batch.settled)
    if paced:
        outcomes["paced"] += len(paced)
    pool = runtime.delivery_pool
    claim_of = {pool.submit(functools.partial(_send, runtime, c, deadline)): c for c in ready}
    unrecorded, pending = dict(claim_of), set(claim_of)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, timeout=RECORD_EVERY)
            sent = []
            for send in done:
                # None: too late to start; cancelled: cut off before any answer.
                if send.cancelled() or (result := send.result()) is None:
                    given_back.append((claim_of[send], utcnow()))
                    outcomes["given back"] += 1
                else:
                    sent.append((claim_of[send], result))
            # The last round also gives back what was paced or too late.
            outcomes += await _record(runtime, sent, [] if pending else given_back)
            for send in done:
                del unrecorded[send]
        if not claim_of:
            outcomes += await _record(runtime, [], given_back)
    except asyncio.CancelledError:
        # The job was stopped (a shutdown): what went out is recorded all the same, so that
        # the sweep does not send it again. (Recording twice is harmless: the second finds
        # the lease, its token, gone.) Sends not yet started are dropped; those under way
        # are waited for (at most a send's timeout) and recorded too.
        under_way = {send for send in pending if pool.started(send)}
        for send in pending - under_way:
            send.cancel()
        if under_way:
            timeout = runtime.settings.webhook_timeout_seconds
            await asyncio.shield(asyncio.wait(under_way, timeout=timeout))
        finished = [
            (claimed, send.result())
            for send, claimed in unrecorded.items()
            if send.done() and not send.cancelled() and send.result() is not None
        ]
        await asyncio.shield(_record(runtime, finished, []))
        raise
    return outcomes


async def _send(runtime: Runtime, claimed: Claimed, deadline: datetime) -> connectors.Result | None:
    """Send, run by one of the process's senders (`runtime.delivery_pool`) once it is
    free; None when the wait left too little time for the send to end within the row's
    lease and the job's time (the row is given back)."""
    finish_by = utcnow() + timedelta(seconds=runtime.settings.webhook_timeout_seconds)
    if finish_by >= min(claimed.lease, deadline):
        return None
    try:
        return await connectors.perform(runtime, claimed.task)
    except Exception as exc:  # a bug must not cost the rest of the batch its records
        log.exception("content_send_failed", delivery_id=str(claimed.task.delivery_id))
        error = f"Unexpected error while sending: {exc.__class__.__name__}."
        return connectors.Result("retry", error=error)


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


async def _pace(
    runtime: Runtime, claimed: Sequence[Claimed]
) -> tuple[list[Claimed], list[tuple[Claimed, float]]]:
    """Split the batch into rows that may go now and rows whose channel must wait first
    (its platform's rate), with the seconds to wait."""
    ready, paced = [], []
    for row in claimed:
        rate = PROFILES[row.task.kind].rate
        wait = 0.0
        if rate is not None:
            limit = RateLimitItemPerSecond(rate.requests, rate.per_seconds)
            wait = await runtime.limiter.acquire(limit, "channel", str(row.channel_id))
        if wait:
            paced.append((row, wait))
        else:
            ready.append(row)
    return ready, paced


async def _record(
    runtime: Runtime,
    sent: Sequence[tuple[Claimed, connectors.Result]],
    given_back: Sequence[tuple[Claimed, datetime]],
) -> Counter[str]:
    """Record a batch in one transaction: every outcome, and the claims given back without
    counting an attempt (due again at the time given: once the channel has room, or at
    once). Contents are locked first, in id order (as the API's transitions and other
    recorders do), then their rows."""
    outcomes: Counter[str] = Counter()
    claims = [claimed for claimed, _ in (*sent, *given_back)]
    if not claims:
        return outcomes
    async with runtime.unit_of_work() as session:
        claimed_items = {claimed.item.id: claimed.item for claimed in claims}
        items = {
            row.id: ItemState(*row).still(claimed_items[row.id])
            for row in await session.execute(
                select(*recording.ITEM_COLUMNS)
                .where(ContentItem.id.in_(claimed_items))
                .order_by(ContentItem.id)
                .with_for_update()
            )
        }
        locked = await session.execute(
            select(*recording.COLUMNS)
            .where(Delivery.id.in_([claimed.task.delivery_id for claimed in claims]))
            .order_by(Delivery.id)
            .with_for_update()
        )
        rows = {row.id: row for row in (RowState(*columns) for columns in locked)}

        def still_ours(claimed: Claimed) -> RowState | None:
            row = rows.get(claimed.task.delivery_id)
            if row is None or claimed.item.id not in items:
                outcomes["gone"] += 1  # deleted (with its content or channel) meanwhile
                return None
            if row.lease_until != claimed.lease:
                # Our lease ran out and another attempt took over, or the row was given
                # other work meanwhile (a retract after an edit).
                outcomes["stale"] += 1
                return None
            return row

        now = utcnow()
        changed: list[RowState] = []
        for claimed, due in given_back:
            if (row := still_ours(claimed)) is not None:
                recording.give_back(session, row, due, now)
                changed.append(row)
        recorded: dict[uuid.UUID, ItemState] = {}
        for claimed, result in sent:
            if (row := still_ours(claimed)) is not None:
                item = items[claimed.item.id]
                outcomes[await recording.apply(session, runtime, row, item, result)] += 1
                changed.append(row)
                recorded[item.id] = item
        await recording.write(session, changed)
        await recording.settle(session, recorded.values())
    return outcomes


async def sweep(runtime: Runtime) -> int:
    """Queue the rows due within the horizon whose job may be lost (Redis restarted, a worker
    killed), and rows whose lease ran out. Returns how many were queued."""
    now = utcnow()
    horizon = now + timedelta(seconds=planning.QUEUE_HORIZON)
    async with runtime.read_session() as session:
        due = (
            await session.execute(
                select(Delivery.id, Delivery.next_attempt_at)
                .where(*claiming.claimable(horizon, leases_at=now))
                .order_by(Delivery.next_attempt_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
    requests = [planning.request_for(delivery_id, at, now) for delivery_id, at in due]
    await jobs.enqueue_all(runtime.jobs, [r for r in requests if r is not None])
    return len(due)
