"""The arq worker (`hearth worker`), and the job lists the in-process runner uses too.

Each domain's `jobs.py` exports `JOBS` and `PERIODIC`; this module joins them.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from prometheus_client import start_http_server

from app.core.jobs import ArqJobQueue, JobFunction, Periodic, run_job
from app.moderation import jobs as moderation_jobs
from app.schedule import jobs as schedule_jobs
from app.settings import Settings, get_settings
from app.webhooks import jobs as webhook_jobs

JOBS: list[JobFunction] = [*webhook_jobs.JOBS, *schedule_jobs.JOBS, *moderation_jobs.JOBS]
PERIODIC: list[Periodic] = [
    *webhook_jobs.PERIODIC,
    *schedule_jobs.PERIODIC,
    *moderation_jobs.PERIODIC,
]


def _instrumented(function: JobFunction) -> JobFunction:
    @functools.wraps(function)
    async def wrapper(ctx: dict[str, Any], *args: Any) -> Any:
        return await run_job(function, ctx, *args)

    return wrapper


def _every(seconds: int) -> set[int]:
    return set(range(0, 60, seconds)) if seconds < 60 else {0}


def __getattr__(name: str) -> Any:
    # `app.worker.WorkerSettings` is built on first access, from the settings of the process
    # that runs the worker, so importing JOBS elsewhere needs no Redis configuration.
    if name == "WorkerSettings":
        return worker_settings(get_settings())
    raise AttributeError(name)


def worker_settings(settings: Settings) -> type:
    """arq settings for a worker running Hearth's jobs and sweeps."""
    if not settings.redis_url:
        raise SystemExit(
            "hearth worker needs HEARTH_REDIS_URL. Without Redis, jobs run inside `hearth serve`."
        )

    async def startup(ctx: dict[str, Any]) -> None:
        from app.core.runtime import freeze_startup_heap
        from app.main import build_runtime

        queue = ArqJobQueue(ctx["redis"], settings.queue_name, owns_pool=False)
        ctx["runtime"] = build_runtime(settings, queue)
        freeze_startup_heap()
        if settings.worker_metrics_port:
            start_http_server(settings.worker_metrics_port, addr=settings.host)

    async def shutdown(ctx: dict[str, Any]) -> None:
        runtime = ctx.get("runtime")
        if runtime is not None:
            await runtime.close()

    class WorkerSettings:
        functions = [func(_instrumented(f), name=f.__name__) for f in JOBS]
        cron_jobs = [
            cron(
                _instrumented(p.function),
                # The name is also the job id's prefix: per queue, so two installs sharing
                # one Redis don't take each other's sweep ticks.
                name=f"cron:{settings.queue_name}:{p.function.__name__}",
                second=_every(p.every_seconds(settings)),
                run_at_startup=True,
            )
            for p in PERIODIC
        ]
        redis_settings = RedisSettings.from_dsn(settings.redis_url)
        queue_name = settings.queue_name
        max_jobs = settings.job_concurrency
        # Deferred jobs (scheduled posts) start within one poll of their time.
        poll_delay = settings.worker_poll_seconds
        # A job outliving its lease would race the sweep's retry; stop it first.
        job_timeout = max(1, math.ceil(settings.lease_seconds))
        # Results are not read, and a kept result would block re-enqueueing the same job id.
        keep_result = 0
        on_startup = startup
        on_shutdown = shutdown

    return WorkerSettings
