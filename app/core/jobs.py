"""Background jobs through one interface: arq on Redis, or an in-process runner.

Job functions are plain `async def job(ctx, *args)`; both backends call them through
`run_job`, so outcomes and metrics are the same. Work that must not be lost is a database row
first (see DESIGN.md, "Durable work"): a job only says "go look at row X", and periodic
sweeps re-enqueue rows that are due or stuck, so a lost or duplicated job is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics

log = structlog.get_logger("hearth.jobs")

JobFunction = Callable[..., Awaitable[Any]]
_DEFERRED_KEY = "hearth.deferred_jobs"


@dataclass(frozen=True, slots=True)
class Periodic:
    """A sweep run every `every_seconds` (an arq cron job, or a loop of the in-process runner)."""

    function: JobFunction
    every_seconds: Callable[[Any], int]  # settings -> seconds, so tests can shorten it


@dataclass(frozen=True, slots=True)
class JobRequest:
    name: str
    args: tuple[Any, ...]
    job_id: str | None = None
    defer_by: float | None = None


class JobQueue(Protocol):
    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> None: ...

    async def discard(self, job_ids: Sequence[str]) -> None:
        """Drop queued jobs whose work another job already took (best effort: a job that
        slips through finds its row taken and does nothing)."""
        ...

    async def close(self) -> None: ...


def defer(
    session: AsyncSession,
    name: str,
    *args: Any,
    job_id: str | None = None,
    defer_by: float | None = None,
) -> None:
    """Enqueue `name` once `session` commits; dropped if it rolls back."""
    session.info.setdefault(_DEFERRED_KEY, []).append(JobRequest(name, args, job_id, defer_by))


def take_deferred(session: AsyncSession) -> list[JobRequest]:
    return session.info.pop(_DEFERRED_KEY, [])


async def enqueue_all(queue: JobQueue, requests: Sequence[JobRequest]) -> None:
    for req in requests:
        try:
            await queue.enqueue(req.name, *req.args, job_id=req.job_id, defer_by=req.defer_by)
        except Exception:
            # The row is committed; the sweeper will pick it up. Never fail the request.
            log.warning("enqueue_failed", job=req.name, job_id=req.job_id, exc_info=True)


async def run_job(function: JobFunction, ctx: dict[str, Any], *args: Any) -> Any:
    """Call a job function, recording its outcome; shared by arq and the in-process runner."""
    name = function.__name__
    started = time.perf_counter()
    try:
        result = await function(ctx, *args)
    except asyncio.CancelledError:
        metrics.JOBS.labels(job=name, outcome="cancelled").inc()
        raise
    except Exception:
        metrics.JOBS.labels(job=name, outcome="error").inc()
        log.exception("job_failed", job=name)
        raise
    finally:
        metrics.JOB_SECONDS.labels(job=name).observe(time.perf_counter() - started)
    metrics.JOBS.labels(job=name, outcome="ok").inc()
    return result


class ArqJobQueue:
    """Enqueue to arq; `hearth worker` runs the jobs. `job_id` dedupes while a job is queued."""

    def __init__(self, pool: Any, queue_name: str, *, owns_pool: bool) -> None:
        self._pool = pool
        self._queue_name = queue_name
        self._owns_pool = owns_pool

    @classmethod
    def connect(cls, redis_url: str, queue_name: str) -> ArqJobQueue:
        """Connects lazily: the API starts while Redis is down (readiness reports it), and
        an enqueue that fails is recovered by the sweep from the committed row."""
        from arq.connections import ArqRedis
        from redis.asyncio import ConnectionPool

        pool = ArqRedis(
            ConnectionPool.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5),
            default_queue_name=queue_name,
        )
        return cls(pool, queue_name, owns_pool=True)

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> None:
        await self._pool.enqueue_job(
            name, *args, _job_id=job_id, _defer_by=defer_by, _queue_name=self._queue_name
        )

    async def discard(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        from arq.constants import job_key_prefix

        # Out of the queue, and the job's key gone too, so that the same job id can be
        # queued again later (by the sweep, should the work it was taken for be lost). A
        # job arq had just started meanwhile ends at once, logged by arq as "expired".
        try:
            async with self._pool.pipeline(transaction=False) as pipe:
                pipe.zrem(self._queue_name, *job_ids)
                pipe.delete(*(job_key_prefix + job_id for job_id in job_ids))
                await pipe.execute()
        except Exception:
            log.warning("discard_failed", jobs=len(job_ids), exc_info=True)

    async def close(self) -> None:
        if self._owns_pool:
            await self._pool.aclose()


@dataclass
class InProcessJobQueue:
    """Runs jobs and sweeps inside the API process (embedded default, no Redis)."""

    functions: dict[str, JobFunction]
    periodic: Sequence[Periodic]
    concurrency: int = 8
    # Like arq's job_timeout: a stuck job is cancelled; its row's lease makes it retry.
    job_timeout: float = 60
    ctx: dict[str, Any] = field(default_factory=dict)
    _queue: asyncio.Queue[JobRequest | None] = field(default_factory=asyncio.Queue)
    _pending: set[str] = field(default_factory=set)
    # Identical requests, by (name, args), run one at a time and wait at most once: a
    # request arriving while an identical one waits is dropped (the waiting one will do the
    # same work), and one arriving while an identical one runs is held until it ends (the
    # running one may already have looked). A burst of writes then costs a few outbox
    # dispatches, each claiming a batch, not one per write.
    _waiting: dict[tuple[str, tuple[Any, ...]], JobRequest] = field(default_factory=dict)
    _running: Counter[tuple[str, tuple[Any, ...]]] = field(default_factory=Counter)
    _held: dict[tuple[str, tuple[Any, ...]], JobRequest] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _timers: set[asyncio.TimerHandle] = field(default_factory=set)
    _closed: bool = False

    def start(self, ctx: dict[str, Any]) -> None:
        self.ctx = ctx
        settings = ctx["runtime"].settings
        for n in range(self.concurrency):
            self._tasks.append(asyncio.create_task(self._work(), name=f"hearth-job-{n}"))
        for sweep in self.periodic:
            every = sweep.every_seconds(settings)
            self._tasks.append(
                asyncio.create_task(self._loop(sweep.function, every), name=sweep.function.__name__)
            )

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> None:
        if self._closed:
            return
        if name not in self.functions:
            raise LookupError(f"no job function named {name!r}")
        key = (name, args)
        if not defer_by and key in self._waiting:
            return
        if job_id is not None:
            if job_id in self._pending:
                return
            self._pending.add(job_id)
        request = JobRequest(name, args, job_id, None)
        if not defer_by:
            self._waiting[key] = request
        if not defer_by and self._running[key]:
            self._held[key] = request
        elif defer_by:
            loop = asyncio.get_running_loop()
            handle: asyncio.TimerHandle | None = None

            def fire() -> None:
                self._timers.discard(handle)  # type: ignore[arg-type]
                self._queue.put_nowait(request)

            handle = loop.call_later(defer_by, fire)
            self._timers.add(handle)
        else:
            self._queue.put_nowait(request)

    async def discard(self, job_ids: Sequence[str]) -> None:
        # In-process jobs cost no round trip: let them run and find their row taken.
        return None

    async def _work(self) -> None:
        while (request := await self._queue.get()) is not None:
            key = (request.name, request.args)
            if self._waiting.get(key) is request:  # not a deferred one firing
                del self._waiting[key]
            if request.job_id is not None:
                self._pending.discard(request.job_id)
            self._running[key] += 1
            try:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.job_timeout):
                        await run_job(self.functions[request.name], self.ctx, *request.args)
            finally:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]
                    held = self._held.pop(key, None)
                    if held is not None and not self._closed:
                        self._queue.put_nowait(held)

    async def _loop(self, function: JobFunction, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.job_timeout):
                    await run_job(function, self.ctx)

    async def close(self, grace_seconds: float = 10) -> None:
        """Stop taking work, let running jobs finish (up to a grace period), then cancel.

        Queued jobs are dropped: their rows stay due and the next start's sweep finds them.
        """
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        while not self._queue.empty():
            self._queue.get_nowait()
        workers = [t for t in self._tasks if t.get_name().startswith("hearth-job-")]
        for task in self._tasks:
            if task not in workers:
                task.cancel()
        for _ in workers:
            self._queue.put_nowait(None)
        if workers:
            _done, still_running = await asyncio.wait(workers, timeout=grace_seconds)
            for task in still_running:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


class RowsOnlyQueue:
    """For one-shot commands (CLI) without Redis: enqueueing is a no-op, because the rows
    they write are found by the running service's periodic sweep."""

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> None:
        return None

    async def discard(self, job_ids: Sequence[str]) -> None:
        return None

    async def close(self) -> None:
        return None
