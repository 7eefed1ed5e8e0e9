"""Fixtures on real parts: a migrated SQLite file and a PostgreSQL database per session (per
xdist worker), a real HTTP receiver on 127.0.0.1, Redis and a real arq worker where a test
asks for them.

Which database a test runs on:
- by default SQLite, the embedded default: most rules (roles, validation, rendering,
  events) don't depend on the database, and running them twice would test nothing more;
- `@pytest.mark.both_backends` where the outcome can differ between the engines (queries,
  ordering, paging, locking, concurrency, constraints, time and JSON types): SQLite and
  PostgreSQL;
- tests of background jobs (`jobs_settings`) run on both real stacks: SQLite with the
  in-process runner, and PostgreSQL with a real arq worker on Redis.

PostgreSQL and Redis are used when reachable; with HEARTH_TEST_REQUIRE_SERVICES=1 (CI) a
missing service fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

# Tests configure Hearth explicitly; a developer's own HEARTH_* variables must not leak in.
for _name in list(os.environ):
    if _name.startswith("HEARTH_") and not _name.startswith("HEARTH_TEST_"):
        del os.environ[_name]

from app.cli import alembic_config  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import metadata  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.receiver import Receiver  # noqa: E402

REQUIRE_SERVICES = os.environ.get("HEARTH_TEST_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "HEARTH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
ADMIN_TOKEN = "test-admin-token"
ROLES = ("owner", "manager", "moderator", "analyst", "viewer")
BACKENDS = ("sqlite", "postgresql")


def worker_redis_url(base: str, worker: str | None) -> str:
    """A Redis database per xdist worker (gw0 → the base database, gw1 → the one below, …),
    because arq tests clear theirs when they finish. Database 0, where a developer's own data
    usually lives, is never used by a worker."""
    if not worker:
        return base
    parts = urlsplit(base)
    base_db = int(parts.path.strip("/") or 0)
    db = base_db - int(worker.removeprefix("gw"))
    if db < 1:
        raise pytest.UsageError(
            f"Too many test workers for the Redis databases 1 to {base_db}: pass -n "
            f"{base_db} or fewer, or point HEARTH_TEST_REDIS_URL at a higher database."
        )
    return urlunsplit(parts._replace(path=f"/{db}"))


# A Redis database of its own: arq tests clear it when they finish.
REDIS_URL = worker_redis_url(
    os.environ.get("HEARTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    os.environ.get("PYTEST_XDIST_WORKER"),
)


def service_missing(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(message + "; CI requires it", pytrace=False)
    pytest.skip(message)


# --- databases -------------------------------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def postgres_reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL)), 5)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def create_postgres_database() -> str:
    import asyncpg

    name = f"hearth_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncio.wait_for(asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL)), 5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    name = make_url(url).database
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def run_alembic(url: str, action: str, revision: str = "head") -> None:
    from alembic import command

    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    if action == "check":
        command.check(config)
    else:
        getattr(command, action)(config, revision)


async def migrate(url: str) -> None:
    # Alembic's env runs its own event loop, so it runs in a thread here.
    await asyncio.to_thread(run_alembic, url, "upgrade")


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Any) -> AsyncIterator[str]:
    """An empty database of the given backend, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir}/hearth-{uuid.uuid4().hex[:8]}.db"
        return
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Choose the databases a test runs on (see the module docstring)."""
    if "database_url" not in metafunc.fixturenames:
        return
    if "jobs_settings" in metafunc.fixturenames:
        metafunc.parametrize(
            "database_url",
            BACKENDS,
            ids=["sqlite+in-process", "postgresql+arq"],
            indirect=True,
            scope="session",
        )
        return
    if metafunc.definition.get_closest_marker("both_backends"):
        backends: tuple[str, ...] = BACKENDS
    elif metafunc.definition.get_closest_marker("postgres_only"):
        backends = ("postgresql",)
    else:
        backends = ("sqlite",)
    metafunc.parametrize("database_url", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated database per backend, shared by the session; tables are emptied per test."""
    async with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        await migrate(url)
        engine = create_async_engine(url)
        _cleaners[url] = engine
        try:
            yield url
        finally:
            del _cleaners[url]
            await engine.dispose()


# One engine per test database, kept for the session, to empty its tables after each test.
_cleaners: dict[str, Any] = {}


async def empty_tables(url: str) -> None:
    engine = _cleaners.get(url) or create_async_engine(url)
    try:
        async with engine.begin() as conn:
            # DELETE, not TRUNCATE: on PostgreSQL it is several times faster on tables this
            # small. The audit log's trigger refuses DELETE; TRUNCATE fires no row trigger.
            for table in reversed(metadata.sorted_tables):
                if table.name == "audit_log" and conn.dialect.name == "postgresql":
                    await conn.execute(text("TRUNCATE audit_log"))
                else:
                    await conn.execute(table.delete())
    finally:
        if url not in _cleaners:
            await engine.dispose()


# --- settings, app, client ---------------------------------------------------------------


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "outbound_allowed_hosts": ["127.0.0.1"],
        "webhook_retry_schedule": [0.3, 0.3, 0.3],
        "delivery_retry_schedule": [0.3, 0.3, 0.3],
        "webhook_timeout_seconds": 3,
        "lease_seconds": 5,
        "sweep_interval_seconds": 1,
        "log_format": "console",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def settings(database_url: str) -> AsyncIterator[Settings]:
    yield make_settings(database_url)
    await empty_tables(database_url)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def http_client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    async with running_app(settings) as app:
        yield app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as c:
        yield c


# --- organisations with a key per role -------------------------------------------------------


@dataclass
class Org:
    id: str
    name: str
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def make_org(client: httpx.AsyncClient, name: str) -> Org:
    response = await client.post(
        "/v1/orgs", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    org = Org(id=body["org"]["id"], name=name)
    org.keys["owner"], org.key_ids["owner"] = body["owner_key"], body["owner_key_id"]
    for role in ROLES[1:]:
        created = await client.post(
            "/v1/api-keys", json={"name": f"{role} key", "role": role}, headers=org.auth()
        )
        assert created.status_code == 201, created.text
        org.keys[role], org.key_ids[role] = created.json()["key"], created.json()["id"]
    return org


async def seed_org(app: Any, name: str) -> Org:
    """The same org and keys as `make_org`, written through the services in one transaction:
    most tests need an org, not another test of creating one (tests/orgs does that)."""
    from app.core.auth import Actor, Role
    from app.orgs import service
    from app.orgs.schemas import ApiKeyCreate, OrgCreate

    async with app.state.runtime.unit_of_work() as session:
        created, owner = await service.create_org(session, OrgCreate(name=name))
        org = Org(id=str(created.id), name=name)
        org.keys["owner"], org.key_ids["owner"] = owner.key, str(owner.record.id)
        actor = Actor(org_id=created.id, role=Role.owner, key_id=owner.record.id, name="owner")
        for role in ROLES[1:]:
            issued = await service.create_api_key(
                session, actor, ApiKeyCreate(name=f"{role} key", role=Role(role))
            )
            org.keys[role], org.key_ids[role] = issued.key, str(issued.record.id)
    return org


@pytest.fixture
async def org(app: Any, client: httpx.AsyncClient) -> Org:
    return await seed_org(app, "Starfall Studios")


@pytest.fixture
async def other_org(app: Any, client: httpx.AsyncClient) -> Org:
    return await seed_org(app, "Rival Games")


# --- the outside world ---------------------------------------------------------------------


@pytest.fixture
def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


async def redis_or_skip() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 3)
    except (TimeoutError, OSError, Exception) as exc:  # redis raises its own errors
        service_missing("Redis", exc)
    finally:
        await client.aclose()


async def clear_redis() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@asynccontextmanager
async def arq_worker(settings: Settings) -> AsyncIterator[Any]:
    """A real arq worker, running Hearth's jobs from Redis inside this event loop."""
    from arq.worker import create_worker

    from app.worker import worker_settings

    worker = create_worker(worker_settings(settings), handle_signals=False, poll_delay=0.05)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Let jobs cut off by the cancel settle before arq's close() gathers them again.
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        worker.tasks.clear()
        await worker.close()


# Fast retries, and "persistent failure" after one second, so delivery tests take seconds.
DELIVERY_OVERRIDES: dict[str, Any] = {
    "webhook_retry_schedule": [0.3] * 6,
    "webhook_disable_after_seconds": 1.0,
}


@pytest.fixture
async def jobs_settings(settings: Settings) -> AsyncIterator[Settings]:
    """Settings for the stack of the test's database: the in-process runner on SQLite (the
    embedded default), a real arq worker on Redis, running for the whole test, on PostgreSQL
    (production)."""
    if settings.is_sqlite:
        yield make_settings(settings.database_url, **DELIVERY_OVERRIDES)
        return
    await redis_or_skip()
    arq_settings = make_settings(
        settings.database_url,
        redis_url=REDIS_URL,
        queue_name=f"hearth-test:{uuid.uuid4().hex[:8]}",
        **DELIVERY_OVERRIDES,
    )
    try:
        async with arq_worker(arq_settings):
            yield arq_settings
    finally:
        await clear_redis()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the tests marked `long` (real processes, the fuzzer) evenly through the run,
    the longest first. xdist's work-stealing scheduler (scripts/test) hands each worker a
    slice of the list: each slice starts its long tests early, so the workers finish
    together instead of one of them running every long test in turn."""

    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("long")
        return float(marker.kwargs.get("seconds", 10)) if marker else 0.0

    long = sorted((item for item in items if seconds(item)), key=seconds, reverse=True)
    if not long:
        return
    short = [item for item in items if not seconds(item)]
    spacing = len(items) // len(long)
    spread: list[pytest.Item] = []
    for i, item in enumerate(long):
        spread.append(item)
        spread.extend(short[i * (spacing - 1) : (i + 1) * (spacing - 1)])
    spread.extend(short[len(long) * (spacing - 1) :])
    items[:] = spread


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Lets fixtures see whether the test failed (e.g. to print a subprocess's log).
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
