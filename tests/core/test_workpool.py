"""The work pool the delivery engine sends through: order, the bound, cancelling, errors."""

from __future__ import annotations

import asyncio

import pytest

from app.core.workpool import WorkPool


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
    assert await asyncio.gather(*futures) == [0, 10, 20, 30, 40, 50]
    assert (most, started) == (2, [0, 1, 2, 3, 4, 5])
    await pool.close()


async def test_a_call_cancelled_while_waiting_never_runs_and_errors_reach_the_caller() -> None:
    pool, ran = WorkPool(1), []
    gate = asyncio.Event()

    async def call(n: int) -> None:
        ran.append(n)
        await gate.wait()
        if n == 2:
            raise ValueError("bad row")

    first, second, third = (pool.submit(lambda n=n: call(n)) for n in range(3))
    await asyncio.sleep(0)
    second.cancel()  # still waiting behind the first
    gate.set()
    await first
    with pytest.raises(ValueError, match="bad row"):
        await third
    assert ran == [0, 2]
    await pool.close()


async def test_closing_cancels_what_still_waits() -> None:
    pool = WorkPool(1)
    busy = pool.submit(lambda: asyncio.sleep(10))
    waiting = pool.submit(lambda: asyncio.sleep(0))
    await asyncio.sleep(0)
    await pool.close()
    assert busy.cancelled() and waiting.cancelled()
    # A closed pool starts afresh when used again.
    assert await pool.submit(lambda: asyncio.sleep(0, result="again")) == "again"
    await pool.close()
