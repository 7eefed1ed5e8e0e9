"""What a running process holds: settings, database, HTTP clients, job queue, authenticators.

The API (`app.main`) and the arq worker (`app.worker`) each build one `Runtime`; services get
what they need from it explicitly.
"""

from __future__ import annotations

import functools
import gc
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import http1
from app.core.auth import Actor, Authenticator, forgets
from app.core.broadcast import (
    Broadcaster,
    InProcessBroadcaster,
    RedisBroadcaster,
    take_announced,
)
from app.core.cache import TTLCache
from app.core.db import RETRYABLE_SQLSTATES, Database, retry_later
from app.core.jobs import JobQueue, enqueue_all, take_deferred
from app.core.outbound import USER_AGENT, OutboundPolicy, new_pool
from app.core.ratelimit import RateLimiter
from app.core.workpool import WorkPool
from app.settings import Settings

if TYPE_CHECKING:
    from app.moderation.rulebook import Rulebook

log = structlog.get_logger("hearth.runtime")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    # Hearth's calls to services it is configured with (the toxicity scorer).
    http: httpx.AsyncClient
    jobs: JobQueue
    authenticators: Sequence[Authenticator] = ()
    # Each community's compiled automod rules and the toxicity scorer (app.moderation).
    automod: Rulebook = field(default=None)  # type: ignore[assignment]
    # Live messages to WebSocket subscribers (Redis pub/sub between replicas when set), and
    # the GraphQL sockets open per key in this process (HEARTH_GRAPHQL_SOCKETS_PER_KEY).
    broadcast: Broadcaster = field(init=False)
    live_sockets: Counter[str] = field(default_factory=Counter)
    outbound: OutboundPolicy = field(init=False)
    # The connections of sends to user-supplied URLs (channels, webhooks): `core.outbound`.
    outbound_http: http1.Pool = field(init=False)
    limiter: RateLimiter = field(init=False)
    # Verified member tokens → their Actor, for a few seconds (HEARTH_MEMBER_TOKEN_CACHE_SECONDS).
    token_cache: TTLCache[str, Actor] = field(init=False)
    # Content sends in flight in this process, at most HEARTH_DELIVERY_CONCURRENCY.
    delivery_pool: WorkPool = field(init=False)

    def __post_init__(self) -> None:
        self.outbound = OutboundPolicy.from_entries(self.settings.outbound_allowed_hosts)
        self.outbound_http = new_pool(tls_context())
        self.limiter = RateLimiter.for_settings(self.settings)
        self.token_cache = TTLCache()
        self.delivery_pool = WorkPool(self.settings.delivery_concurrency)
        self.broadcast = (
            RedisBroadcaster(self.settings.redis_url, f"{self.settings.queue_name}:live:")
            if self.settings.redis_url
            else InProcessBroadcaster()
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commit on success, roll back on error; jobs are sent after commit."""
        async with self.db.session() as session:
            try:
                yield session
                # Nothing to commit when the call did not use the session (e.g. a reply on
                # PostgreSQL, written through app.core.statements).
                if session.in_transaction():
                    await session.commit()
            except DBAPIError as exc:
                await session.rollback()
                if getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
                    raise retry_later() from exc
                raise
            except BaseException:
                await session.rollback()
                raise
        stale = forgets(session)
        if stale is not None:
            self.token_cache.discard_where(stale)
        await enqueue_all(self.jobs, take_deferred(session))
        for channel, message in take_announced(session):
            try:
                await self.broadcast.publish(channel, message)
            except Exception:  # live views are a convenience: never fail the write
                log.warning("broadcast_failed", channel=channel, exc_info=True)

    def read_session(self) -> AsyncSession:
        return self.db.session(write=False)

    async def close(self) -> None:
        await self.jobs.close()  # jobs running in process get their time to finish first
        await self.delivery_pool.close()
        await self.limiter.close()
        await self.broadcast.close()
        await self.http.aclose()
        await self.outbound_http.aclose()
        await self.db.dispose()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification, built once per process: loading the CA bundle costs more
    than most requests (it dominated starting an app in the tests)."""
    return httpx.create_ssl_context()


def new_http_client() -> httpx.AsyncClient:
    """For the services an operator configures (the toxicity scorer); sends to URLs users
    supply go through `outbound` instead. Neither follows redirects nor keeps cookies."""
    return httpx.AsyncClient(
        verify=tls_context(),
        follow_redirects=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        headers={"User-Agent": USER_AGENT.decode()},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


# Allocations between two young-generation collections (Python's default: 700).
YOUNG_COLLECTION_EVERY = 20_000


def freeze_startup_heap() -> None:
    """Take what starting up allocated (modules, the app, compiled statements: some 200,000
    objects) out of the garbage collector's full passes, which would otherwise walk them
    again and again for the life of the process (a tenth of a delivery's CPU time). Only for
    the processes `hearth serve` and `hearth worker` start: frozen objects are never freed.

    Young collections are made rarer too. A request or a send allocates thousands of
    objects that reference counting frees at once; what a collection walks is what is
    alive at that moment (batches in flight), so walking it every 700 allocations cost a
    delivery worker some 30 µs per send for no garbage found."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
