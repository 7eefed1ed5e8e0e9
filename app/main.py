"""create_app(): the FastAPI application, its routers, /graphql, middleware and lifespan."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app import __version__, worker
from app.audit.rest import router as audit_router
from app.communities.rest import router as communities_router
from app.core import openapi
from app.core.db import Database
from app.core.errors import install_error_handlers
from app.core.graphql import Router as GraphQLRouter
from app.core.graphql import get_context
from app.core.jobs import ArqJobQueue, InProcessJobQueue, JobQueue, RowsOnlyQueue
from app.core.logging import configure_logging
from app.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.core.runtime import Runtime, new_http_client
from app.feeds.cache import FeedCache
from app.feeds.events import EventWriter
from app.feeds.front import PREFIX as FEEDS_PREFIX
from app.feeds.front import FeedFront
from app.feeds.rest import router as feeds_router
from app.forum import members
from app.forum.rest import routers as forum_routers
from app.graphql import schema
from app.moderation.rest import router as moderation_router
from app.moderation.rest_conduct import router as conduct_router
from app.moderation.rulebook import Rulebook
from app.moderation.toxicity import toxicity_scorer
from app.ops import pages
from app.ops.rest import router as ops_router
from app.orgs import service as orgs_service
from app.orgs.rest import router as orgs_router
from app.schedule import assets
from app.schedule.rest import router as schedule_router
from app.schedule.rest_assets import router as assets_router
from app.schedule.rest_planning import router as planning_router
from app.settings import Settings, get_settings
from app.webhooks.rest import router as webhooks_router

DESCRIPTION = """
Hearth is the backend a digital community manager works through: communities and their
channels, the forum where members ask and staff answer (with an inbox of what still needs a
reply), signed webhooks for internal tools, and (as it grows) moderation, scheduling,
launcher feeds, listening and KPIs.

Authenticate with `Authorization: Bearer <API key>` (staff and tools) or
`Bearer <member token>` (an HS256 JWT signed with the community's member secret).
Errors are RFC 9457 `application/problem+json`. Lists take `?limit=&cursor=` and answer
`{"items": [...], "next_cursor": ...}`.
"""


def build_runtime(settings: Settings, queue: JobQueue) -> Runtime:
    runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url),
        http=new_http_client(),
        jobs=queue,
        authenticators=(orgs_service.authenticate_key, members.authenticate_member),
    )
    runtime.automod = Rulebook(runtime, toxicity_scorer(settings, runtime.http))
    return runtime


async def open_queue(settings: Settings, *, in_process: bool) -> JobQueue:
    """arq when Redis is configured; otherwise the in-process runner (API) or no queue (CLI)."""
    if settings.redis_url:
        return ArqJobQueue.connect(settings.redis_url, settings.queue_name)
    if not in_process:
        return RowsOnlyQueue()
    return InProcessJobQueue(
        functions={f.__name__: f for f in worker.JOBS},
        periodic=worker.PERIODIC,
        concurrency=settings.job_concurrency,
        job_timeout=settings.lease_seconds,
    )


class HearthApp(FastAPI):
    """FastAPI, with the launcher feed's cache in front: `/v1/feeds/…` goes to
    `app.feeds.front` first, which answers cached feeds before FastAPI's own per-request
    work (middleware, routing) and hands everything else to FastAPI."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feed_front = FeedFront(functools.partial(FastAPI.__call__, self), self.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(FEEDS_PREFIX):
            await self.feed_front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        queue = await open_queue(settings, in_process=True)
        runtime = build_runtime(settings, queue)
        if isinstance(queue, InProcessJobQueue):
            queue.start({"runtime": runtime})
        app.state.runtime = runtime
        app.state.feed_events = EventWriter(runtime.db)
        app.state.feed_events.start()
        try:
            yield
        finally:
            await app.state.feed_events.close()
            await runtime.close()

    app = HearthApp(
        title="Hearth",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        separate_input_output_schemas=False,
        docs_url=None,  # app.ops.pages serves /docs and /redoc with local assets
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
        uploads=assets.UPLOAD_PATH,
    )
    if settings.cors_origins:
        # Browser dashboards on other origins; credentials are bearer tokens, never cookies.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Location", "X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)  # sees every response but cached feeds'
    app.state.feed_cache = FeedCache(settings)
    routers = (
        pages.router,
        ops_router,
        orgs_router,
        communities_router,
        *forum_routers,
        schedule_router,
        planning_router,
        assets_router,
        feeds_router,
        webhooks_router,
        moderation_router,
        conduct_router,
        audit_router,
    )
    for router in routers:
        app.include_router(router)
    graphql = GraphQLRouter(
        schema,
        prefix="/graphql",  # on the router itself, so route templates read "/graphql"
        context_getter=get_context,
        graphql_ide="graphiql",
        # Only graphql-transport-ws: the legacy graphql-ws protocol let a client subscribe
        # without connection_init, skipping the key check (CVE-2026-35523).
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=settings.graphql_subscriptions_per_socket,
        multipart_uploads_enabled=False,
    )
    app.include_router(graphql, tags=["graphql"])
    pages.mount_static(app)
    openapi.install(app)
    return app
