#!/usr/bin/env python3
"""Forum benchmark: Hearth against a bare FastAPI app on the same PostgreSQL database.

    .venv/bin/python scripts/bench/forum.py [--duration S] [--concurrency N] [--postgres-url URL]

Creates a scratch database, migrates it, serves Hearth (`hearth serve`, no Redis) and the
bare app (_bare.py) on free 127.0.0.1 ports, seeds a thread of 20 posts through the API,
then loads each server in turn from a separate process (_load.py): bare read, Hearth read,
bare insert, Hearth insert. Prints the figures and the two ratios against the goals of
issue 3 (read >= 0.6, insert >= 0.5). Drops the database at the end, also on error or
Ctrl-C. Exit code 0 whatever the ratios; 1 when a run had errors or the setup failed.
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
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import _load
import asyncpg
from _setup import Server, SetupError, admin_sql, database_url, free_port, hearth_env, seed

HERE = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
GOALS = {"read": 0.6, "insert": 0.5}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the four runs; ratios are the median"
    )
    parser.add_argument(
        "--only", choices=sorted(GOALS), help="measure only reads or only inserts (quicker)"
    )
    parser.add_argument(
        "--write-threads",
        type=int,
        default=1,
        help="threads the inserts are spread over (1: every client posts to the same thread)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEARTH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="admin URL to create and drop the scratch database [HEARTH_BENCH_POSTGRES_URL]",
    )
    args = parser.parse_args()
    for name in ("duration", "concurrency", "rounds", "write_threads"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def machine_busy(seconds: float = 1.0) -> float | None:
    before = _load.machine_ticks()
    time.sleep(seconds)
    after = _load.machine_ticks()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def start_servers(
    args: argparse.Namespace, db_url: str, work: Path, servers: list[Server]
) -> tuple[Server, Server, dict[str, Any]]:
    admin_token = secrets.token_urlsafe(24)
    env = hearth_env(db_url, admin_token)
    hearth_bin = str(Path(sys.executable).parent / "hearth")
    migrate = [hearth_bin, "migrate"]
    subprocess.run(migrate, env=env, cwd=work, check=True, capture_output=True)
    argv = [hearth_bin, "serve", "--host", "127.0.0.1", "--port", str(free_port())]
    hearth = Server("hearth", argv, env, work)
    servers.append(hearth)
    hearth.wait_ready()
    data = seed(hearth.base, admin_token, args.write_threads)
    argv = [sys.executable, str(HERE / "_bare.py"), "--port", str(free_port())]
    for key in ("org_id", "community_id", "member_id"):
        argv += [f"--{key.replace('_', '-')}", data[key]]
    bare = Server("bare", argv, env, work)
    servers.append(bare)
    bare.wait_ready()
    return hearth, bare, data


def measure_round(
    args: argparse.Namespace, pool: ProcessPoolExecutor, servers: dict[str, Server], data: dict
) -> list[dict[str, Any]]:
    results = []
    for kind, method, paths, expected in (
        ("read", "GET", data["read_paths"], 200),
        ("insert", "POST", data["write_paths"], 201),
    ):
        if args.only and kind != args.only:
            continue
        for name in ("bare", "hearth"):
            label = f"{name} {kind}"
            spec = _load.Spec(
                label=label,
                port=servers[name].port,
                method=method,
                paths=paths,
                token=data["token"],
                expected=expected,
                concurrency=args.concurrency,
                warmup=args.warmup,
                duration=args.duration,
                server_pid=servers[name].proc.pid,
            )
            print(f"  {label} …", flush=True)
            results.append(pool.submit(_load.run, spec).result())
            servers[name].check_alive(label)
    return results


def fmt(value: float | None, pattern: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, pattern) + suffix


def cpu_per_request(r: dict[str, Any]) -> float | None:
    cpu = r["server_cpu_s"]
    return cpu / r["requests"] * 1e6 if cpu is not None and r["requests"] else None


def print_table(rounds: list[list[dict[str, Any]]]) -> None:
    print(
        f"\n{'run':<16}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'server':>8}{'CPU/req':>10}{'loadgen':>8}{'machine':>8}"
    )
    for number, results in enumerate(rounds, 1):
        for r in results:
            label = r["label"] + (f" #{number}" if len(rounds) > 1 else "")
            server = r["server_cpu_s"] and r["server_cpu_s"] / r["duration"]
            print(
                f"{label:<16}{r['requests']:>9}{r['errors']:>7}{r['rps']:>8.0f}"
                f"{fmt(r['p50_ms'], '.1f'):>8}{fmt(r['p99_ms'], '.1f'):>8}"
                f"{fmt(server, '.0%'):>8}{fmt(cpu_per_request(r), '.0f', ' us'):>10}"
                f"{r['loadgen_cpu_s'] / r['duration']:>8.0%}{fmt(r['machine_busy'], '.0%'):>8}"
            )
    print(
        "\nserver / loadgen: CPU time of that process over the run (100% = one core busy);"
        "\nCPU/req: the server's CPU time per request; machine: how busy all cores were."
    )


def report(rounds: list[list[dict[str, Any]]]) -> bool:
    """Print the table and the ratios; True when no run had an error."""
    print_table(rounds)
    clean = not any(r["errors"] for results in rounds for r in results)
    print()
    for kind, goal in GOALS.items():
        ratios, cpu_ratios, errors = [], [], 0
        for results in rounds:
            by_label = {r["label"]: r for r in results}
            if f"bare {kind}" not in by_label:
                continue  # --only the other kind
            bare, hearth = by_label[f"bare {kind}"], by_label[f"hearth {kind}"]
            errors += bare["errors"] + hearth["errors"]
            ratios.append(hearth["rps"] / bare["rps"] if bare["rps"] else 0.0)
            cpu = cpu_per_request(bare), cpu_per_request(hearth)
            if cpu[0] and cpu[1]:
                cpu_ratios.append(cpu[0] / cpu[1])
        if not ratios:
            continue
        ratio = statistics.median(ratios)
        verdict = "PASS" if ratio >= goal else "MISS"
        if errors:
            verdict = f"INVALID: {errors} errors"
        each = f" (rounds: {', '.join(f'{x:.2f}' for x in ratios)})" if len(ratios) > 1 else ""
        cpu = f"{statistics.median(cpu_ratios):.2f}" if cpu_ratios else "-"
        print(
            f"{kind:<7} Hearth / bare req/s = {ratio:.2f}{each}   goal >= {goal:.1f}   {verdict}"
            f"\n        (server CPU per request, bare / Hearth = {cpu})"
        )
    for results in rounds:
        for r in results:
            for sample in r["error_samples"][:3]:
                print(f"  {r['label']} error: {sample[:160]}")
    return clean


def bench(args: argparse.Namespace, db_url: str, work: Path, servers: list[Server]) -> int:
    hearth, bare, data = start_servers(args, db_url, work, servers)
    rounds = []
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        for _ in range(args.rounds):
            rounds.append(measure_round(args, pool, {"hearth": hearth, "bare": bare}, data))
    clean = report(rounds)
    if (os.cpu_count() or 1) < 4:
        print(
            f"\nNote: {os.cpu_count()} cores are shared by the server under test, PostgreSQL and"
            " the load generator\n(and whatever else runs): the rates are noisy and low; compare"
            " the ratios, and run it twice."
        )
    return 0 if clean else 1


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    name = f"hearth_bench_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-"))  # servers' cwd: no stray .env
    servers: list[Server] = []
    created = False
    try:
        busy = machine_busy()
        pg_version = asyncio.run(admin_sql(args.postgres_url, f'CREATE DATABASE "{name}"'))
        created = True
        print(
            f"Hearth forum benchmark: PostgreSQL {pg_version}, Python {platform.python_version()}"
            f", os.cpu_count() = {os.cpu_count()}\n{args.concurrency} clients, {args.warmup:g} s"
            f" warm-up + {args.duration:g} s per run, {args.rounds} round(s), inserts over"
            f" {args.write_threads} thread(s), database {name}"
        )
        if busy is not None:
            warning = "  (other work is running: expect noise)" if busy > 0.2 else ""
            print(f"Machine busy before start: {busy:.0%}{warning}")
        return bench(args, database_url(args.postgres_url, name), work, servers)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except (SetupError, subprocess.CalledProcessError, OSError, asyncpg.PostgresError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        output = getattr(exc, "stdout", None) or getattr(exc, "stderr", None)
        if output:
            print(output.decode(errors="replace")[-2000:], file=sys.stderr)
        return 1
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
        if created:
            drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            asyncio.run(admin_sql(args.postgres_url, drop))


if __name__ == "__main__":
    sys.exit(main())
