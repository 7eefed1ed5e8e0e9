"""The work pool the delivery engine sends through: order, the bound, cancelling, errors.
Every wait is bounded, so a broken pool fails these tests rather than hanging them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.core.workpool import WorkPool


async def within(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, 2)


async def test_calls_run_in_order_never_more_than_size_at_once() -> None:
    pool, running, most, started = WorkPool(2), 0, 0, []

    async def call(n: int) -> int:
        nonlocal running, most
        started.append(n)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return n * 10

    futures = [pool.submit(lambda n=n: call(n)) for n in range(6)]
    assert await within(asyncio.gather(*futures)) == [0, 10, 20, 30, 40, 50]
    assert (most, started) == (2, [0, 1, 2, 3, 4, 5])
    await pool.close()


async def test_errors_reach_their_caller_and_the_worker_goes_on() -> None:
    pool = WorkPool(1)

    async def fail() -> None:
        raise ValueError("bad row")

    async def cancel_itself() -> None:
        raise asyncio.CancelledError

    failed, cancelled = pool.submit(fail), pool.submit(cancel_itself)
    after = pool.submit(lambda: asyncio.sleep(0, result="still working"))
    with pytest.raises(ValueError, match="bad row"):
        await within(failed)
    assert await within(after) == "still working"
    assert cancelled.cancelled()
    await pool.close()


async def test_cancelling_skips_a_waiting_call_and_drops_a_running_ones_result() -> None:
    pool, ran = WorkPool(1), []
    gate = asyncio.Event()

    async def call(n: int) -> int:
        ran.append(n)
        await gate.wait()
        return n

    running, waiting = pool.submit(lambda: call(0)), pool.submit(lambda: call(1))
    await asyncio.sleep(0)
    assert pool.started(running) and not pool.started(waiting)
    running.cancel()
    waiting.cancel()
    gate.set()
    assert await within(pool.submit(lambda: call(2))) == 2
    assert ran == [0, 2]  # the running call ended; the waiting one never ran
    await pool.close()


async def test_closing_cancels_what_runs_and_waits_and_takes_no_more() -> None:
    pool = WorkPool(1)
    busy = pool.submit(lambda: asyncio.sleep(10))
    waiting = pool.submit(lambda: asyncio.sleep(0))
    await asyncio.sleep(0)
    await within(pool.close())
    assert busy.cancelled() and waiting.cancelled()
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(lambda: asyncio.sleep(0))
