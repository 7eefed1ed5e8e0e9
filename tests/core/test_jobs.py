"""The in-process runner and after-commit enqueueing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.core import jobs
from app.core.jobs import InProcessJobQueue, JobRequest, Periodic
from app.settings import Settings


class FakeRuntime:
    settings = Settings(_env_file=None, sweep_interval_seconds=1)


def runner(**functions: Any) -> InProcessJobQueue:
    queue = InProcessJobQueue(functions=functions, periodic=[], concurrency=2)
    queue.start({"runtime": FakeRuntime()})
    return queue


async def test_jobs_run_with_their_arguments_and_dedupe_by_id() -> None:
    calls: list[tuple[str, ...]] = []
    release = asyncio.Event()

    async def work(ctx: dict, value: str) -> None:
        calls.append((value,))
        await release.wait()

    queue = runner(work=work)
    try:
        await queue.enqueue("work", "a", job_id="same")
        await queue.enqueue("work", "a", job_id="same")  # still queued: dropped
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.sleep(0.05)
        await queue.enqueue("work", "b", job_id="same")  # finished: accepted again
        await asyncio.sleep(0.05)
    finally:
        await queue.close()
    assert calls == [("a",), ("b",)]


async def test_identical_jobs_run_one_at_a_time_and_a_request_during_a_run_is_kept() -> None:
    """The outbox dispatch relies on this: a burst of commits costs one run at a time, and a
    commit made while a run is under way (it may already have looked) gets a run of its own."""
    runs, running, most_at_once = 0, 0, 0
    started, release = asyncio.Event(), asyncio.Event()

    async def drain(ctx: dict) -> None:
        nonlocal runs, running, most_at_once
        runs += 1
        running += 1
        most_at_once = max(most_at_once, running)
        started.set()
        await release.wait()
        running -= 1

    queue = InProcessJobQueue(functions={"drain": drain}, periodic=[], concurrency=4)
    queue.start({"runtime": FakeRuntime()})
    try:
        for _ in range(5):
            await queue.enqueue("drain")
        await asyncio.wait_for(started.wait(), 1)
        for _ in range(3):
            await queue.enqueue("drain")  # the first run is under way: one more is held
        await asyncio.sleep(0.05)
        assert runs == 1  # four idle workers, yet the held request waits for the run
        release.set()
        await asyncio.sleep(0.05)
    finally:
        await queue.close()
    assert (runs, most_at_once) == (2, 1)


async def test_deferred_jobs_wait_and_unknown_jobs_are_refused() -> None:
    ran = asyncio.Event()

    async def later(ctx: dict) -> None:
        ran.set()

    queue = runner(later=later)
    try:
        await queue.enqueue("later", defer_by=0.2)
        await asyncio.sleep(0.1)
        assert not ran.is_set()
        await asyncio.wait_for(ran.wait(), 1)
        with pytest.raises(LookupError):
            await queue.enqueue("nope")
    finally:
        await queue.close()


async def test_a_failing_job_does_not_stop_the_runner() -> None:
    done = asyncio.Event()

    async def boom(ctx: dict) -> None:
        raise RuntimeError("boom")

    async def fine(ctx: dict) -> None:
        done.set()

    queue = runner(boom=boom, fine=fine)
    try:
        await queue.enqueue("boom")
        await queue.enqueue("fine")
        await asyncio.wait_for(done.wait(), 1)
    finally:
        await queue.close()


async def test_close_lets_running_jobs_finish_and_drops_queued_ones() -> None:
    finished: list[str] = []
    started = asyncio.Event()

    async def slow(ctx: dict, name: str) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.append(name)

    queue = InProcessJobQueue(functions={"slow": slow}, periodic=[], concurrency=1)
    queue.start({"runtime": FakeRuntime()})
    await queue.enqueue("slow", "running")
    await queue.enqueue("slow", "queued")
    await started.wait()
    await queue.close(grace_seconds=2)
    assert finished == ["running"]
    await queue.enqueue("slow", "after close")  # ignored, not an error


async def test_periodic_sweeps_run_on_their_interval() -> None:
    ticks: list[float] = []

    async def sweep(ctx: dict) -> None:
        ticks.append(asyncio.get_running_loop().time())

    queue = InProcessJobQueue(
        functions={}, periodic=[Periodic(sweep, lambda settings: settings.sweep_interval_seconds)]
    )
    queue.start({"runtime": FakeRuntime()})
    await asyncio.sleep(2.2)
    await queue.close()
    assert len(ticks) == 2


class _Session:
    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


def test_deferred_jobs_are_held_on_the_session_until_taken() -> None:
    session = _Session()
    jobs.defer(session, "deliver", "id-1", job_id="deliver:id-1")  # type: ignore[arg-type]
    jobs.defer(session, "deliver", "id-2", defer_by=5)  # type: ignore[arg-type]
    assert jobs.take_deferred(session) == [  # type: ignore[arg-type]
        JobRequest("deliver", ("id-1",), "deliver:id-1", None),
        JobRequest("deliver", ("id-2",), None, 5),
    ]
    assert jobs.take_deferred(session) == []  # type: ignore[arg-type]


async def test_arq_discard_drops_queued_jobs_and_frees_their_ids() -> None:
    from arq.constants import job_key_prefix

    from tests.conftest import REDIS_URL, clear_redis, redis_or_skip

    await redis_or_skip()
    await clear_redis()
    queue = jobs.ArqJobQueue.connect(REDIS_URL, "hearth:test-discard")
    pool: Any = queue._pool
    try:
        for job_id in ("a", "b"):
            await queue.enqueue("deliver_content", job_id, job_id=job_id, defer_by=60)
        await queue.discard(["a"])
        assert await pool.zrange("hearth:test-discard", 0, -1) == [b"b"]
        assert not await pool.exists(job_key_prefix + "a")
        # A job id taken for work that was then lost can be queued again (by the sweep).
        await queue.enqueue("deliver_content", "a", job_id="a")
        assert sorted(await pool.zrange("hearth:test-discard", 0, -1)) == [b"a", b"b"]
    finally:
        await clear_redis()
        await queue.close()
