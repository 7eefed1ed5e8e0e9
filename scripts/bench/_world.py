"""Setup of scripts/bench/delivery.py through Hearth's services, in the bench's process (as
app/seed.py does): an org, a community, webhook channels pointing at the receiver, drafts.
Publishing and scheduling go one item per transaction, as one API request each would, and
queue their jobs to Redis through an `ArqJobQueue` exactly as `hearth serve` does. Setup time
is not measured, except to plan how far ahead the scheduled instant must be.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import channels as channel_service
from app.communities import service as community_service
from app.communities.platforms import ChannelKind
from app.communities.schemas import ChannelCreate, CommunityCreate
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.jobs import ArqJobQueue, RowsOnlyQueue
from app.core.logging import configure_logging
from app.core.runtime import Runtime
from app.main import build_runtime
from app.orgs import service as org_service
from app.orgs.schemas import OrgCreate
from app.schedule import workflow
from app.schedule.content import event_payload
from app.schedule.models import ContentItem, Delivery
from app.schedule.render import ChannelRef, render
from app.schedule.schemas import ContentCreate
from app.settings import Settings

DRAFTS_PER_TRANSACTION = 100
BODY = (
    "Patch 1.4 is live: faster loading, fixed matchmaking and a new map, Harbour Lights."
    " Thanks to everyone who sent in reports during the test weekend. See you online!"
)


@dataclass(frozen=True)
class Target:
    """A webhook channel and where it sends."""

    id: uuid.UUID
    name: str
    url: str
    secret: str
    config: dict[str, Any]


@dataclass(frozen=True)
class World:
    actor: Actor
    community_id: uuid.UUID
    fanout: list[Target]  # the channels of the fan-out items
    lag: Target  # the one channel of the scheduled items


def open_runtime(database_url: str, redis_url: str, queue_name: str) -> Runtime:
    """A runtime like `hearth serve` builds with Redis, ignoring HEARTH_* and .env."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_url=redis_url,
        queue_name=queue_name,
        outbound_allowed_hosts=["127.0.0.1"],
        log_level="WARNING",
        log_format="json",
    )
    configure_logging(settings)
    return build_runtime(settings, ArqJobQueue.connect(redis_url, queue_name))


async def create_world(runtime: Runtime, receiver: str, fanout_channels: int) -> World:
    async with runtime.unit_of_work() as session:
        org, owner = await org_service.create_org(session, OrgCreate(name="Delivery bench"))
        actor = Actor(org_id=org.id, role=Role.owner, key_id=owner.record.id, name="bench")
        new = CommunityCreate(slug="bench", name="Bench")
        community = await community_service.create_community(session, actor, new)
        fanout = [
            await _webhook(session, runtime, actor, community.id, f"fanout-{n}", receiver)
            for n in range(fanout_channels)
        ]
        lag = await _webhook(session, runtime, actor, community.id, "scheduled", receiver)
    return World(actor, community.id, fanout, lag)


async def _webhook(
    session: AsyncSession,
    runtime: Runtime,
    actor: Actor,
    community_id: uuid.UUID,
    name: str,
    receiver: str,
) -> Target:
    url = f"{receiver}/hooks/{name}"
    data = ChannelCreate(name=name, kind=ChannelKind.webhook, config={"url": url})
    channel, secret = await channel_service.create_channel(
        session, actor, community_id, data, policy=runtime.outbound
    )
    assert secret is not None
    return Target(channel.id, channel.name, url, secret, dict(channel.config))


async def create_drafts(
    runtime: Runtime, world: World, targets: list[Target], count: int, label: str
) -> list[uuid.UUID]:
    """`count` plain-text announcements to `targets`, a hundred per transaction, written as
    Hearth's one-shot commands write (no job queue): their `content.created` events wait in
    the outbox for the sweep, instead of queueing a dispatch job each ahead of the
    deliveries under test."""
    ids: list[uuid.UUID] = []
    channel_ids = [t.id for t in targets]
    queue, runtime.jobs = runtime.jobs, RowsOnlyQueue()
    try:
        for start in range(0, count, DRAFTS_PER_TRANSACTION):
            async with runtime.unit_of_work() as session:
                for n in range(start, min(count, start + DRAFTS_PER_TRANSACTION)):
                    data = ContentCreate(
                        kind="announcement",  # type: ignore[arg-type]
                        title=f"Patch 1.4 is live ({label} {n})",
                        body=BODY,
                        channel_ids=channel_ids,
                    )
                    item = await workflow.create(session, world.actor, world.community_id, data)
                    ids.append(item.id)
    finally:
        runtime.jobs = queue
    return ids


async def each_in_own_transaction(
    runtime: Runtime,
    ids: Iterable[uuid.UUID],
    concurrency: int,
    action: Callable[[AsyncSession, uuid.UUID], Awaitable[Any]],
) -> float:
    """Run `action` once per id, one transaction each, `concurrency` at a time; seconds taken."""
    todo = iter(ids)

    async def worker() -> None:
        for item_id in todo:
            async with runtime.unit_of_work() as session:
                await action(session, item_id)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def publish_all(
    runtime: Runtime, world: World, ids: list[uuid.UUID], concurrency: int
) -> float:
    async def publish(session: AsyncSession, item_id: uuid.UUID) -> None:
        await workflow.publish(session, world.actor, item_id)

    return await each_in_own_transaction(runtime, ids, concurrency, publish)


async def schedule_all(
    runtime: Runtime, world: World, ids: list[uuid.UUID], at: datetime, concurrency: int
) -> float:
    async def schedule(session: AsyncSession, item_id: uuid.UUID) -> None:
        await workflow.schedule(session, world.actor, item_id, at)

    return await each_in_own_transaction(runtime, ids, concurrency, schedule)


async def bodies(
    runtime: Runtime, world: World, ids: list[uuid.UUID], targets: list[Target]
) -> list[tuple[str, str, str, bytes]]:
    """(url, secret, webhook-id, body) of what Hearth sends for each item and channel, in
    publishing order: rendered as the engine renders a send, in the same JSON envelope."""
    async with runtime.read_session() as session:
        items = {
            item.id: item
            for item in await session.scalars(select(ContentItem).where(ContentItem.id.in_(ids)))
        }
        session.expunge_all()  # what follows changes the copies only
    timestamp = utcnow().isoformat().replace("+00:00", "Z")
    out = []
    for item_id in ids:
        item = items[item_id]
        # As the claim renders it: publishing, approved (by publishing or scheduling it),
        # with its time; a draft would render a few bytes shorter.
        item.status = "publishing"
        item.approved_by = item.approved_by or world.actor.key_id
        item.publish_at = item.publish_at or utcnow().replace(microsecond=0)
        content = event_payload(item)
        for t in targets:
            ref = ChannelRef(t.id, ChannelKind.webhook, t.name, t.config, True)
            payload = render(item, content, ref, "send").payload
            envelope = {"type": payload["type"], "timestamp": timestamp, "data": payload["data"]}
            body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
            out.append((t.url, t.secret, f"msg_{uuid.uuid4().hex}", body))
    return out


async def delivery_rows(runtime: Runtime, ids: list[uuid.UUID]) -> list[Delivery]:
    async with runtime.read_session() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.content_id.in_(ids)))
        return list(rows)


async def undelivered(runtime: Runtime) -> int:
    """Rows with an action still to do (anything not delivered yet)."""
    async with runtime.read_session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.action.is_not(None))
        )
    return int(count or 0)


async def all_delivery_ids(runtime: Runtime) -> list[str]:
    async with runtime.read_session() as session:
        return [str(i) for i in await session.scalars(select(Delivery.id))]


async def backend_pids(runtime: Runtime) -> list[int]:
    """The server processes of every connection to this database (PostgreSQL only)."""
    if runtime.settings.is_sqlite:
        return []
    async with runtime.read_session() as session:
        found = await session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return list(found)
