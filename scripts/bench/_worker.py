"""The `hearth worker` of scripts/bench/delivery.py: its environment, its metrics, its queue
in Redis, and removing every key the run left there."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import redis
from _setup import Server, free_port, hearth_env
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
ARQ_PREFIXES = ("arq:job:", "arq:in-progress:", "arq:retry:", "arq:result:")


def env_for(
    db_url: str, redis_url: str, queue: str, concurrency: int, admin_token: str
) -> dict[str, str]:
    """Hearth's environment for the worker (and `hearth migrate`): Redis, an own queue,
    webhooks to 127.0.0.1 allowed, the concurrency under test (jobs and sends)."""
    env = hearth_env(db_url, admin_token)
    env.update(
        HEARTH_REDIS_URL=redis_url,
        HEARTH_QUEUE_NAME=queue,
        HEARTH_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
        HEARTH_JOB_CONCURRENCY=str(concurrency),
        # Sends in flight: the raw loop's concurrency, so both send alike.
        HEARTH_DELIVERY_CONCURRENCY=str(concurrency),
    )
    return env


def start(env: dict[str, str], work: Path, *, stages: bool) -> Server:
    """`hearth worker`, ready once its metrics port answers (after its startup hook ran).
    With `stages`, the same worker with stage timers (_timed_worker.py)."""
    port = free_port()
    env = {**env, "HEARTH_WORKER_METRICS_PORT": str(port)}
    if stages:
        argv = [sys.executable, str(HERE / "_timed_worker.py")]
    else:
        argv = [str(Path(sys.executable).parent / "hearth"), "worker"]
    worker = Server("worker", argv, env, work, port=port)
    worker.wait_ready()
    return worker


def metrics(worker: Server) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The worker's Prometheus samples: name -> {sorted labels: value}."""
    text = httpx.get(f"{worker.base}/metrics", timeout=5).text
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def delta(before: dict[str, Any], after: dict[str, Any], name: str, **labels: str) -> float:
    """How much the samples of `name` matching `labels` grew between two scrapes."""
    total = 0.0
    for key, value in after.get(name, {}).items():
        if all((k, v) in key for k, v in labels.items()):
            total += value - before.get(name, {}).get(key, 0.0)
    return total


def jobs_run(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Jobs run between two scrapes, by "job outcome"."""
    counts = {}
    for key, value in after.get("hearth_jobs_total", {}).items():
        grown = value - before.get("hearth_jobs_total", {}).get(key, 0.0)
        if grown:
            labels = dict(key)
            counts[f"{labels['job']} {labels['outcome']}"] = int(grown)
    return counts


def due_jobs(redis_url: str, queue: str) -> int:
    """Jobs in the queue that are due now (deferred ones not counted)."""
    with redis.Redis.from_url(redis_url) as r:
        return int(r.zcount(queue, "-inf", int(time.time() * 1000)))


def wait_idle(redis_url: str, queue: str, worker: Server, timeout: float = 60) -> bool:
    """Until no job of the queue is due and the worker finished no job for half a second
    (every job it runs is short): True, or False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    finished = None
    while time.monotonic() < deadline:
        worker.check_alive("waiting for the queue to drain")
        now = sum(metrics(worker).get("hearth_jobs_total", {}).values())
        if now == finished and not due_jobs(redis_url, queue):
            return True
        finished = now
        time.sleep(0.5)
    return False


def clean_redis(redis_url: str, queue: str, delivery_ids: list[str]) -> int:
    """Delete the run's keys: its queue and health check, the arq keys of jobs still queued,
    of its cron jobs (named after the queue) and of its delivery jobs (named after their
    rows). Other queues' keys are left alone. Returns how many keys went."""
    ours = {f"cron:{queue}:"}
    with redis.Redis.from_url(redis_url) as r:
        queued = [m.decode() for m in r.zrange(queue, 0, -1)]
        keys = [queue, f"{queue}:health-check"]
        keys += [prefix + job_id for job_id in queued for prefix in ARQ_PREFIXES]
        wanted = set(delivery_ids)
        for key in r.scan_iter(match="arq:*", count=1000):
            job_id = key.decode().split(":", 2)[-1]
            if any(job_id.startswith(p) for p in ours) or _delivery_of(job_id) in wanted:
                keys.append(key.decode())
        return int(r.delete(*keys)) if keys else 0


def _delivery_of(job_id: str) -> str | None:
    """The row of a `deliver_content:<row id>:<due ms>` job."""
    name, _, rest = job_id.partition(":")
    return rest.split(":", 1)[0] if name == "deliver_content" else None
