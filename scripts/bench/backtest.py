#!/usr/bin/env python3
"""Backtest benchmark: one rule against 100,000 posts of the last 90 days, over HTTP.

    .venv/bin/python scripts/bench/backtest.py [--posts N] [--postgres-url URL]

Creates a scratch PostgreSQL database, migrates it, serves Hearth (`hearth serve`), seeds
an org, a community and ten threads through the API, then writes `--posts` posts (default
100,000) straight in SQL, as setup: automod.py's generated texts (chat lines of 4 to 100
words, about one in twenty carrying one of its rule terms, some disguised), spread evenly
over the last 89 days and the ten threads. Then, each timed end to end from the client:

- `POST /v1/automod/rules/{id}/backtest {"days": 90}` for a keyword rule (a disabled one:
  a backtest is for rules not yet turned on), then for a regex rule (automod.py's first).

Goal (issue 12, "answers in seconds for 100,000 posts"): each backtest within 5 s, and
`scanned` equal to the posts written. Prints the figures and a line per goal ending in PASS
or FAIL. Drops the database at the end, also on error or Ctrl-C. Exit code 0 whatever the
times; 1 when the setup failed or a backtest did not scan every post.
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _setup import Server, SetupError, admin_sql, call, database_url, free_port, hearth_env, seed
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
GOAL_SECONDS = 5.0
DAYS = 90
THREADS = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000, help="posts in the window")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEARTH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="admin URL to create and drop the scratch database [HEARTH_BENCH_POSTGRES_URL]",
    )
    args = parser.parse_args()
    if args.posts <= 0:
        parser.error("--posts must be positive")
    return args


def texts_and_rules(count: int) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """automod.py's posts, and its first keyword rule and first regex rule as API bodies."""
    from automod import make_posts, make_rules  # imports the app

    rng = random.Random(12)
    rules = make_rules(rng)
    keyword = next(r for r in rules if r.kind == "keyword")
    pattern = next(r for r in rules if r.kind == "regex")
    # The keyword rule's term in one post in twenty: a backtest that finds something.
    posts = make_posts(rng, [keyword], count)
    bodies = [
        {"name": r.name, "kind": r.kind, "config": r.config, "action": "hold", "enabled": False}
        for r in (keyword, pattern)
    ]
    return posts, bodies[0], bodies[1]


async def write_posts(db_url: str, community_id: str, texts: list[str]) -> None:
    """Copies of a thread's opening post, one per text, spread over the window and the
    threads, in one INSERT … SELECT (every other column as the API wrote it)."""
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        columns = [
            row["column_name"]
            for row in await conn.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'forum_posts' ORDER BY ordinal_position"
            )
        ]
        made = {
            "id": "gen_random_uuid()",
            "thread_id": "threads.ids[1 + (t.n % cardinality(threads.ids))]",
            "body": "t.body",
            "body_html": "'<p>' || t.body || '</p>'",
            "created_at": f"now() - (t.n * interval '{DAYS - 1} days' / $2::int)",
        }
        select = ", ".join(made.get(c, f"p.{c}") for c in columns)
        await conn.execute(
            f"INSERT INTO forum_posts ({', '.join(columns)})"
            f" SELECT {select}"
            " FROM unnest($1::text[]) WITH ORDINALITY AS t(body, n),"
            " (SELECT array_agg(id) AS ids FROM forum_threads WHERE community_id = $3) AS threads,"
            " (SELECT * FROM forum_posts WHERE community_id = $3 LIMIT 1) AS p",
            texts,
            len(texts),
            community_id,
        )
        await conn.execute("ANALYZE forum_posts")
    finally:
        await conn.close()


def timed_backtest(client: httpx.Client, key: str, rule_id: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    out = call(
        client, "POST", f"/v1/automod/rules/{rule_id}/backtest", key, 200, json={"days": DAYS}
    )
    return time.perf_counter() - started, out


def bench(args: argparse.Namespace, db_url: str, work: Path, servers: list[Server]) -> int:
    admin_token = secrets.token_urlsafe(24)
    env = hearth_env(db_url, admin_token)
    hearth_bin = str(Path(sys.executable).parent / "hearth")
    subprocess.run([hearth_bin, "migrate"], env=env, cwd=work, check=True, capture_output=True)
    argv = [hearth_bin, "serve", "--host", "127.0.0.1", "--port", str(free_port())]
    hearth = Server("hearth", argv, env, work)
    servers.append(hearth)
    hearth.wait_ready()
    data = seed(hearth.base, admin_token, THREADS - 1)
    texts, keyword, pattern = texts_and_rules(args.posts)
    started = time.perf_counter()
    asyncio.run(write_posts(db_url, data["community_id"], texts))
    print(f"Setup: {len(texts):,} posts written in {time.perf_counter() - started:.1f} s")
    total = len(texts) + 20 + THREADS - 1  # and the API's own: openers, the read thread's
    key, path = data["staff_key"], f"/v1/communities/{data['community_id']}/automod/rules"
    ok = True
    with httpx.Client(base_url=hearth.base, timeout=120) as client:
        for label, body in (("keyword", keyword), ("regex", pattern)):
            rule_id = call(client, "POST", path, key, 201, json=body)["id"]
            seconds, out = timed_backtest(client, key, rule_id)
            hearth.check_alive(f"the {label} backtest")
            rate = out["scanned"] / seconds if seconds else 0.0
            print(
                f"{label + ' rule':<14}{seconds:6.2f} s  scanned {out['scanned']:,}"
                f"  matched {out['matched']:,}  ({rate:,.0f} posts/s; {len(out['samples'])}"
                " samples)"
            )
            passed = seconds <= GOAL_SECONDS and out["scanned"] == total
            ok = ok and out["scanned"] == total
            scanned = "" if out["scanned"] == total else f", scanned {out['scanned']} != {total}"
            print(
                f"  goal: a {label} backtest of {total:,} posts within {GOAL_SECONDS:g} s"
                f"{scanned}   {'PASS' if passed else 'FAIL'}"
            )
    return 0 if ok else 1


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    name = f"hearth_bench_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    servers: list[Server] = []
    created = False
    try:
        pg_version = asyncio.run(admin_sql(args.postgres_url, f'CREATE DATABASE "{name}"'))
        created = True
        print(
            f"Hearth backtest benchmark: PostgreSQL {pg_version}, Python"
            f" {platform.python_version()}, os.cpu_count() = {os.cpu_count()}, database {name}"
        )
        return bench(args, database_url(args.postgres_url, name), work, servers)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except (SetupError, subprocess.CalledProcessError, OSError, asyncpg.PostgresError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
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
