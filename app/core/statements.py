"""Prebuilt statements for the hottest paths, run through the session or straight on asyncpg.

On a small write, most of the API process's CPU goes to SQLAlchemy's execution machinery:
the session's execute, the statement's cache key, parameter processing, result wrapping.
A hot path therefore builds its Core statements once, at import, as `Prebuilt`, and runs
them inside `async with statements(session) as run:`

- on PostgreSQL, on a pooled connection's asyncpg driver, in a transaction of their own
  that commits when the block ends (or in none, see `statements`). Each statement is
  compiled once per dialect; a call only puts the parameters in order through their column
  types' bind processors, and asyncpg reuses its prepared statement. Rows come back as the
  driver returns them (UUIDs, aware datetimes), read by attribute;
- on SQLite, and whenever the session has already begun work (its writes would not be
  visible on another connection), through the session, in the request's unit of work.

The SQL is the same either way: it is SQLAlchemy's, compiled from the same statement. A
block does every read and write it needs through `run`, never the session as well: on
PostgreSQL the two are different transactions. Every parameter is given by the caller:
column defaults computed in Python (`default=`, `onupdate=`) are not applied, and
expanding (`IN`) parameters are refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar

import asyncpg
from asyncpg.transaction import Transaction
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from app.core.db import RETRYABLE_SQLSTATES, retry_later

_Processor = Callable[[Any], Any] | None
_T = TypeVar("_T")


class Prebuilt:
    """A Core statement with bind parameters, built once and run many times."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[Dialect, tuple[str, list[tuple[str, _Processor, Any]]]] = {}

    def for_driver(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text for `dialect` and `params` as positional driver arguments."""
        compiled = self._compiled.get(dialect)
        if compiled is None:
            compiled = self._compiled[dialect] = _compile(self.statement, dialect)
        sql, binds = compiled
        args = []
        for name, process, constant in binds:
            value = params[name] if constant is _REQUIRED else params.get(name, constant)
            args.append(value if process is None or value is None else process(value))
        return sql, args


_REQUIRED = object()


def _compile(statement: Executable, dialect: Dialect) -> tuple[str, list[tuple[str, Any, Any]]]:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    binds = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        if bind.callable is not None or bind.expanding:
            raise ValueError(f"bind parameter {name!r}: callable or expanding, not prebuildable")
        # A literal written into the statement (status == "visible") travels as a parameter.
        constant = _REQUIRED if bind.required else bind.value
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append((name, process, constant))
    return str(compiled), binds


class Runner(Protocol):
    dialect_name: str

    async def first(self, statement: Prebuilt, params: Mapping[str, Any]) -> Any | None:
        """The first row (columns read as attributes), or None."""

    async def execute(self, statement: Prebuilt, params: Mapping[str, Any]) -> None: ...


class _SessionRunner:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self.dialect_name = dialect_name

    async def first(self, statement: Prebuilt, params: Mapping[str, Any]) -> Any | None:
        return (await self._session.execute(statement.statement, params)).first()

    async def execute(self, statement: Prebuilt, params: Mapping[str, Any]) -> None:
        await self._session.execute(statement.statement, params)


def session_runner(session: AsyncSession) -> Runner:
    """The same statements through the session, in its unit of work (for a write that must
    commit with other work of the request)."""
    return _SessionRunner(session, session.bind.dialect.name)


def _breaks_connection(exc: BaseException) -> bool:
    """Whether an error met on the driver leaves its connection unusable: anything but an
    error the server reported about a statement (a dropped connection, a cancelled call, a
    protocol out of step). A bad argument is refused before anything is sent."""
    if isinstance(exc, asyncpg.DataError):
        return False
    return not isinstance(exc, asyncpg.PostgresError) or isinstance(
        exc, asyncpg.PostgresConnectionError
    )


class _DriverRunner:
    dialect_name = "postgresql"

    def __init__(self, connection: asyncpg.Connection, dialect: Dialect) -> None:
        self._connection = connection
        self._dialect = dialect
        self.broken = False

    async def first(self, statement: Prebuilt, params: Mapping[str, Any]) -> Any | None:
        sql, args = statement.for_driver(self._dialect, params)
        record = await self.guard(lambda: self._connection.fetchrow(sql, *args))
        return None if record is None else SimpleNamespace(**record)

    async def execute(self, statement: Prebuilt, params: Mapping[str, Any]) -> None:
        sql, args = statement.for_driver(self._dialect, params)
        await self.guard(lambda: self._connection.execute(sql, *args))

    async def guard(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Make a driver call, noting whether its failure broke the connection (asyncpg
        refuses some calls before awaiting, e.g. on a connection it knows is closed)."""
        try:
            return await call()
        except BaseException as exc:
            self.broken = self.broken or _breaks_connection(exc)
            raise


_MAX_CLOSED_AT_CHECKOUT = 32  # more than the pool holds (10 + 20 overflow)


async def _begin(driver: asyncpg.Connection) -> Transaction:
    began = driver.transaction()  # raises at once on a connection known to be closed
    await began.start()
    return began


@asynccontextmanager
async def statements(session: AsyncSession, *, transaction: bool = True) -> AsyncIterator[Runner]:
    """Run prebuilt statements as one transaction (see the module's docstring).

    `transaction=False` saves PostgreSQL's BEGIN and COMMIT round trips: each statement
    then commits on its own. Only for a block that writes with one statement and needs no
    lock held from an earlier read: at READ COMMITTED, what a read saw may change before the
    write either way, unless the read locked it.
    """
    engine = session.bind
    if engine.dialect.name != "postgresql" or session.in_transaction():
        yield _SessionRunner(session, engine.dialect.name)
        return
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        for _ in range(_MAX_CLOSED_AT_CHECKOUT):
            if not driver.is_closed():
                break
            # The server closed it while it sat in the pool (a restart, an idle timeout):
            # nothing was sent yet, so take another. asyncpg notices as soon as it happens.
            await connection.invalidate()
            driver = (await connection.get_raw_connection()).driver_connection
        run = _DriverRunner(driver, engine.dialect)
        in_transaction: Transaction | None = None
        try:
            if transaction:
                in_transaction = await run.guard(lambda: _begin(driver))
            try:
                yield run
            except BaseException:
                if in_transaction is not None and not run.broken:
                    with suppress(Exception):  # the error that got us here is the one to see
                        await run.guard(in_transaction.rollback)
                raise
            if in_transaction is not None:
                await run.guard(in_transaction.commit)
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in RETRYABLE_SQLSTATES:
                raise retry_later() from exc
            raise
        finally:
            if run.broken:  # or the pool would hand it out again
                await connection.invalidate()
