#!/usr/bin/env python3
"""Forum benchmark: Hearth against a bare FastAPI app on the same PostgreSQL database.

    .venv/bin/python scripts/bench/forum.py [--duration S] [--concurrency N] [--postgres-url URL]
                                             [--only read|insert] [--automod-rules]

Creates a scratch database, migrates it, serves Hearth (`hearth serve`, no Redis) and the
bare app (_bare.py) on free 127.0.0.1 ports, seeds a thread of 20 posts through the API,
then loads each server in turn from a separate process (_load.py): bare read, Hearth read,
bare insert, Hearth insert. Prints the figures and the two ratios against the goals of
issue 3 (read >= 0.6, insert >= 0.5), one line per goal ending in PASS or FAIL.

--automod-rules first creates automod.py's 1,000 keyword and 50 regex rules in the community
through the API (none matches the bench's posts), so every Hearth insert is screened by
them; the insert goal is then issue 12's (speed (b)): >= 0.45 of the bare insert.

Drops the database at the end, also on error or Ctrl-C. Exit code 0 whatever the ratios; 1
when a run had errors or the setup failed (with --automod-rules: also when a post of the
runs was not written visible).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import _load
import asyncpg
import httpx
from _setup import (
    Server,
    SetupError,
    admin_sql,
    call,
    database_url,
    free_port,
    hearth_env,
    seed,
)
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
GOALS = {"read": 0.6, "insert": 0.5}
AUTOMOD_GOAL = 0.45  # issue 12, speed (b): the insert ratio with the 1,050 rules enabled
RULE_SEED = 12  # automod.py's default --seed: the same rules as that benchmark
RULE_CONCURRENCY = 8  # rule creations in flight during the setup


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
        "--automod-rules",
        action="store_true",
        help="create 1,000 keyword + 50 regex automod rules first (insert goal: issue 12, 0.45)",
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


def goals(args: argparse.Namespace) -> dict[str, tuple[str, float]]:
    """Per kind of run: the label of its goal line and the goal."""
    if not args.automod_rules:
        return {kind: (kind, goal) for kind, goal in GOALS.items()}
    return {
        "read": ("read", GOALS["read"]),
        "insert": ("insert (1,050 automod rules)", AUTOMOD_GOAL),
    }


def automod_rules() -> list[dict[str, Any]]:
    """The rules of automod.py (same generator, same seed) as API bodies: 1,000 keyword rules
    of one pseudo-word term each, 50 regex rules. The bench's posts are fixed Markdown plus
    "(label, client C, post N)", and keyword rules match leetspeak: a term spelled only by
    letters that digits fold to (`toto`: "post 7070" reads "post toto") is replaced by another
    pseudo-word, so that no post of the runs matches (screened offline against the compiled
    rules for C < 64, N < 200,000; check_rules dry-runs the templates at every start)."""
    from automod import SYLLABLES, make_rules  # imports the app: only with --automod-rules

    from app.moderation.text import LEET

    digit_letters = {LEET[ord(d)] for d in "0123456789" if ord(d) in LEET} | {" "}
    rng = random.Random(RULE_SEED)
    rules = make_rules(rng)
    terms = {r.config["terms"][0] for r in rules if r.kind == "keyword"}
    bodies = []
    for r in rules:
        config = dict(r.config)
        if r.kind == "keyword" and set(config["terms"][0]) <= digit_letters:
            term = config["terms"][0]
            while term in terms or set(term) <= digit_letters:
                term = "".join(rng.choice(SYLLABLES) for _ in range(3))
            terms.add(term)
            config["terms"] = [term]
        bodies.append(
            {
                "name": r.name,
                "kind": r.kind,
                "config": config,
                "action": r.action,
                "severity": r.severity,
                "exempt_roles": r.exempt_roles,
            }
        )
    return bodies


async def create_rules(base: str, data: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
    """POST every rule with the staff key, RULE_CONCURRENCY at a time."""
    path = f"/v1/communities/{data['community_id']}/automod/rules"
    headers = {"Authorization": f"Bearer {data['staff_key']}"}
    slots = asyncio.Semaphore(RULE_CONCURRENCY)

    async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        async with slots:
            response = await client.post(path, json=body)
        if response.status_code != 201:
            raise SetupError(f"POST {path}: {response.status_code} {response.text[:500]}")

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await asyncio.gather(*(create(client, body) for body in bodies))


def check_rules(base: str, data: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
    """The community lists every rule, enabled; a dry run matches a rule's term and none of
    the bench's post templates."""
    cid, key = data["community_id"], data["staff_key"]
    enabled: Counter[str] = Counter()
    with httpx.Client(base_url=base, timeout=30) as c:
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = call(c, "GET", f"/v1/communities/{cid}/automod/rules", key, 200, params=params)
            enabled.update(rule["kind"] for rule in page["items"] if rule["enabled"])
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        if enabled != Counter(body["kind"] for body in bodies):
            raise SetupError(f"the community's enabled rules are {dict(enabled)}")
        test = f"/v1/communities/{cid}/automod/test"
        term = bodies[0]["config"]["terms"][0]
        out = call(c, "POST", test, key, 200, json={"text": f"Selling {term}, cheap"})
        if out["decision"] == "allow":
            raise SetupError(f"a dry run of {term!r} matched no rule: {out}")
        templates = len(_load.OPENINGS) * len(_load.CLOSINGS)
        for n in range(templates):
            text = _load.post_body("hearth insert", 0, n)
            out = call(c, "POST", test, key, 200, json={"text": text})
            if out["matches"]:
                raise SetupError(f"the bench's post {text!r} matches {out['matches']}")


def add_automod_rules(base: str, data: dict[str, Any]) -> None:
    bodies = automod_rules()
    started = time.perf_counter()
    asyncio.run(create_rules(base, data, bodies))
    took = time.perf_counter() - started
    check_rules(base, data, bodies)
    kinds = Counter(body["kind"] for body in bodies)
    print(
        f"Automod: {kinds['keyword']:,} keyword + {kinds['regex']:,} regex rules created in"
        f" {took:.1f} s, all enabled; the bench's post templates match none",
        flush=True,
    )


async def hearth_post_statuses(db_url: str) -> tuple[Counter[str], int]:
    """The statuses of the posts Hearth wrote during the insert runs, and the review items."""
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT status, count(*) FROM forum_posts"
            " WHERE body LIKE '%(hearth insert, client %' GROUP BY status"
        )
        items = await conn.fetchval("SELECT count(*) FROM review_items")
    finally:
        await conn.close()
    return Counter({row[0]: row[1] for row in rows}), items


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
    if args.automod_rules:
        add_automod_rules(hearth.base, data)
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


def report(rounds: list[list[dict[str, Any]]], args: argparse.Namespace) -> bool:
    """Print the table and the ratios; True when no run had an error."""
    print_table(rounds)
    clean = not any(r["errors"] for results in rounds for r in results)
    print()
    lines = goals(args)
    width = max(len(label) for label, _ in lines.values()) + 1
    for kind, (label, goal) in lines.items():
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
        verdict = "PASS" if ratio >= goal else "FAIL"
        if errors:
            verdict = f"invalid ({errors} errors): FAIL"
        each = f" (rounds: {', '.join(f'{x:.2f}' for x in ratios)})" if len(ratios) > 1 else ""
        cpu = f"{statistics.median(cpu_ratios):.2f}" if cpu_ratios else "-"
        print(
            f"{label:<{width}}Hearth / bare req/s = {ratio:.2f}{each}"
            f"   goal >= {goal:g}   {verdict}"
            f"\n{'':<{width}}(server CPU per request, bare / Hearth = {cpu})"
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
    clean = report(rounds, args)
    if args.automod_rules and args.only != "read":
        statuses, items = asyncio.run(hearth_post_statuses(db_url))
        hidden = sum(count for status, count in statuses.items() if status != "visible")
        written = ", ".join(f"{count:,} {status}" for status, count in sorted(statuses.items()))
        print(
            f"\nAutomod: Hearth's inserts were written {written or 'none'}; review items: {items}"
            + ("" if hidden == 0 and items == 0 else " (INVALID: rules matched the bench's posts)")
        )
        clean = clean and hidden == 0 and items == 0
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
        if args.automod_rules:
            print("Automod: 1,000 keyword + 50 regex rules in the community (insert goal 0.45)")
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
