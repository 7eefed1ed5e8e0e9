#!/usr/bin/env python3
"""Launcher feed benchmark: Hearth's feed against the least a server can do for the same
answer, on one core, with a closed-loop generator on another.

    .venv/bin/python scripts/bench/feed.py [--duration S] [--concurrency N] [--variants N]
        [--cache-bytes N] [--postgres-url URL]

Creates a scratch PostgreSQL database, migrates it, starts `hearth serve` (one uvicorn
worker, pinned to core 0) and seeds, through the API, a launcher feed of 20 published
items. Then, each server pinned to core 0 and the generator (_load.py, N keep-alive
connections) to core 1:

(a) the cached 200 of the feed against a raw ASGI app (_feed_apps.py raw) serving the same
    bytes and headers under the same uvicorn settings: goal at least 0.5 of its rate;
(b) the 304 (If-None-Match) against the same raw app's 304: goal at least 0.5;
(c) the uncached render (a second Hearth with HEARTH_FEED_CACHE_BYTES=0, each connection
    asking its own feed of the same 20 items, so that no two requests share a read or a
    render: every request reads and renders a feed) against a bare FastAPI endpoint that
    reads the same 20 rows in one query and returns them as JSON (_feed_apps.py bare),
    each connection its own feed too: goal at least 0.3;
(d) memory: N distinct variants (`?platform=…`) asked of the cached Hearth, whose cache is
    bounded by --cache-bytes, and of the uncached one: the cache's own count, and the
    cached process's resident memory growth beyond the uncached one's, must stay under
    the bound.

Prints the figures and one line per goal ending in PASS or FAIL. Drops the database at the
end, also on error or Ctrl-C. Exit code 0 whatever the ratios; 1 when a run had errors or
the setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import shutil
import signal
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
import httpx
from _setup import Server, SetupError, admin_sql, call, database_url, free_port, hearth_env
from forum import cpu_per_request, fmt, machine_busy

HERE = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PUBLIC_URL = "https://news.example"  # the same absolute URLs from every Hearth
GOALS = {"cached 200": 0.5, "304": 0.5, "uncached": 0.3}
SERVER_CPU, LOAD_CPU = 0, 1
BODY = (
    "The **patch** brings new ships, a reworked map and fixes for the launcher.\n\n"
    "- Faster loading\n- Fewer crashes on start\n- [Full notes](https://example.com/notes)"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--variants", type=int, default=10_000, help="(d): distinct variants")
    parser.add_argument(
        "--cache-bytes", type=int, default=32 * 1_048_576, help="(d): the cache's bound"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEARTH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="admin URL to create and drop the scratch database [HEARTH_BENCH_POSTGRES_URL]",
    )
    args = parser.parse_args()
    for name in ("duration", "concurrency", "variants", "cache_bytes"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def pinned(argv: list[str]) -> list[str]:
    """The command on the server's core (taskset), when the machine has a second one."""
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(SERVER_CPU), *argv]
    return argv


def start(name: str, argv: list[str], env: dict[str, str], work: Path, servers: list) -> Server:
    server = Server(name, pinned(argv), env, work)
    servers.append(server)
    server.wait_ready()
    return server


def seed(base: str, admin_token: str, feeds: int) -> dict[str, Any]:
    """Through the API: an org, a community, `feeds` launcher feeds and 20 items published
    to all of them (the first feed is the one measured; the others give the uncached run
    one feed per connection)."""
    with httpx.Client(base_url=base, timeout=30) as c:
        key = call(c, "POST", "/v1/orgs", admin_token, 201, json={"name": "Bench"})["owner_key"]
        community = {"slug": "bench", "name": "Bench", "locales": ["en", "de"]}
        cid = call(c, "POST", "/v1/communities", key, 201, json=community)["id"]
        feed_ids = []
        for n in range(feeds):
            channel = {"name": f"launcher-{n}", "kind": "launcher_feed", "config": {}}
            created = call(c, "POST", f"/v1/communities/{cid}/channels", key, 201, json=channel)
            feed_ids.append(created["id"])
        feed_id = feed_ids[0]
        items = []
        # An item goes to at most 20 channels: the same 20 items for each group of feeds.
        for group in range(0, feeds, 20):
            for n in range(20):
                draft = {
                    "kind": "patch_notes" if n % 3 else "announcement",
                    "title": f"Patch 1.{n}: what changed",
                    "body": BODY,
                    "channel_ids": feed_ids[group : group + 20],
                    "tags": ["patch", f"season-{n % 4}"],
                    "translations": {"de": {"title": f"Patch 1.{n}", "body": BODY}},
                    "feed": {"summary": f"Update {n}", "pinned": n == 0, "priority": n % 5},
                }
                item = call(c, "POST", f"/v1/communities/{cid}/content", key, 201, json=draft)
                call(c, "POST", f"/v1/content/{item['id']}/publish", key, 202)
                items.append(item["id"])
        deadline = time.monotonic() + 60
        for item_id in items:
            while True:
                rows = call(c, "GET", f"/v1/content/{item_id}/deliveries", key, 200)
                if all(row["status"] == "delivered" for row in rows):
                    break
                if time.monotonic() > deadline:
                    raise SetupError(f"item {item_id} was not delivered to the feed")
                time.sleep(0.05)
    return {
        "feed_id": feed_id,
        "feed_ids": feed_ids,
        "path": f"/v1/feeds/{feed_id}?locale=en",
    }


def capture(base: str, path: str, work: Path) -> tuple[Path, dict[str, Any]]:
    """Hearth's answer, saved for the raw app to serve byte for byte."""
    answer = httpx.get(base + path, timeout=10)
    if answer.status_code != 200 or len(answer.json()["items"]) != 20:
        raise SetupError(f"the feed answered {answer.status_code}: {answer.text[:300]}")
    saved = {
        "headers": [[k, v] for k, v in answer.headers.items() if k != "content-length"],
        "body": base64.b64encode(answer.content).decode(),
    }
    file = work / "answer.json"
    file.write_text(json.dumps(saved))
    return file, {"etag": answer.headers["etag"], "bytes": len(answer.content)}


def load(
    pool: ProcessPoolExecutor,
    args: argparse.Namespace,
    label: str,
    server: Server,
    paths: tuple[str, ...],
    expected: int,
    headers: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    spec = _load.Spec(
        label=label,
        port=server.port,
        method="GET",
        paths=paths,
        token="",
        expected=expected,
        concurrency=args.concurrency,
        warmup=args.warmup,
        duration=args.duration,
        server_pid=server.proc.pid,
        headers=headers,
        cpu=LOAD_CPU if (os.cpu_count() or 1) > 1 else None,
    )
    print(f"  {label} …", flush=True)
    result = pool.submit(_load.run, spec).result()
    server.check_alive(label)
    return result


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SetupError("no VmRSS in /proc")


def cache_bytes(server: Server) -> float:
    for line in httpx.get(f"{server.base}/metrics", timeout=10).text.splitlines():
        if line.startswith("hearth_feed_cache_bytes "):
            return float(line.split()[-1])
    raise SetupError("hearth_feed_cache_bytes is not in /metrics")


async def ask_variants(server: Server, feed_id: str, count: int) -> int:
    """`count` distinct variants of the feed, 16 at a time; answers the errors."""
    todo = iter(range(count))
    errors = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in todo:
            answer = await client.get(f"/v1/feeds/{feed_id}?locale=en&platform=p{n}")
            errors += answer.status_code != 200

    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(16)))
    return errors


def memory(
    args: argparse.Namespace, cached: Server, uncached: Server, feed_id: str
) -> dict[str, Any]:
    """The variants asked of both Hearths: the cached one's growth beyond the uncached
    one's (same requests, same rendering) is what its cache really holds."""
    growth, errors = {}, 0
    for server in (cached, uncached):
        print(f"  (d) {args.variants:,} distinct variants, {server.name} …", flush=True)
        before = resident_bytes(server.proc.pid)
        errors += asyncio.run(ask_variants(server, feed_id, args.variants))
        growth[server.name] = resident_bytes(server.proc.pid) - before
    return {
        "errors": errors,
        "cache_bytes": cache_bytes(cached),
        "growth": growth[cached.name],
        "growth_uncached": growth[uncached.name],
    }


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"\n{'run':<18}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'server':>8}{'CPU/req':>10}{'loadgen':>8}{'machine':>8}"
    )
    for r in results:
        server = r["server_cpu_s"] and r["server_cpu_s"] / r["duration"]
        print(
            f"{r['label']:<18}{r['requests']:>9}{r['errors']:>7}{r['rps']:>8.0f}"
            f"{fmt(r['p50_ms'], '.1f'):>8}{fmt(r['p99_ms'], '.1f'):>8}"
            f"{fmt(server, '.0%'):>8}{fmt(cpu_per_request(r), '.0f', ' us'):>10}"
            f"{r['loadgen_cpu_s'] / r['duration']:>8.0%}{fmt(r['machine_busy'], '.0%'):>8}"
        )
    print(
        "\nserver / loadgen: CPU time of that process over the run (100% = one core busy);"
        "\nCPU/req: the server's CPU time per request; machine: how busy all cores were."
    )


def report(results: dict[str, dict[str, Any]], mem: dict[str, Any], bound: int) -> bool:
    print_table(list(results.values()))
    clean = not any(r["errors"] for r in results.values()) and not mem["errors"]
    print()
    pairs = {
        "cached 200": ("raw 200", "hearth 200"),
        "304": ("raw 304", "hearth 304"),
        "uncached": ("bare FastAPI", "hearth uncached"),
    }
    for goal_name, (base_label, hearth_label) in pairs.items():
        base, hearth = results[base_label], results[hearth_label]
        ratio = hearth["rps"] / base["rps"] if base["rps"] else 0.0
        invalid = base["errors"] or hearth["errors"]
        verdict = "INVALID (errors)" if invalid else "PASS" if ratio >= GOALS[goal_name] else "FAIL"
        print(
            f"{goal_name:<11} Hearth / {base_label} req/s = {ratio:.2f}"
            f"   goal >= {GOALS[goal_name]}   {verdict}"
        )
    mib = 1_048_576
    held = mem["growth"] - mem["growth_uncached"]
    within = mem["cache_bytes"] <= bound and held <= bound
    verdict = "INVALID (errors)" if mem["errors"] else "PASS" if within else "FAIL"
    print(
        f"memory      the cache counts {mem['cache_bytes'] / mib:.1f} MiB; resident memory"
        f" +{mem['growth'] / mib:.1f} MiB (uncached Hearth: +{mem['growth_uncached'] / mib:.1f}"
        f" MiB), so the cache holds {held / mib:.1f} MiB   goal <= {bound / mib:.0f} MiB (the"
        f" bound)   {verdict}"
    )
    for r in results.values():
        for sample in r["error_samples"][:3]:
            print(f"  {r['label']} error: {sample[:160]}")
    return clean


def bench(args: argparse.Namespace, db_url: str, work: Path, servers: list[Server]) -> int:
    admin_token = secrets.token_urlsafe(24)
    env = hearth_env(db_url, admin_token)
    env.update(HEARTH_PUBLIC_URL=PUBLIC_URL, HEARTH_FEED_CACHE_BYTES=str(args.cache_bytes))
    hearth_bin = str(Path(sys.executable).parent / "hearth")
    subprocess.run([hearth_bin, "migrate"], env=env, cwd=work, check=True, capture_output=True)

    def serve(port: int) -> list[str]:
        return [hearth_bin, "serve", "--host", "127.0.0.1", "--port", str(port)]

    hearth = start("hearth", serve(free_port()), env, work, servers)
    data = seed(hearth.base, admin_token, 1 + args.concurrency)
    answer_file, answer = capture(hearth.base, data["path"], work)
    print(f"Seeded a feed of 20 items: {answer['bytes']:,} bytes of Hearth JSON")
    apps = [sys.executable, str(HERE / "_feed_apps.py")]
    raw = start(
        "raw",
        [*apps, "raw", "--port", str(free_port()), "--answer", str(answer_file)],
        env,
        work,
        servers,
    )
    uncached = start(
        "uncached", serve(free_port()), {**env, "HEARTH_FEED_CACHE_BYTES": "0"}, work, servers
    )
    bare = start("bare", [*apps, "bare", "--port", str(free_port())], env, work, servers)

    etag = (("if-none-match", answer["etag"]),)
    one = (data["path"],)
    # Uncached: each connection asks its own feed (the same 20 items in each), so requests
    # in flight together never share a read or a render: every request does both. The
    # bare endpoint reads each connection's own feed alike.
    own = tuple(f"/v1/feeds/{feed}?locale=en" for feed in data["feed_ids"][1:])
    own_bare = tuple(f"/feed/{feed}" for feed in data["feed_ids"][1:])
    results = {}
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        for label, server, paths, expected, headers in (
            ("raw 200", raw, one, 200, ()),
            ("hearth 200", hearth, one, 200, ()),
            ("raw 304", raw, one, 304, etag),
            ("hearth 304", hearth, one, 304, etag),
            ("bare FastAPI", bare, own_bare, 200, ()),
            ("hearth uncached", uncached, own, 200, ()),
        ):
            results[label] = load(pool, args, label, server, paths, expected, headers)
    mem = memory(args, hearth, uncached, data["feed_id"])
    clean = report(results, mem, args.cache_bytes)
    if (os.cpu_count() or 1) < 4:
        print(
            f"\nNote: {os.cpu_count()} cores: the server has core {SERVER_CPU} (PostgreSQL may"
            f" share it), the generator core {LOAD_CPU}; compare the ratios, and run it twice."
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
            f"Hearth feed benchmark: PostgreSQL {pg_version}, Python {platform.python_version()}"
            f", os.cpu_count() = {os.cpu_count()}\n{args.concurrency} connections,"
            f" {args.warmup:g} s warm-up + {args.duration:g} s per run, database {name}"
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
