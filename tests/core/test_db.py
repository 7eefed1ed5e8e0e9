"""PostgreSQL connections: idle ones are checked before use, busy ones are not; a\ndeadlock victim is answered with a retryable error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core import db as db_module
from app.core.db import Database
from app.core.errors import ServiceUnavailable
from app.core.jobs import RowsOnlyQueue
from app.core.runtime import Runtime
from tests.conftest import (
    _asyncpg_dsn,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
)


@pytest.fixture
async def postgres() -> AsyncIterator[Database]:
    url = await create_postgres_database()
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()
        await drop_postgres_database(url)


async def backend_pid(database: Database) -> int:
    async with database.session() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_an_idle_connection_the_server_closed_is_replaced_before_use(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.2)
    database = Database(postgres.url)  # built with the shorter idle time
    try:
        first = await backend_pid(database)
        admin = await asyncpg.connect(_asyncpg_dsn(postgres.url))
        try:  # what a database restart or an idle timeout does to pooled connections
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        await asyncio.sleep(0.3)
        assert await backend_pid(database) != first  # no error: the ping found it closed
    finally:
        await database.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = 0
    dialect = postgres.engine.sync_engine.dialect
    real_ping = dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    for _ in range(5):
        await backend_pid(postgres)
    assert pings == 0
    await asyncio.sleep(db_module.PING_AFTER_IDLE_SECONDS + 0.1)
    await backend_pid(postgres)
    assert pings == 1


async def test_a_deadlock_victim_is_told_to_send_the_request_again(postgres: Database) -> None:
    """PostgreSQL aborts one of two deadlocked transactions: nothing of it was written, so
    the caller gets a 503 with Retry-After, not a 500."""
    runtime = Runtime(
        settings=make_settings(postgres.url),
        db=postgres,
        http=httpx.AsyncClient(),
        jobs=RowsOnlyQueue(),
    )
    deadlock = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$"
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            async with runtime.unit_of_work() as session:
                await session.execute(text(deadlock))
        assert refused.value.headers == {"Retry-After": "1"}
        with pytest.raises(DBAPIError):  # other database errors are not dressed up
            async with runtime.unit_of_work() as session:
                await session.execute(text("SELECT 1/0"))
    finally:
        await runtime.http.aclose()
