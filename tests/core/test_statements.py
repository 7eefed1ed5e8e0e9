"""Prebuilt statements: the same results through the session (SQLite) and straight on
asyncpg (PostgreSQL); one transaction per block unless asked otherwise; retryable
collisions and dropped connections handled like the session's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import Column, MetaData, String, Table, Uuid, bindparam, insert, select, text
from sqlalchemy.dialects import postgresql

from app.core.db import Database, JSONType, UTCDateTime
from app.core.errors import ServiceUnavailable
from app.core.jobs import RowsOnlyQueue
from app.core.runtime import Runtime
from app.core.statements import Prebuilt, statements
from tests.conftest import _asyncpg_dsn, fresh_database, make_settings

notes = Table(
    "notes",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("kind", String(16)),
    Column("data", JSONType),
    Column("at", UTCDateTime()),
)
ADD = Prebuilt(insert(notes))
# "note" is a literal: it travels as a parameter the caller does not give.
FIND = Prebuilt(select(notes).where(notes.c.id == bindparam("wanted"), notes.c.kind == "note"))
# What asyncpg may raise on a connection the server closed, by when it notices.
DROPPED = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)
BACKEND_PID = Prebuilt(select(text("pg_backend_pid() AS pid")))


def note(**overrides: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "kind": "note",
        "data": {"tags": ["a", "ü"], "n": 1},
        "at": datetime(2026, 5, 1, 12, 30, tzinfo=UTC),
        **overrides,
    }


@asynccontextmanager
async def notes_runtime(backend: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with fresh_database(backend, tmp_path) as url:
        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.run_sync(notes.metadata.create_all)
        runtime = Runtime(
            settings=make_settings(url),
            db=database,
            http=httpx.AsyncClient(),
            jobs=RowsOnlyQueue(),
        )
        try:
            yield runtime
        finally:
            await runtime.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with notes_runtime(request.param, tmp_path) as runtime:
        yield runtime


@pytest.fixture
async def postgres_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """On SQLite a block is the session's unit of work; these tests are about the driver."""
    async with notes_runtime("postgresql", tmp_path) as runtime:
        yield runtime


async def stored(runtime: Runtime, note_id: uuid.UUID) -> Any:
    async with runtime.unit_of_work() as session, statements(session) as run:
        return await run.first(FIND, {"wanted": note_id})


async def test_a_prebuilt_statement_writes_and_reads_the_same_on_both_backends(
    runtime: Runtime,
) -> None:
    written = note()
    async with runtime.unit_of_work() as session, statements(session) as run:
        await run.execute(ADD, written)
    row = await stored(runtime, written["id"])
    assert row is not None
    assert (row.id, row.kind, row.data, row.at) == (
        written["id"],
        "note",
        {"tags": ["a", "ü"], "n": 1},
        written["at"],
    )
    assert row.at.utcoffset() is not None  # aware on both backends
    assert await stored(runtime, uuid.uuid4()) is None


async def test_a_block_that_fails_writes_nothing(runtime: Runtime) -> None:
    first, second = note(), note()
    with pytest.raises(RuntimeError):
        async with runtime.unit_of_work() as session, statements(session) as run:
            await run.execute(ADD, first)
            await run.execute(ADD, second)
            raise RuntimeError("a check after the writes failed")
    assert await stored(runtime, first["id"]) is None
    assert await stored(runtime, second["id"]) is None


async def test_without_a_transaction_each_statement_commits_on_its_own(
    postgres_runtime: Runtime,
) -> None:
    written = note()
    with pytest.raises(RuntimeError):
        async with (
            postgres_runtime.unit_of_work() as session,
            statements(session, transaction=False) as run,
        ):
            await run.execute(ADD, written)
            raise RuntimeError("after the write")
    assert await stored(postgres_runtime, written["id"]) is not None


async def test_a_deadlock_in_a_block_is_answered_as_retryable(postgres_runtime: Runtime) -> None:
    deadlock = Prebuilt(
        text("DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$")
    )
    with pytest.raises(ServiceUnavailable) as refused:
        async with postgres_runtime.unit_of_work() as session, statements(session) as run:
            await run.execute(deadlock, {})
    assert refused.value.headers == {"Retry-After": "1"}
    with pytest.raises(asyncpg.DivisionByZeroError):  # other errors are not dressed up
        async with postgres_runtime.unit_of_work() as session, statements(session) as run:
            await run.first(Prebuilt(select(text("1/0"))), {})


async def backend_pid(runtime: Runtime) -> int:
    async with runtime.unit_of_work() as session, statements(session) as run:
        return int((await run.first(BACKEND_PID, {})).pid)


async def terminate(runtime: Runtime, *pids: int) -> None:
    """What a database restart or failover does to the connections it had."""
    admin = await asyncpg.connect(_asyncpg_dsn(runtime.db.url))
    try:
        for pid in pids:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_pooled_connections_the_server_dropped_are_replaced_before_use(
    postgres_runtime: Runtime,
) -> None:
    gate = asyncio.Event()

    async def hold_one() -> int:
        async with postgres_runtime.unit_of_work() as session, statements(session) as run:
            pid = int((await run.first(BACKEND_PID, {})).pid)
            await gate.wait()  # three at once: three connections in the pool afterwards
            return pid

    tasks = [asyncio.create_task(hold_one()) for _ in range(3)]
    await asyncio.sleep(0.2)
    gate.set()
    dropped = set(await asyncio.gather(*tasks))
    assert len(dropped) == 3
    await terminate(postgres_runtime, *dropped)
    await asyncio.sleep(0.2)  # asyncpg sees the sockets close
    for _ in range(3):  # no request fails: each dropped connection is replaced at checkout
        assert await backend_pid(postgres_runtime) not in dropped


async def test_a_connection_dropped_during_a_block_is_not_handed_out_again(
    postgres_runtime: Runtime,
) -> None:
    with pytest.raises(DROPPED):
        async with postgres_runtime.unit_of_work() as session, statements(session) as run:
            dropped = int((await run.first(BACKEND_PID, {})).pid)
            await terminate(postgres_runtime, dropped)
            await run.first(BACKEND_PID, {})
    assert await backend_pid(postgres_runtime) != dropped


async def test_a_cancelled_block_does_not_leave_its_connection_busy(
    postgres_runtime: Runtime,
) -> None:
    """A client that disconnects mid-query cancels its request: the connection, still
    waiting for the server's answer, must not be handed to the next request."""
    sleep = Prebuilt(select(text("pg_sleep(5)")))
    started = asyncio.Event()

    async def slow() -> None:
        async with postgres_runtime.unit_of_work() as session, statements(session) as run:
            started.set()
            await run.first(sleep, {})

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(2):
        await asyncio.wait_for(backend_pid(postgres_runtime), 2)  # not stuck behind pg_sleep


async def test_a_block_in_a_session_that_already_wrote_is_part_of_its_transaction(
    runtime: Runtime,
) -> None:
    """A caller that wrote through the session first sees its rows (on PostgreSQL another
    connection would not), and its rollback undoes the block too."""
    written = note()
    with pytest.raises(RuntimeError):
        async with runtime.unit_of_work() as session:
            await session.execute(ADD.statement, written)
            async with statements(session) as run:
                assert await run.first(FIND, {"wanted": written["id"]}) is not None
                await run.execute(ADD, note())
            raise RuntimeError("the request fails after the block")
    assert await stored(runtime, written["id"]) is None


def test_statements_that_cannot_be_prebuilt_are_refused() -> None:
    expanding = Prebuilt(select(notes).where(notes.c.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        expanding.for_driver(postgresql.asyncpg.dialect(), {"ids": [uuid.uuid4()]})
