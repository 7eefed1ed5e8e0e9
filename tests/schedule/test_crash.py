"""Deliveries survive a worker killed mid fan-out and a Redis that lost everything: the rows
are the truth, the sweep finds what is due or stuck, and each delivery reaches the receiver
once by its delivery id (`webhook-id`), never before its time.

Real `hearth worker` processes on PostgreSQL and Redis, SIGKILLed mid-run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.conftest import clear_redis, make_org
from tests.processes import arq_api, hearth_process
from tests.receiver import Receiver
from tests.schedule.conftest import Studio, draft, eventually, make_studio

pytestmark = [pytest.mark.postgres_only, pytest.mark.long(seconds=30)]

CHANNELS = 5


async def webhook_studio(client: httpx.AsyncClient, app_org, receiver: Receiver) -> Studio:
    studio = await make_studio(client, app_org, receiver, kinds=())
    for n in range(CHANNELS):
        channel = await client.post(
            f"/v1/communities/{studio.community_id}/channels",
            json={"name": f"tool-{n}", "kind": "webhook", "config": {"url": receiver.url("/fan")}},
            headers=studio.auth(),
        )
        assert channel.status_code == 201, channel.text
        studio.channels[f"tool-{n}"] = channel.json()["id"]
    return studio


async def drafts(client: httpx.AsyncClient, studio: Studio, count: int) -> list[dict]:
    ids = [v for k, v in studio.channels.items() if k.startswith("tool-")]
    items = []
    for n in range(count):
        items.append(await draft(client, studio, title=f"Item {n}", body="Hello.", channel_ids=ids))
    return items


async def delivery_ids(client: httpx.AsyncClient, studio: Studio, items: list[dict]) -> set[str]:
    found = set()
    for item in items:
        rows = await client.get(f"/v1/content/{item['id']}/deliveries", headers=studio.auth())
        found |= {f"msg_{row['id'].replace('-', '')}" for row in rows.json()}
    return found


async def all_published(client: httpx.AsyncClient, studio: Studio, items: list[dict]) -> bool:
    listed = await client.get(
        f"/v1/communities/{studio.community_id}/content?status=published&limit=100",
        headers=studio.auth(),
    )
    return len(listed.json()["items"]) == len(items)


async def wait_all(receiver: Receiver, expected: set[str], timeout: float = 60) -> Counter[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        seen = Counter(r.headers["webhook-id"] for r in receiver.received("/fan"))
        if expected <= set(seen):
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(expected - set(seen))} of {len(expected)} never arrived")


async def test_worker_killed_mid_fan_out_then_restarted_delivers_each_once(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    async with arq_api(settings) as (client, env):
        org = await make_org(client, "Starfall Studios")
        studio = await webhook_studio(client, org, receiver)
        items = await drafts(client, studio, 100)
        for item in items:  # 500 rows written, 500 jobs queued; no worker yet
            published = await client.post(
                f"/v1/content/{item['id']}/publish", headers=studio.auth()
            )
            assert published.status_code == 202, published.text
        expected = await delivery_ids(client, studio, items)
        assert len(expected) == 100 * CHANNELS
        # Batches small enough that the bound on repeats below says something.
        env = {**env, "HEARTH_DELIVERY_BATCH": "20"}
        with hearth_process(["worker"], env, log) as worker:
            await receiver.wait_for(100, "/fan", timeout=60)
            worker.kill()  # SIGKILL, mid fan-out
            worker.wait(10)
        killed_at = len(receiver.received("/fan"))
        assert killed_at < len(expected), "the worker finished before it was killed"
        with hearth_process(["worker"], env, log):
            seen = await wait_all(receiver, expected)
            await eventually(lambda: all_published(client, studio, items), timeout=30)
        assert set(seen) == expected  # nothing else was sent
        # Only the sends in flight at the kill (each job sends a batch at once) may arrive
        # twice, with the same id (the receiver drops the repeat); every other delivery
        # arrived exactly once.
        repeats = {message for message, count in seen.items() if count > 1}
        assert len(repeats) <= Settings().job_concurrency * 20


async def test_redis_emptied_with_100_scheduled_items_delivers_all_on_time(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    async with arq_api(settings) as (client, env):
        org = await make_org(client, "Starfall Studios")
        studio = await webhook_studio(client, org, receiver)
        one_channel = [studio.channels["tool-0"]]
        items = [
            await draft(client, studio, title=f"Item {n}", body="Hello.", channel_ids=one_channel)
            for n in range(100)
        ]
        at = datetime.now(UTC) + timedelta(seconds=10)  # room for 100 schedules on a busy CI
        for item in items:
            scheduled = await client.post(
                f"/v1/content/{item['id']}/schedule",
                json={"publish_at": at.isoformat()},
                headers=studio.auth(),
            )
            assert scheduled.status_code == 200, scheduled.text
        await clear_redis()  # the deferred jobs are gone; only the rows remain
        expected = await delivery_ids(client, studio, items)
        with hearth_process(["worker"], env, tmp_path / "worker.log"):
            seen = await wait_all(receiver, expected, timeout=30)
        assert set(seen) == expected
        assert min(r.at for r in receiver.received("/fan")) >= at.timestamp()


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for log in tmp_path.glob("*.log"):
            print(f"--- {log.name} ---\n{log.read_text()[-8000:]}")
