"""`hearth worker` with stage timers, for `scripts/bench/delivery.py --stages`.

The same worker, with each stage of a delivery wrapped in a timer exported on its metrics
port as `bench_delivery_stage_seconds{stage=...}`:

- `queued`: from the job's due time (its arq score) to the job starting;
- `claim`: one claiming transaction (lock a batch of rows and their contents, lease, render);
- `send`: the HTTP send (`connectors.perform`);
- `record`: one recording transaction (a batch: lock contents and rows, apply, settle, events).

The wrappers add a few microseconds per stage; figures from a plain `hearth worker` are the
ones the goals are judged on.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Histogram

from app.schedule import claiming, connectors, engine
from app.schedule import jobs as schedule_jobs

STAGE = Histogram(
    "bench_delivery_stage_seconds", "Time of one stage of a content delivery.", ["stage"]
)


def timed(stage: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            STAGE.labels(stage=stage).observe(time.perf_counter() - started)

    return wrapper


def queued(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(function)
    async def wrapper(ctx: dict[str, Any], *args: Any) -> Any:
        if ctx.get("score"):
            STAGE.labels(stage="queued").observe(max(0.0, time.time() - ctx["score"] / 1000))
        return await function(ctx, *args)

    return wrapper


def install() -> None:
    claiming.claim_batch = timed("claim", claiming.claim_batch)  # type: ignore[assignment]
    engine._record = timed("record", engine._record)  # type: ignore[assignment]
    connectors.perform = timed("send", connectors.perform)  # type: ignore[assignment]
    # app.worker reads the job list when first imported: replace it before that.
    schedule_jobs.JOBS[:] = [
        queued(f) if f is schedule_jobs.deliver_content else f for f in schedule_jobs.JOBS
    ]


if __name__ == "__main__":
    install()
    from app.cli import worker

    worker()
