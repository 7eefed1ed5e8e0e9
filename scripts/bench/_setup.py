"""Setup for scripts/bench/forum.py: scratch database, server processes, seeding via the API."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import _load
import asyncpg
import httpx
import jwt
from sqlalchemy.engine import make_url

MEMBER_SECRET = secrets.token_urlsafe(32)
HIGH_LIMIT = "1000000/minute"  # the limiter still counts every post, but never refuses


class SetupError(Exception):
    pass


async def admin_sql(admin_url: str, sql: str) -> str:
    """Run one statement on the admin database; answer the server's version."""
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server subprocess on 127.0.0.1 (its `--port` argument, or `port`), logging to a file;
    ready once GET /healthz on that port answers 200."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        workdir: Path,
        port: int | None = None,
    ) -> None:
        self.name = name
        self.port = port if port is not None else int(argv[argv.index("--port") + 1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SetupError(f"{self.name} did not start; its log ends with:\n{self.tail()}")

    def check_alive(self, during: str) -> None:
        if self.proc.poll() is not None:
            raise SetupError(f"{self.name} exited during {during}:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def hearth_env(db_url: str, admin_token: str) -> dict[str, str]:
    """The environment of both servers: no HEARTH_* from outside (no Redis: in-process jobs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(
        HEARTH_DATABASE_URL=db_url,
        HEARTH_ADMIN_TOKEN=admin_token,
        HEARTH_LOG_LEVEL="WARNING",
        HEARTH_LOG_FORMAT="json",
        HEARTH_RATE_LIMIT_MEMBER_POSTS=HIGH_LIMIT,
        HEARTH_RATE_LIMIT_IP_WRITES=HIGH_LIMIT,
    )
    return env


def member_token(community_id: str) -> str:
    claims = {"sub": "bench-1", "name": "Bench Member", "aud": community_id}
    claims["exp"] = int(time.time()) + 3600
    return jwt.encode(claims, MEMBER_SECRET, algorithm="HS256")


def call(client: httpx.Client, method: str, path: str, token: str, expect: int, **kw: Any) -> Any:
    response = client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
    if response.status_code != expect:
        raise SetupError(f"{method} {path}: {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


def seed(base: str, admin_token: str, write_threads: int) -> dict[str, Any]:
    """Through the REST API: an org, a community with a member secret, a category, a thread
    of 20 posts (the read target) and `write_threads` more threads (the write targets)."""
    with httpx.Client(base_url=base, timeout=30) as c:
        created = call(c, "POST", "/v1/orgs", admin_token, 201, json={"name": "Bench"})
        key = created["owner_key"]
        new = {"slug": "bench", "name": "Bench"}
        cid = call(c, "POST", "/v1/communities", key, 201, json=new)["id"]
        secret = {"secret": MEMBER_SECRET}
        call(c, "PUT", f"/v1/communities/{cid}/member-secret", key, 204, json=secret)
        new = {"name": "General", "slug": "general"}
        category_id = call(c, "POST", f"/v1/communities/{cid}/categories", key, 201, json=new)["id"]
        token = member_token(cid)
        paths = []
        for n in range(1 + write_threads):
            new = {"category_id": category_id, "title": f"Thread {n}", "body": f"Hello, {n}!"}
            thread = call(c, "POST", f"/v1/communities/{cid}/threads", token, 201, json=new)
            paths.append(f"/v1/threads/{thread['id']}/posts")
        for n in range(1, 20):
            call(c, "POST", paths[0], token, 201, json={"body": _load.post_body("seed", 0, n)})
        page = call(c, "GET", paths[0], token, 200)
        if len(page["items"]) != 20:
            raise SetupError(f"the read thread has {len(page['items'])} posts, not 20")
    return {
        "org_id": created["org"]["id"],
        "community_id": cid,
        "member_id": page["items"][0]["author"]["id"],
        "staff_key": key,  # the org's owner key
        "token": token,
        "read_paths": (paths[0],),
        "write_paths": tuple(paths[1:]),
    }
