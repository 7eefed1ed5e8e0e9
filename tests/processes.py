"""Real `hearth` processes for tests that need one: started, awaited, killed."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx

from app.settings import Settings
from tests.conftest import (
    ADMIN_TOKEN,
    REDIS_URL,
    clear_redis,
    http_client,
    make_settings,
    redis_or_skip,
    running_app,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LEASE_SECONDS = 3


def hearth_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a test's `hearth` process: none of the developer's HEARTH_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(
        HEARTH_DATABASE_URL=database_url,
        HEARTH_ADMIN_TOKEN=ADMIN_TOKEN,
        HEARTH_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
        HEARTH_LEASE_SECONDS=str(LEASE_SECONDS),
        HEARTH_WEBHOOK_TIMEOUT_SECONDS="2",
        HEARTH_SWEEP_INTERVAL_SECONDS="1",
        HEARTH_WEBHOOK_RETRY_SCHEDULE="0.3,0.3,0.3",
        HEARTH_LOG_FORMAT="json",
    )
    env.update(extra)
    return env


@contextmanager
def hearth_process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_healthy(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"hearth exited early:\n{log.read_text()}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"hearth did not start:\n{log.read_text()}")


@asynccontextmanager
async def arq_api(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """An API that enqueues to Redis (no worker inside it), and the env for worker processes."""
    await redis_or_skip()
    queue = f"hearth-test:{uuid.uuid4().hex[:8]}"
    api_settings = make_settings(
        settings.database_url,
        redis_url=REDIS_URL,
        queue_name=queue,
        lease_seconds=LEASE_SECONDS,
        webhook_timeout_seconds=2,
    )
    env = hearth_env(settings.database_url, HEARTH_REDIS_URL=REDIS_URL, HEARTH_QUEUE_NAME=queue)
    try:
        async with running_app(api_settings) as app, http_client(app) as client:
            yield client, env
    finally:
        await clear_redis()
