"""The `hearth` command as a self-hoster uses it: migrate, create-org, seed-demo, worker."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.events import OutboxEvent
from tests.conftest import fresh_database, http_client, make_settings, running_app
from tests.processes import free_port, hearth_env, hearth_process, wait_healthy
from tests.schedule.conftest import eventually

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def hearth(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    environment.update(HEARTH_DATABASE_URL=database_url, **env)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.long
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_migrate_create_org_and_seed_demo(backend: str, tmp_path: Path) -> None:
    async with fresh_database(backend, tmp_path) as url:
        await seed_and_use(url)


async def seed_and_use(url: str) -> None:
    migrated = hearth("migrate", database_url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout

    created = hearth("create-org", "Nebula Interactive", database_url=url)
    assert created.returncode == 0, created.stderr
    (owner_key,) = re.findall(r"hk_[\w-]+", created.stdout)

    seeded = hearth("seed-demo", database_url=url)
    assert seeded.returncode == 0, seeded.stderr
    keys = dict(
        re.findall(
            r"^\s+(owner|manager|moderator|analyst|viewer)\s+(hk_[\w-]+)$", seeded.stdout, re.M
        )
    )
    assert set(keys) == {"owner", "manager", "moderator", "analyst", "viewer"}

    async with running_app(make_settings(url)) as app, http_client(app) as client:
        org = await client.get("/v1/org", headers={"Authorization": f"Bearer {owner_key}"})
        assert org.json()["name"] == "Nebula Interactive"
        demo = await client.get(
            "/v1/communities", headers={"Authorization": f"Bearer {keys['viewer']}"}
        )
        communities = demo.json()["items"]
        assert [c["slug"] for c in communities] == ["starfall", "pixel-racers"]
        channels = await client.get(
            f"/v1/communities/{communities[0]['id']}/channels",
            headers={"Authorization": f"Bearer {keys['viewer']}"},
        )
        assert [c["kind"] for c in channels.json()["items"]] == ["forum", "launcher_feed"]
        # The calendar is filled: patch notes in two days, a weekly update every Friday.
        now = datetime.now(UTC)
        calendar = await client.get(
            f"/v1/communities/{communities[0]['id']}/calendar",
            params={"from": now.isoformat(), "to": (now + timedelta(days=15)).isoformat()},
            headers={"Authorization": f"Bearer {keys['viewer']}"},
        )
        titles = [e["title"] for e in calendar.json()["items"]]
        assert titles.count("Patch 3.0.1") == 1 and titles.count("This week in Starfall") >= 2
        # The announcement goes out once Hearth runs (the in-process sweep finds its rows).
        content = f"/v1/communities/{communities[0]['id']}/content?kind=announcement"
        viewer = {"Authorization": f"Bearer {keys['viewer']}"}

        async def announced() -> bool:
            items = (await client.get(content, headers=viewer)).json()["items"]
            return [i["status"] for i in items] == ["published"]

        await eventually(announced, timeout=20)
        # The launcher feed it prints shows them, in German too.
        (feed,) = re.findall(r"(/v1/feeds/\S+)\s", seeded.stdout)

        async def in_the_feed() -> list[str]:
            answer = await client.get(feed, headers={"accept-language": "de"})
            if answer.status_code != 200:
                return []
            titles = [i["title"] for i in answer.json()["items"]]
            return titles if len(titles) == 2 else []

        titles = await eventually(in_the_feed, timeout=20)
        # Pinned first; the event in its German translation.
        assert titles == [
            "Season 3: the Nebula frontier opens",
            "Nebula-Wochenende: doppelte Belohnungen",
        ]
        denied = await client.post(
            "/v1/communities",
            json={"slug": "x", "name": "X"},
            headers={"Authorization": f"Bearer {keys['viewer']}"},
        )
        assert denied.status_code == 403

    # The member-token command seed-demo prints gives a token the forum accepts.
    (command,) = re.findall(r"hearth (member-token .+)$", seeded.stdout, re.M)
    args = shlex.split(command)
    token = hearth(*args, database_url=url)
    assert token.returncode == 0, token.stderr
    member = {"Authorization": f"Bearer {token.stdout.strip()}"}
    async with running_app(make_settings(url)) as app, http_client(app) as client:
        community_id = args[1]
        threads = await client.get(f"/v1/communities/{community_id}/threads", headers=member)
        assert threads.status_code == 200, threads.text
        titles = {t["title"] for t in threads.json()["items"]}
        assert "Crash when docking at Hyperion station" in titles
        question = next(t for t in threads.json()["items"] if "Discord" in t["title"])
        posts = await client.get(f"/v1/threads/{question['id']}/posts", headers=member)
        assert [p["author"]["is_staff"] for p in posts.json()["items"]] == [False, True]
        reply = await client.post(
            f"/v1/threads/{question['id']}/posts", json={"body": "Thanks!"}, headers=member
        )
        assert reply.status_code == 201, reply.text
        assert reply.json()["author"]["display_name"] == "Rook"


def test_member_token_for_an_unknown_community_fails_clearly(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/mt.db"
    assert hearth("migrate", database_url=url).returncode == 0
    result = hearth("member-token", "no-such-community", "p1", "Ada", database_url=url)
    assert result.returncode == 1
    assert "No community 'no-such-community'" in result.stderr


def test_worker_refuses_to_start_without_redis(tmp_path: Path) -> None:
    result = hearth("worker", database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db")
    assert result.returncode != 0
    assert "HEARTH_REDIS_URL" in result.stdout + result.stderr


def test_serve_explains_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    result = hearth("serve", "--port", str(free_port()), database_url=url)
    assert result.returncode == 1
    assert "hearth migrate" in result.stdout + result.stderr


def test_invalid_settings_are_reported_clearly(tmp_path: Path) -> None:
    result = hearth(
        "migrate", database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", HEARTH_PORT="not-a-port"
    )
    assert result.returncode != 0
    assert "HEARTH_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_schema_writes_both_files(tmp_path: Path) -> None:
    result = hearth("export-schema", "--out", str(tmp_path), database_url="sqlite+aiosqlite://")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "openapi.json").read_text().startswith("{")
    assert "type Query" in (tmp_path / "schema.graphql").read_text()


@pytest.mark.long
async def test_events_written_by_the_cli_are_dispatched_by_the_service(tmp_path: Path) -> None:
    """Without Redis the CLI only writes outbox rows; the running service's sweep finds them."""
    url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    assert hearth("migrate", database_url=url).returncode == 0
    assert hearth("seed-demo", database_url=url).returncode == 0
    engine = create_async_engine(url)
    count = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))
    try:
        async with engine.connect() as conn:
            # 2 communities, 4 channels, and the demo forum: 2 members joined, 3 threads
            # (thread.created + post.created each) and a staff reply; the demo content: 4
            # drafts created, 2 of them scheduled; moderation: a member joined, 2 threads,
            # automod holding one, 2 reports, a mute and the member's status change.
            assert await conn.scalar(count) == 31
        async with running_app(make_settings(url)):
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                async with engine.connect() as conn:
                    if await conn.scalar(count) == 0:
                        break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the sweep did not dispatch the CLI's events")
    finally:
        await engine.dispose()


@pytest.mark.long
async def test_seed_demo_in_another_terminal_finds_the_server_the_banner_names(
    tmp_path: Path,
) -> None:
    """A newcomer serves on another port, then follows the banner in a second terminal
    (which has none of the first one's settings): seed-demo fills the served database and
    its Try line points at the served port."""
    url = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    assert hearth("migrate", database_url=url).returncode == 0
    port, log = free_port(), tmp_path / "serve.log"
    with hearth_process(["serve", "--port", str(port)], hearth_env(url), log) as server:
        await wait_healthy(f"http://127.0.0.1:{port}", server, log)
        banner = log.read_text()
        (line,) = [line for line in banner.splitlines() if "hearth seed-demo" in line]
        words = shlex.split(line)
        settings = dict(word.split("=", 1) for word in words if word.startswith("HEARTH_"))
        assert settings["HEARTH_PORT"] == str(port)
        assert settings["HEARTH_DATABASE_URL"] == url
        seeded = hearth("seed-demo", database_url=url, HEARTH_PORT=settings["HEARTH_PORT"])
    assert seeded.returncode == 0, seeded.stderr
    assert f"http://127.0.0.1:{port}/v1/communities" in seeded.stdout
    assert "Nothing answers" not in seeded.stdout
    # The member-token line names the database too: this terminal set it for one command.
    assert f"HEARTH_DATABASE_URL={url} .venv/bin/hearth member-token" in seeded.stdout
    nobody = str(free_port())  # a port nothing serves on: the command says so
    elsewhere = hearth("seed-demo", database_url=url, HEARTH_PORT=nobody)
    assert f"Nothing answers at http://127.0.0.1:{nobody}" in elsewhere.stdout


def test_the_first_screen_never_prints_a_database_password() -> None:
    from app.cli import _where_env
    from app.settings import Settings

    secret = Settings(
        _env_file=None, database_url="postgresql+asyncpg://hearth:s3cret@db.internal/hearth"
    )
    line = _where_env(secret, "127.0.0.1", 8000)
    assert "s3cret" not in line and "HEARTH_DATABASE_URL=" in line
    embedded = Settings(_env_file=None, database_url="sqlite+aiosqlite:///./other.db")
    assert _where_env(embedded, "127.0.0.1", 8001) == (
        "HEARTH_PORT=8001 HEARTH_DATABASE_URL=sqlite+aiosqlite:///./other.db "
    )


def test_serve_on_a_taken_port_says_so_before_its_first_screen(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/busy.db"
    assert hearth("migrate", database_url=url).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hearth("serve", "--port", str(port), database_url=url)
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "seed-demo" not in result.stdout  # no first screen pointing at someone else
