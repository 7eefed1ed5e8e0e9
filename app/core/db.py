"""Database engine, sessions and the column types every domain shares.

SQLite (embedded default) and PostgreSQL (production) run the same models and migrations.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from app.core.errors import Conflict, ServiceUnavailable

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


async def flush_or_conflict(session: AsyncSession, message: str) -> None:
    """Flush; a unique constraint hit (a concurrent request won the race) is a 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


# PostgreSQL's deadlock victim and serialization failure: nothing was written, and the same
# request sent again normally succeeds.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def retry_later() -> ServiceUnavailable:
    return ServiceUnavailable(
        "This request collided with a simultaneous change and was undone; send it again.",
        headers={"Retry-After": "1"},
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Database:
    """Engines and session factories.

    On SQLite, sessions that will write begin with `BEGIN IMMEDIATE`, so two writers queue
    on the busy timeout instead of failing when a read transaction upgrades to a write.
    Reads keep a plain deferred `BEGIN` and never wait on writers (WAL).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, echo=echo, begin="BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, echo=echo, begin="BEGIN")
        else:
            self.engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=20)
            _ping_when_idle(self.engine, PING_AFTER_IDLE_SECONDS)
            self.read_engine = self.engine
        self._write = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def session(self, *, write: bool = True) -> AsyncSession:
        return (self._write if write else self._read)()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


# A pooled connection unused for longer than this is checked with a round trip before it is
# handed out (a database restart or an idle timeout may have closed it). One in steady use
# is not: under load `pool_pre_ping` would add a round trip to every transaction. If the
# server drops a busy connection anyway, a statement failing on the session invalidates the
# pool; app.core.statements replaces a connection asyncpg already knows to be closed, and
# discards one that fails under it.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "hearth_idle_since"


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)  # None: a connection just opened
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # Most likely the server restarted: like pool_pre_ping, drop every pooled
            # connection, and hand out a fresh one.
            raise InvalidatePoolError("pooled connection is closed") from exc


def _sqlite_engine(url: str, *, echo: bool, begin: str) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine
