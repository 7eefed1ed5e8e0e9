"""Killing the process that delivers, between "outbox row written" and "delivered", loses
nothing: after a restart the sweep finds the row and delivers it, with the same webhook-id.

These tests run real `hearth worker` / `hearth serve` processes and SIGKILL them mid-send.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from app.settings import Settings
from tests.conftest import (
    Org,
    clear_redis,
    make_org,
)
from tests.processes import arq_api, free_port, hearth_env, hearth_process, wait_healthy
from tests.receiver import Receiver, Reply

pytestmark = [pytest.mark.both_backends, pytest.mark.long]


async def setup_endpoint(client: httpx.AsyncClient, receiver: Receiver) -> tuple[Org, dict]:
    org = await make_org(client, "Starfall Studios")
    response = await client.post(
        "/v1/webhooks",
        json={"url": receiver.url("/crash"), "events": ["community.created"]},
        headers=org.auth("manager"),
    )
    assert response.status_code == 201
    return org, response.json()


async def create_community(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.post(
        "/v1/communities",
        json={"slug": "starfall", "name": "Starfall"},
        headers=org.auth("manager"),
    )
    assert response.status_code == 201


async def the_delivery(client: httpx.AsyncClient, org: Org, endpoint: dict) -> dict:
    response = await client.get(
        f"/v1/webhooks/{endpoint['id']}/deliveries", headers=org.auth("manager")
    )
    (delivery,) = response.json()["items"]
    return delivery


async def wait_delivered(client: httpx.AsyncClient, org: Org, endpoint: dict) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivery = await the_delivery(client, org, endpoint)
        if delivery["status"] == "succeeded":
            return delivery
        await asyncio.sleep(0.1)
    raise AssertionError(f"not delivered: {delivery}")


def assert_same_message(endpoint: dict, first, second) -> None:
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    verifier = Webhook(endpoint["secret"])
    assert verifier.verify(first.body, first.headers) == verifier.verify(
        second.body, second.headers
    )


async def test_worker_killed_mid_send_then_restarted_delivers(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    async with arq_api(settings) as (client, env):
        org, endpoint = await setup_endpoint(client, receiver)
        hold = threading.Event()
        receiver.script("/crash", Reply(200, hold=hold), then=Reply(200, b"ok"))
        try:
            with hearth_process(["worker"], env, log) as worker:
                await create_community(client, org)  # the outbox row is written here
                (first,) = await receiver.wait_for(1, "/crash", timeout=30)
                worker.kill()  # mid-send: the receiver has the request, no answer yet
                worker.wait(10)
        finally:
            hold.set()
        stuck = await the_delivery(client, org, endpoint)
        assert stuck["status"] == "pending" and stuck["attempt_count"] == 1
        assert stuck["attempts"] == []  # the attempt died with the worker

        with hearth_process(["worker"], env, log):
            _, second = await receiver.wait_for(2, "/crash", timeout=30)
            delivery = await wait_delivered(client, org, endpoint)
        assert_same_message(endpoint, first, second)
        assert delivery["attempt_count"] == 2
        assert [a["status_code"] for a in delivery["attempts"]] == [200]


async def test_jobs_lost_with_redis_are_recovered_from_the_rows(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    async with arq_api(settings) as (client, env):
        org, endpoint = await setup_endpoint(client, receiver)
        await create_community(client, org)  # row written, job queued, no worker running
        await clear_redis()  # Redis keeps nothing on disk: the job is gone
        with hearth_process(["worker"], env, tmp_path / "worker.log"):
            (request,) = await receiver.wait_for(1, "/crash", timeout=30)
            await wait_delivered(client, org, endpoint)
        Webhook(endpoint["secret"]).verify(request.body, request.headers)


async def test_in_process_runner_killed_mid_send_then_restarted_delivers(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    port = free_port()
    env = hearth_env(settings.database_url, HEARTH_PORT=str(port))
    base_url, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    hold = threading.Event()
    receiver.script("/crash", Reply(200, hold=hold), then=Reply(200, b"ok"))
    try:
        with hearth_process(["serve"], env, log) as server:
            await wait_healthy(base_url, server, log)
            async with httpx.AsyncClient(base_url=base_url) as client:
                org, endpoint = await setup_endpoint(client, receiver)
                await create_community(client, org)
                (first,) = await receiver.wait_for(1, "/crash", timeout=30)
            server.kill()
            server.wait(10)
    finally:
        hold.set()
    with hearth_process(["serve"], env, log) as server:
        await wait_healthy(base_url, server, log)
        async with httpx.AsyncClient(base_url=base_url) as client:
            stuck = await the_delivery(client, org, endpoint)
            assert stuck["attempts"] == []
            _, second = await receiver.wait_for(2, "/crash", timeout=30)
            delivery = await wait_delivered(client, org, endpoint)
    assert_same_message(endpoint, first, second)
    assert [a["status_code"] for a in delivery["attempts"]] == [200]


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for log in tmp_path.glob("*.log"):
            print(f"--- {log.name} ---\n{log.read_text()[-5000:]}")
