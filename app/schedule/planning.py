"""Delivery rows, written in the transaction of the change that causes them (scheduling,
publishing, editing, retracting): the database says what must go out, the queue only when.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import Channel
from app.communities.platforms import ChannelKind
from app.core import audit, jobs
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.schedule.connectors import NOT_EDITABLE
from app.schedule.models import ContentItem, Delivery

if TYPE_CHECKING:
    from app.schedule.recording import RowState

DELIVER_JOB = "deliver_content"
# Work due within this many seconds is queued now as a deferred job; later work is queued
# by the sweep when it comes this close. Nothing waits in Redis for long (DESIGN.md).
QUEUE_HORIZON = 300.0
# A job is queued to start this long before its row is due, and waits for the instant
# (`engine.attempt`): arq looks for due jobs once per `HEARTH_WORKER_POLL_SECONDS` (0.1 s by
# default), so a job queued for the instant itself would start up to a poll late.
JOB_LEAD = 0.25


def job_id(delivery_id: uuid.UUID | str, due: datetime) -> str:
    """One job per row and due time: a repeat for the same time is dropped while queued,
    and a new time (rescheduled, retried) is a new job."""
    return f"{DELIVER_JOB}:{delivery_id}:{int(due.timestamp() * 1000)}"


def request_for(delivery_id: uuid.UUID, due: datetime, now: datetime) -> jobs.JobRequest | None:
    delay = (due - now).total_seconds()
    if delay > QUEUE_HORIZON:
        return None
    return jobs.JobRequest(
        DELIVER_JOB,
        (str(delivery_id),),
        job_id(delivery_id, due),
        max(delay - JOB_LEAD, 0.0) or None,
    )


def enqueue(
    session: AsyncSession, delivery_id: uuid.UUID, due: datetime | None, now: datetime
) -> None:
    """Queue the row's next action (due at `due`) after commit, if it is due soon."""
    if due is None:
        return
    request = request_for(delivery_id, due, now)
    if request is not None:
        jobs.defer(
            session, request.name, *request.args, job_id=request.job_id, defer_by=request.defer_by
        )


async def plan_send(session: AsyncSession, item: ContentItem, due_at: datetime) -> None:
    """One pending row per channel of the item, due at `due_at`; rows of a cancelled
    schedule are reused, rows of channels no longer listed removed."""
    now = utcnow()
    channel_ids = [uuid.UUID(cid) for cid in item.channel_ids]
    kinds: dict[uuid.UUID, str] = dict(
        (
            await session.execute(
                select(Channel.id, Channel.kind).where(Channel.id.in_(channel_ids))
            )
        ).all()  # type: ignore[arg-type]
    )
    # A channel deleted since the item was written is no longer a destination.
    channel_ids = [cid for cid in channel_ids if cid in kinds]
    await session.execute(
        delete(Delivery).where(
            Delivery.content_id == item.id, Delivery.channel_id.not_in(channel_ids)
        )
    )
    existing = {
        row.channel_id: row
        for row in await session.scalars(select(Delivery).where(Delivery.content_id == item.id))
    }
    for channel_id in channel_ids:
        row = existing.get(channel_id)
        if row is None:
            row = Delivery(
                id=uuid.uuid4(),
                org_id=item.org_id,
                community_id=item.community_id,
                content_id=item.id,
                channel_id=channel_id,
                channel_kind=kinds[channel_id],
                attempts=0,
                created_at=now,
            )
            session.add(row)
        row.status, row.action, row.next_attempt_at = "pending", "send", due_at
        row.action_attempts, row.lease_until, row.last_error = 0, None, None
        row.updated_at = now
    await session.flush()
    for row in await session.scalars(select(Delivery).where(Delivery.content_id == item.id)):
        enqueue(session, row.id, row.next_attempt_at, now)


async def unschedule(session: AsyncSession, item: ContentItem) -> None:
    """What was waiting to be sent will not be: `skipped`."""
    await session.execute(
        update(Delivery)
        .where(
            Delivery.content_id == item.id,
            Delivery.action == "send",
            Delivery.status == "pending",
        )
        .values(status="skipped", action=None, next_attempt_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def follow_up(session: AsyncSession, item: ContentItem, action: str) -> None:
    """Edit (`update`) or take down (`retract`) what was delivered; on retract, what was
    still waiting is skipped. A row being sent right now gets its follow-up when its send is
    recorded (the engine looks at the item's status then)."""
    now = utcnow()
    for row in await session.scalars(select(Delivery).where(Delivery.content_id == item.id)):
        if action == "retract" and row.status == "pending":
            row.status, row.action, row.next_attempt_at = "skipped", None, None
        elif row.status == "delivered":
            start_follow_up(row, action, now)
        else:
            continue
        row.updated_at = now
        enqueue(session, row.id, row.next_attempt_at, now)


def start_follow_up(row: Delivery | RowState, action: str, now: datetime) -> None:
    kind = ChannelKind(row.channel_kind)
    if kind in NOT_EDITABLE:
        # The platform cannot do it; the row says so instead of retrying forever.
        if action == "retract":
            row.retract_error = NOT_EDITABLE[kind]
        row.action, row.next_attempt_at = None, None
        return
    row.action, row.next_attempt_at = action, now
    row.action_attempts, row.lease_until = 0, None


async def retry(session: AsyncSession, actor: Actor, delivery_id: uuid.UUID) -> Delivery:
    """Send a failed delivery again, now. Role: manager."""
    actor.require(Role.manager)
    content_id = await session.scalar(
        select(Delivery.content_id).where(
            Delivery.id == delivery_id, Delivery.org_id == actor.org_id
        )
    )
    if content_id is None:
        raise NotFound("No such delivery.")
    # Content first, then its row: the order every transition and the engine lock in.
    item = await session.get_one(ContentItem, content_id, with_for_update=True)
    row = await session.get_one(Delivery, delivery_id, with_for_update=True)
    if row.status != "failed":
        raise Conflict(
            f"Only a failed delivery is retried; this one is {row.status}.",
            extra={"current_status": row.status},
        )
    if item.status in ("retracted", "cancelled"):
        raise Conflict(
            f"The content is {item.status}; nothing of it is sent any more.",
            extra={"current_status": item.status},
        )
    now = utcnow()
    was = item.status
    row.status, row.action, row.next_attempt_at = "pending", "send", now
    row.action_attempts, row.lease_until, row.last_error, row.updated_at = 0, None, None, now
    item.status = "publishing"
    enqueue(session, row.id, row.next_attempt_at, now)
    await session.flush()
    await audit.record(
        session,
        actor,
        "delivery.retried",
        org_id=row.org_id,
        target_type="delivery",
        target_id=row.id,
        community_id=row.community_id,
        before={"status": "failed", "content_status": was},
        after={"status": "pending", "content_status": "publishing"},
    )
    return row


async def deliveries_of(
    session: AsyncSession, actor: Actor, content_id: uuid.UUID
) -> list[Delivery]:
    """One row per channel the item was scheduled or published to. Role: viewer."""
    actor.require(Role.viewer)
    found = await session.scalar(
        select(ContentItem.id).where(
            ContentItem.id == content_id, ContentItem.org_id == actor.org_id
        )
    )
    if found is None:
        raise NotFound("No such content.")
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.content_id == content_id)
        .order_by(Delivery.created_at, Delivery.id)
    )
    return list(rows)
