"""The engine's rules for one send of a batch: when it is given back unsent, and what a
bug while sending becomes. The batches themselves run in test_delivery and test_crash."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.communities.platforms import ChannelKind
from app.core.db import utcnow
from app.schedule import connectors
from app.schedule.claiming import Claimed
from app.schedule.connectors import Task
from app.schedule.engine import _send
from app.schedule.recording import ItemState
from app.schedule.render import Rendered
from app.settings import Settings


class Runtime:
    """Only what `_send` reads before it would reach the network."""

    settings = Settings(_env_file=None, webhook_timeout_seconds=3, lease_seconds=10)


def claimed(lease_left: float, config: dict | None = None) -> Claimed:
    kind = ChannelKind.webhook
    rendered = Rendered(uuid.uuid4(), kind, "t", "x", {"type": "content.published", "data": {}})
    task = Task(uuid.uuid4(), "send", kind, config or {}, rendered, None, 1)
    lease = utcnow() + timedelta(seconds=lease_left)
    item = ItemState(uuid.uuid4(), uuid.uuid4(), "publishing", 1, None, {})
    return Claimed(task, lease, uuid.uuid4(), item)


def far() -> datetime:
    return utcnow() + timedelta(hours=1)


async def test_a_send_that_could_outlive_its_lease_is_given_back_unsent() -> None:
    # The slot is free, but 2 s of lease cannot hold a send of up to 3 s.
    assert await _send(Runtime(), claimed(2), far()) is None  # type: ignore[arg-type]


async def test_a_send_that_could_outlive_the_job_is_given_back_unsent() -> None:
    # The row's lease is long (claimed late in a draining job), the job's time is not.
    soon = utcnow() + timedelta(seconds=2)
    assert await _send(Runtime(), claimed(9), soon) is None  # type: ignore[arg-type]


async def test_a_bug_while_sending_is_a_retry_not_a_lost_batch() -> None:
    # A webhook channel without its URL: building the request fails before any I/O.
    result = await _send(Runtime(), claimed(9), far())  # type: ignore[arg-type]
    assert result is not None and result.outcome == "retry"
    assert "KeyError" in (result.error or "")


@pytest.mark.both_backends
async def test_claims_at_once_take_disjoint_batches_and_one_record_settles_them_all(
    settings: Settings,
) -> None:
    """Claims running together never take one row twice; recording their batches
    publishes every item (one content.published each)."""
    from app.schedule import claiming, engine
    from tests.conftest import (
        REDIS_URL,
        http_client,
        make_org,
        make_settings,
        redis_or_skip,
        running_app,
    )
    from tests.schedule.conftest import draft, emitted, make_studio

    await redis_or_skip()
    # Jobs go to a queue no worker reads: the rows wait for the claims below.
    quiet = make_settings(
        settings.database_url, redis_url=REDIS_URL, queue_name=f"hearth-test:{uuid.uuid4().hex}"
    )
    async with running_app(quiet) as app, http_client(app) as client:
        studio = await make_studio(client, await make_org(client, "Starfall"), kinds=())
        channel_ids = []
        for n in range(3):
            channel = await client.post(
                f"/v1/communities/{studio.community_id}/channels",
                json={
                    "name": f"tool-{n}",
                    "kind": "webhook",
                    "config": {"url": "http://127.0.0.1:9/"},
                },
                headers=studio.auth(),
            )
            assert channel.status_code == 201, channel.text
            channel_ids.append(channel.json()["id"])
        for n in range(4):  # 12 rows due
            item = await draft(client, studio, title=f"Item {n}", channel_ids=channel_ids)
            published = await client.post(
                f"/v1/content/{item['id']}/publish", headers=studio.auth()
            )
            assert published.status_code == 202, published.text
        runtime = app.state.runtime
        together = await asyncio.gather(
            claiming.claim_batch(runtime, 8), claiming.claim_batch(runtime, 8)
        )
        batches = list(together)
        # A row whose content the other claim held is left for a later claim.
        while leftover := await claiming.claim_batch(runtime, 8):
            batches.append(leftover)
        claimed = [c.task.delivery_id for batch in batches for c in batch.outbound]
        assert len(claimed) == len(set(claimed)) == 12  # each row by exactly one claim
        done = connectors.Result("done", status_code=200)
        for n, batch in enumerate(batches):
            sent = [(c, done) for c in batch.outbound]
            if n == 0:
                # As if the items had changed since the claim: the record reads them again.
                sent = [(replace(c, item=replace(c.item, version=0)), r) for c, r in sent]
            outcomes = await engine._record(runtime, sent, [])
            assert outcomes == {"done": len(batch.outbound)}
        # Either way, each event is the item as the API shows it, and its deliveries.
        published = await emitted(app, "content.published")
        assert len(published) == 4
        for event in published:
            item = await client.get(f"/v1/content/{event['id']}", headers=studio.auth())
            assert event == {**item.json(), "deliveries": {"delivered": 3, "failed": 0}}
        assert not await claiming.claim_batch(runtime, 8)  # nothing due any more


@pytest.mark.both_backends
async def test_a_stopped_job_records_the_send_under_way(settings: Settings, receiver: Any) -> None:
    """A job stopped (a shutdown) while its send is on the wire waits for the answer and
    records it: the sweep must not send it again."""
    import threading

    from app.schedule import engine
    from app.schedule.models import Delivery
    from tests.conftest import (
        REDIS_URL,
        http_client,
        make_org,
        make_settings,
        redis_or_skip,
        running_app,
    )
    from tests.receiver import Reply
    from tests.schedule.conftest import draft, make_studio

    await redis_or_skip()
    quiet = make_settings(
        settings.database_url,
        redis_url=REDIS_URL,
        queue_name=f"hearth-test:{uuid.uuid4().hex}",
        outbound_allowed_hosts=["127.0.0.1"],
    )
    gate = threading.Event()
    receiver.script("/slow", Reply(hold=gate))
    async with running_app(quiet) as app, http_client(app) as client:
        studio = await make_studio(client, await make_org(client, "Starfall"), kinds=())
        channel = await client.post(
            f"/v1/communities/{studio.community_id}/channels",
            json={"name": "slow", "kind": "webhook", "config": {"url": receiver.url("/slow")}},
            headers=studio.auth(),
        )
        item = await draft(client, studio, channel_ids=[channel.json()["id"]])
        await client.post(f"/v1/content/{item['id']}/publish", headers=studio.auth())
        runtime = app.state.runtime
        async with runtime.read_session() as session:
            row_id = await session.scalar(select(Delivery.id))
        job = asyncio.ensure_future(engine.attempt(runtime, row_id))
        await receiver.wait_for(1, "/slow")  # on the wire, its answer held
        job.cancel()
        await asyncio.sleep(0.1)
        gate.set()  # the receiver answers after the stop
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(job, 5)
        async with runtime.read_session() as session:
            row = await session.get_one(Delivery, row_id)
        assert (row.status, row.lease_until) == ("delivered", None)
