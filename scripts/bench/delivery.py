#!/usr/bin/env python3
"""Delivery benchmark: one `hearth worker` on Redis against a raw httpx loop, both sending
signed webhooks to the same local receiver.

    .venv/bin/python scripts/bench/delivery.py [--items N] [--channels N] [--scheduled N]
        [--concurrency N] [--timeout S] [--stages] [--set HEARTH_NAME=VALUE]...
        [--postgres-url URL] [--redis-url URL]

Creates a scratch PostgreSQL database, migrates it, starts the receiver (_receiver.py) on a
free 127.0.0.1 port and sets up, through Hearth's services (_world.py), a community with
webhook channels pointing at it. Then:

(a) fan-out: publishes 2,000 items to 5 channels (10,000 deliveries queued) before the
    worker starts, then starts one `hearth worker` and times the deliveries as they arrive;
    the raw loop (_raw.py) posts the same bodies with the same concurrency. Goal: Hearth's
    rate at least 0.7 of the raw loop's.
(b) lag: schedules 1,000 items to one channel for one instant a few seconds ahead, with
    the worker running, and measures each arrival behind `publish_at`. Goals: the first
    within 250 ms, the last within 1.5 x the time the raw loop needs for 1,000 sends.

Prints the figures and one line per goal ending in PASS or FAIL. Drops the database and
deletes the run's Redis keys (its own queue) at the end, also on error or Ctrl-C. Exit
code 0 whatever the ratios; 1 when the setup failed or a delivery went missing or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import _load
import _raw
import _worker
import _world
import asyncpg
import httpx
import redis
from _setup import Server, SetupError, admin_sql, database_url, free_port
from forum import machine_busy

from app.core.runtime import Runtime

HERE = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
FANOUT_GOAL = 0.7  # Hearth's deliveries/s over the raw loop's
FIRST_GOAL = 0.250  # seconds from publish_at to the first delivery
LAST_FACTOR = 1.5  # the last delivery within this many times the raw loop's 1,000 sends
SETUP_CONCURRENCY = 8  # publish/schedule calls at once, one transaction each, as API calls
STAGES = ("queued", "claim", "send", "record")


@dataclass
class Run:
    """What one sender did: arrivals at the receiver and the sender's costs."""

    label: str
    expected: int
    arrivals: dict[str, float] = field(default_factory=dict)  # webhook-id -> first arrival
    duplicates: int = 0
    body_bytes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float | None = None  # the sender's own clock, start to last answer
    cpu_seconds: float | None = None  # the sender's CPU time
    notes: list[str] = field(default_factory=list)

    def add(self, records: list[list[Any]]) -> None:
        for message_id, at, size in records:
            if message_id in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[message_id] = at
                self.body_bytes.append(size)

    @property
    def span(self) -> float | None:
        """Seconds from the first arrival to the last."""
        times = self.arrivals.values()
        return max(times) - min(times) if len(self.arrivals) > 1 else None

    @property
    def rate(self) -> float | None:
        span = self.span
        return (len(self.arrivals) - 1) / span if span else None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="fan-out items (a)")
    parser.add_argument("--channels", type=int, default=5, help="webhook channels per item (a)")
    parser.add_argument("--scheduled", type=int, default=1000, help="scheduled items (b)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="the worker's HEARTH_JOB_CONCURRENCY and HEARTH_DELIVERY_CONCURRENCY, and the raw"
        " loop's concurrent sends",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for one run's deliveries"
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="time the stages of each delivery in the worker (_timed_worker.py)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="HEARTH_NAME=VALUE",
        help="a setting for the worker, e.g. HEARTH_WORKER_POLL_SECONDS=0.02 (repeatable)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEARTH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="admin URL to create and drop the scratch database [HEARTH_BENCH_POSTGRES_URL]",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("HEARTH_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis for the worker's queue (a queue of its own) [HEARTH_BENCH_REDIS_URL]",
    )
    args = parser.parse_args()
    for name in ("items", "channels", "scheduled", "concurrency", "timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    for setting in args.set:
        if not setting.startswith("HEARTH_") or "=" not in setting:
            parser.error(f"--set {setting}: expected HEARTH_NAME=VALUE")
    return args


# --- the receiver ------------------------------------------------------------------------


def start_receiver(env: dict[str, str], work: Path, servers: list[Server]) -> Server:
    argv = [sys.executable, str(HERE / "_receiver.py"), "--port", str(free_port())]
    receiver = Server("receiver", argv, env, work)
    servers.append(receiver)
    receiver.wait_ready()
    return receiver


def take_records(receiver: Server, run: Run) -> None:
    """Move what the receiver recorded since the last call into `run`."""
    answer = httpx.get(f"{receiver.base}/records", timeout=10).json()
    run.add(answer["records"])
    if answer["unnamed"]:
        run.errors.append(f"{answer['unnamed']} requests without a webhook-id")


async def collect(receiver: Server, worker: Server, run: Run, deadline: float) -> None:
    """Take records until `run.expected` distinct deliveries arrived or the deadline passed."""
    while True:
        take_records(receiver, run)
        if len(run.arrivals) >= run.expected or time.time() > deadline:
            return
        worker.check_alive(run.label)
        await asyncio.sleep(0.2)


# --- the raw baseline --------------------------------------------------------------------


def raw_runs(
    args: argparse.Namespace,
    receiver: Server,
    fanout: list[tuple[str, str, str, bytes]],
    scheduled: list[tuple[str, str, str, bytes]],
) -> dict[str, Run]:
    """The raw loop, in a process of its own: the fan-out bodies, then the scheduled ones."""
    runs = {}
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        for key, messages in (("fanout", fanout), ("scheduled", scheduled)):
            label = "raw httpx loop"
            print(f"  {label}, {len(messages):,} sends …", flush=True)
            spec = _raw.Spec(label, messages, args.concurrency)
            result = pool.submit(_raw.run, spec).result()
            run = Run(label, len(messages), seconds=result["seconds"])
            run.cpu_seconds = result["cpu_seconds"]
            run.errors += result["error_samples"]
            take_records(receiver, run)
            runs[key] = run
    return runs


# --- Hearth ------------------------------------------------------------------------------


@dataclass
class Probe:
    """Worker CPU, machine ticks and worker metrics at one moment."""

    at: float
    cpu: float | None
    ticks: tuple[int, int] | None
    metrics: dict[str, Any]
    postgres: dict[int, float]  # CPU seconds of each backend on the scratch database

    @classmethod
    async def take(cls, worker: Server, runtime: Runtime) -> Probe:
        backends = await _world.backend_pids(runtime)
        return cls(
            time.time(),
            _load.process_cpu(worker.proc.pid),
            _load.machine_ticks(),
            _worker.metrics(worker),
            {pid: cpu for pid in backends if (cpu := postgres_cpu(pid)) is not None},
        )

    def postgres_cpu_since(self, before: Probe) -> float | None:
        """CPU time the database's backends used (none of them on another machine)."""
        if not self.postgres:
            return None
        return sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in self.postgres.items())


def postgres_cpu(pid: int) -> float | None:
    """CPU seconds of a local PostgreSQL backend (None for a database on another host)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "postgres":
                return None
    except OSError:
        return None
    return _load.process_cpu(pid)


def describe_worker(run: Run, before: Probe, after: Probe, slots: int) -> None:
    """Notes on what the worker did between two probes."""
    seconds = after.at - before.at
    if before.cpu is not None and after.cpu is not None:
        run.cpu_seconds = after.cpu - before.cpu
    postgres = after.postgres_cpu_since(before)
    if postgres is not None and run.arrivals:
        run.notes.append(
            f"PostgreSQL backends of the run's database: {postgres / seconds:.0%} CPU,"
            f" {postgres / len(run.arrivals) * 1e6:,.0f} us per delivery"
        )
    jobs = _worker.jobs_run(before.metrics, after.metrics)
    run.notes.append("jobs run: " + ", ".join(f"{n:,} {name}" for name, n in jobs.items()))
    busy = _worker.delta(before.metrics, after.metrics, "hearth_job_duration_seconds_sum")
    count = _worker.delta(
        before.metrics, after.metrics, "hearth_job_duration_seconds_count", job="deliver_content"
    )
    took = _worker.delta(
        before.metrics, after.metrics, "hearth_job_duration_seconds_sum", job="deliver_content"
    )
    if count and seconds > 0:
        run.notes.append(
            f"deliver_content job: {took / count * 1000:.1f} ms on average; jobs running:"
            f" {busy / seconds:.1f} on average, of {slots}"
        )
    stages = []
    for stage in STAGES:
        n = _worker.delta(
            before.metrics, after.metrics, "bench_delivery_stage_seconds_count", stage=stage
        )
        total = _worker.delta(
            before.metrics, after.metrics, "bench_delivery_stage_seconds_sum", stage=stage
        )
        if n:
            stages.append(f"{stage} {total / n * 1000:.1f} ms")
    if stages:
        run.notes.append("stages, mean time per call: " + ", ".join(stages))
    if before.ticks and after.ticks and after.ticks[1] > before.ticks[1]:
        d_busy, d_total = (a - b for a, b in zip(after.ticks, before.ticks, strict=True))
        run.notes.append(f"machine busy: {d_busy / d_total:.0%}")


async def check_rows(runtime: Runtime, ids: list[uuid.UUID], run: Run) -> list[Any]:
    """Every row of these items delivered, once: anything else is an error."""
    rows = await _world.delivery_rows(runtime, ids)
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    if statuses.get("delivered", 0) != run.expected:
        run.errors.append(f"rows by status: {statuses} (expected {run.expected:,} delivered)")
    expected = {f"msg_{row.id.hex}" for row in rows}
    stray = set(run.arrivals) - expected
    if stray:
        run.errors.append(f"{len(stray)} arrivals that are no delivery of this run")
    if len(run.arrivals) < run.expected:
        run.errors.append(f"only {len(run.arrivals):,} of {run.expected:,} deliveries arrived")
    return rows


async def hearth_fanout(
    args: argparse.Namespace,
    runtime: Runtime,
    receiver: Server,
    worker: Server,
    ids: list[uuid.UUID],
) -> Run:
    """Deliveries already queued; the worker just started: time them as they arrive."""
    run = Run("hearth worker", len(ids) * args.channels)
    before = await Probe.take(worker, runtime)
    await collect(receiver, worker, run, before.at + args.timeout)
    after = await Probe.take(worker, runtime)
    if run.arrivals:
        run.seconds = max(run.arrivals.values()) - before.at
        run.notes.append("seconds: from the worker being ready to the last arrival")
    describe_worker(run, before, after, args.concurrency)
    if not _worker.wait_idle(args.redis_url, runtime.settings.queue_name, worker):
        run.errors.append("the worker was still busy 60 s after the last arrival")
    await check_rows(runtime, ids, run)
    return run


async def hearth_scheduled(
    args: argparse.Namespace,
    runtime: Runtime,
    world: _world.World,
    receiver: Server,
    worker: Server,
    ids: list[uuid.UUID],
    seconds_per_call: float,
) -> tuple[Run, datetime, list[Any]]:
    """Schedule every item for one instant ahead, time each arrival."""
    run = Run("hearth worker", len(ids))
    # Far enough ahead to schedule every item (a transaction each, as API calls would be)
    # and for the worker to run the jobs that scheduling queues (event dispatches) first.
    ahead = 5.0 + 3.0 * len(ids) * seconds_per_call
    publish_at = (datetime.now(UTC) + timedelta(seconds=ahead)).replace(microsecond=0)
    took = await _world.schedule_all(runtime, world, ids, publish_at, SETUP_CONCURRENCY)
    left = publish_at.timestamp() - time.time()
    idle = _worker.wait_idle(args.redis_url, runtime.settings.queue_name, worker, left - 0.5)
    left = publish_at.timestamp() - time.time()
    state = "idle" if idle else "still busy"
    print(f"  scheduled {len(ids):,} items in {took:.1f} s; worker {state} {left:.1f} s ahead")
    if left < 0.1:
        raise SetupError(
            f"scheduling took {took:.1f} s, too close to publish_at; run it again (or on a"
            " quieter machine)"
        )
    if not idle:
        run.notes.append("the worker was still busy at publish_at (jobs scheduling queued)")
    await asyncio.sleep(max(0.0, publish_at.timestamp() - time.time()))
    before = await Probe.take(worker, runtime)
    await collect(receiver, worker, run, before.at + args.timeout)
    after = await Probe.take(worker, runtime)
    if run.arrivals:
        run.seconds = max(run.arrivals.values()) - publish_at.timestamp()
        run.notes.append("seconds: from publish_at to the last arrival")
    describe_worker(run, before, after, args.concurrency)
    _worker.wait_idle(args.redis_url, runtime.settings.queue_name, worker)
    rows = await check_rows(runtime, ids, run)
    return run, publish_at, rows


# --- the report --------------------------------------------------------------------------


def fmt(value: float | None, pattern: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, pattern) + suffix


def print_runs(title: str, runs: list[Run]) -> None:
    print(
        f"\n{title}\n{'run':<26}{'arrived':>9}{'dup':>5}{'errors':>7}{'seconds':>9}"
        f"{'span s':>8}{'sends/s':>9}{'CPU/send':>10}{'body B':>8}"
    )
    for run in runs:
        cpu = (
            run.cpu_seconds / len(run.arrivals) * 1e6 if run.cpu_seconds and run.arrivals else None
        )
        size = statistics.mean(run.body_bytes) if run.body_bytes else None
        print(
            f"{run.label:<26}{len(run.arrivals):>9,}{run.duplicates:>5}{len(run.errors):>7}"
            f"{fmt(run.seconds, '.2f'):>9}{fmt(run.span, '.2f'):>8}{fmt(run.rate, ',.0f'):>9}"
            f"{fmt(cpu, ',.0f', ' us'):>10}{fmt(size, '.0f'):>8}"
        )
    for run in runs:
        for note in run.notes:
            print(f"  {run.label}: {note}")


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def lag_figures(run: Run, publish_at: datetime, rows: list[Any]) -> list[float]:
    """Print each delivery's lag behind publish_at, at the receiver and in the database."""
    at = publish_at.timestamp()
    lags = sorted(t - at for t in run.arrivals.values())
    if lags:
        print(
            f"  lag behind publish_at at the receiver: first {lags[0] * 1000:.0f} ms,"
            f" p50 {pct(lags, 0.5) * 1000:.0f} ms, p99 {pct(lags, 0.99) * 1000:.0f} ms,"
            f" max {lags[-1] * 1000:.0f} ms"
        )
    recorded = sorted(
        (row.delivered_at - publish_at).total_seconds() for row in rows if row.delivered_at
    )
    if recorded:
        print(
            f"  delivered_at - publish_at in the database: p50 {pct(recorded, 0.5) * 1000:.0f}"
            f" ms, max {recorded[-1] * 1000:.0f} ms"
        )
    return lags


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def report(
    raw: dict[str, Run], fanout: Run, scheduled: Run, publish_at: datetime, rows: list[Any]
) -> bool:
    """Print the figures and one line per goal; True when no run had an error."""
    print_runs("(a) fan-out", [raw["fanout"], fanout])
    print_runs("(b) scheduled for one instant", [raw["scheduled"], scheduled])
    lags = lag_figures(scheduled, publish_at, rows)
    print()
    ratio = (fanout.rate or 0.0) / raw["fanout"].rate if raw["fanout"].rate else 0.0
    complete = len(fanout.arrivals) == fanout.expected
    print(
        f"fan-out  Hearth / raw deliveries per second = {ratio:.2f}   goal >= {FANOUT_GOAL}"
        f"   {verdict(complete and ratio >= FANOUT_GOAL)}"
    )
    complete = len(scheduled.arrivals) == scheduled.expected
    first = lags[0] if lags else None
    print(
        f"first    first delivery {fmt(first, '.3f', ' s')} after publish_at   goal <="
        f" {FIRST_GOAL:.3f} s   {verdict(first is not None and first <= FIRST_GOAL)}"
    )
    raw_seconds = raw["scheduled"].seconds or 0.0
    limit = LAST_FACTOR * raw_seconds
    last = lags[-1] if lags else None
    print(
        f"last     last delivery {fmt(last, '.3f', ' s')} after publish_at   goal <="
        f" {LAST_FACTOR} x {raw_seconds:.3f} s (raw loop, {scheduled.expected:,} sends) ="
        f" {limit:.3f} s   {verdict(complete and last is not None and last <= limit)}"
    )
    errors = [(run.label, e) for run in (*raw.values(), fanout, scheduled) for e in run.errors]
    for label, error in errors:
        print(f"  {label} error: {error[:200]}")
    return not errors


# --- the run -----------------------------------------------------------------------------


@dataclass
class State:
    """What the clean-up needs: the queue's name and the rows whose jobs may be in Redis."""

    queue: str
    delivery_ids: list[str] = field(default_factory=list)


def prepare(
    args: argparse.Namespace, db_url: str, work: Path, servers: list[Server], state: State
) -> tuple[dict[str, str], Server]:
    """Migrate the scratch database, start the receiver; Hearth's environment."""
    env = _worker.env_for(
        db_url, args.redis_url, state.queue, args.concurrency, secrets.token_urlsafe(24)
    )
    env.update(setting.split("=", 1) for setting in args.set)
    hearth_bin = str(Path(sys.executable).parent / "hearth")
    subprocess.run([hearth_bin, "migrate"], env=env, cwd=work, check=True, capture_output=True)
    return env, start_receiver(env, work, servers)


async def bench(
    args: argparse.Namespace,
    db_url: str,
    env: dict[str, str],
    receiver: Server,
    work: Path,
    servers: list[Server],
    state: State,
) -> int:
    runtime = _world.open_runtime(db_url, args.redis_url, state.queue)
    try:
        return await measure(args, runtime, receiver, env, work, servers)
    finally:
        try:
            state.delivery_ids = await _world.all_delivery_ids(runtime)
        finally:
            await runtime.close()


async def measure(
    args: argparse.Namespace,
    runtime: Runtime,
    receiver: Server,
    env: dict[str, str],
    work: Path,
    servers: list[Server],
) -> int:
    world = await _world.create_world(runtime, receiver.base, args.channels)
    started = time.perf_counter()
    fan_ids = await _world.create_drafts(runtime, world, world.fanout, args.items, "fan-out")
    lag_ids = await _world.create_drafts(runtime, world, [world.lag], args.scheduled, "lag")
    drafts = time.perf_counter() - started
    published = await _world.publish_all(runtime, world, fan_ids, SETUP_CONCURRENCY)
    print(
        f"Setup: {len(fan_ids) + len(lag_ids):,} drafts in {drafts:.1f} s; {len(fan_ids):,}"
        f" published ({len(fan_ids) * args.channels:,} deliveries queued) in {published:.1f} s"
    )
    raw = raw_runs(
        args,
        receiver,
        await _world.bodies(runtime, world, fan_ids, world.fanout),
        await _world.bodies(runtime, world, lag_ids, [world.lag]),
    )
    print("  hearth worker, fan-out …", flush=True)
    worker = _worker.start(env, work, stages=args.stages)
    servers.append(worker)
    fanout = await hearth_fanout(args, runtime, receiver, worker, fan_ids)
    print("  hearth worker, scheduled …", flush=True)
    scheduled, publish_at, rows = await hearth_scheduled(
        args, runtime, world, receiver, worker, lag_ids, published / len(fan_ids)
    )
    return 0 if report(raw, fanout, scheduled, publish_at, rows) else 1


def headline(args: argparse.Namespace, pg_version: str, name: str, queue: str) -> None:
    with redis.Redis.from_url(args.redis_url) as r:
        redis_version = r.info("server").get("redis_version", "?")
    print(
        f"Hearth delivery benchmark: PostgreSQL {pg_version}, Redis {redis_version}, Python"
        f" {platform.python_version()}, os.cpu_count() = {os.cpu_count()}\n(a) {args.items:,}"
        f" items x {args.channels} webhook channels; (b) {args.scheduled:,} items scheduled for"
        f" one instant; one `hearth worker`{' with stage timers' if args.stages else ''},"
        f" HEARTH_JOB_CONCURRENCY=HEARTH_DELIVERY_CONCURRENCY={args.concurrency}, raw loop"
        f" {args.concurrency} concurrent"
        f" sends\ndatabase {name}, queue {queue}"
        + "".join(f"\nworker setting: {setting}" for setting in args.set)
    )


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    token = secrets.token_hex(4)
    name, state = f"hearth_bench_{token}", State(queue=f"hearth:bench:{token}")
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-"))  # processes' cwd: no stray .env
    servers: list[Server] = []
    created = False
    try:
        busy = machine_busy()
        pg_version = asyncio.run(admin_sql(args.postgres_url, f'CREATE DATABASE "{name}"'))
        created = True
        headline(args, pg_version, name, state.queue)
        if busy is not None:
            warning = "  (other work is running: expect noise)" if busy > 0.2 else ""
            print(f"Machine busy before start: {busy:.0%}{warning}")
        db_url = database_url(args.postgres_url, name)
        env, receiver = prepare(args, db_url, work, servers, state)
        return asyncio.run(bench(args, db_url, env, receiver, work, servers, state))
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except (
        SetupError,
        subprocess.CalledProcessError,
        OSError,
        asyncpg.PostgresError,
        redis.RedisError,
        httpx.HTTPError,
    ) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        output = getattr(exc, "stdout", None) or getattr(exc, "stderr", None)
        if output:
            print(output.decode(errors="replace")[-2000:], file=sys.stderr)
        return 1
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
        clean_up(args, state, name if created else None)


def clean_up(args: argparse.Namespace, state: State, database: str | None) -> None:
    try:
        _worker.clean_redis(args.redis_url, state.queue, state.delivery_ids)
    except redis.RedisError as exc:
        print(f"could not clean Redis up (queue {state.queue}): {exc}", file=sys.stderr)
    if database is not None:
        drop = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
        asyncio.run(admin_sql(args.postgres_url, drop))


if __name__ == "__main__":
    sys.exit(main())
