"""FastAPI dependencies shared by every router: runtime, the request's session, the caller."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from app.core.auth import Actor, resolve_token
from app.core.errors import Forbidden, Unauthenticated
from app.core.runtime import Runtime

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API key (`hk_…`) or a member token (a JWT).")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed before the response is sent, or rolled back."""
    runtime = get_runtime(request)
    if request.method in _READ_METHODS:
        async with runtime.read_session() as session:
            yield session
    else:
        async with runtime.unit_of_work() as session:
            yield session


# scope="function": the commit happens before the response leaves, so a client never sees
# a 2xx for a write that then fails to commit.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]


async def _runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _actor(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Actor:
    if credentials is None:
        raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
    actor = await resolve_token(get_runtime(request), credentials.credentials)
    return replace(actor, ip=client_ip(request))


def client_ip(connection: HTTPConnection) -> str | None:
    # The socket peer; behind a proxy, run uvicorn with --forwarded-allow-ips so this is the
    # client's address and per-IP limits do not lump every member together.
    return connection.client.host if connection.client else None


# Authentication only: each service call checks the role it needs, so REST, GraphQL and
# the CLI cannot disagree about who may do what.
CurrentActor = Annotated[Actor, Depends(_actor)]


async def _system_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    configured = get_runtime(request).settings.admin_token
    if credentials is None:  # no credential is a 401 on every route, this one too
        raise Unauthenticated("This needs the system admin token (HEARTH_ADMIN_TOKEN).")
    if configured is None:
        raise Forbidden(
            "Creating organisations over the API is disabled. Set HEARTH_ADMIN_TOKEN, or use"
            " `hearth create-org` on the server."
        )
    if not hmac.compare_digest(
        credentials.credentials.encode(), configured.get_secret_value().encode()
    ):
        raise Unauthenticated("This needs the system admin token (HEARTH_ADMIN_TOKEN).")


SystemAdmin = Depends(_system_admin)
