"""GraphQL plumbing: the request context, error rendering, input parsing, limits."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
import structlog
from cross_web import HTTPException
from graphql import GraphQLError
from pydantic import TypeAdapter, ValidationError
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse
from strawberry import UNSET
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types import ExecutionContext, ExecutionResult

from app.core.auth import Actor, bearer_token, resolve_token
from app.core.deps import client_ip
from app.core.errors import AppError, ValidationFailed, http_error, not_json, pydantic_errors
from app.core.pagination import MAX_LIMIT, PageParams
from app.core.runtime import Runtime
from app.core.static import VENDOR_URL

log = structlog.get_logger("hearth.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000


class Context(BaseContext):
    """Per request: the runtime, the lazily resolved caller, and DataLoaders.

    Queries read through short sessions of their own (Strawberry resolves sibling fields
    concurrently, and one session must never serve two tasks); each mutation runs in one
    unit of work.
    """

    def __init__(
        self,
        runtime: Runtime,
        authorization: str | None,
        request_id: str,
        ip: str | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.ip = ip
        self.request_id = request_id
        self._authorization = authorization
        self._actor: asyncio.Future[Actor] | None = None
        self.loaders: dict[str, Any] = {}
        # A WebSocket's `connection_init` payload (Strawberry sets it), and who it counts
        # against in the per-key socket cap once accepted.
        self.connection_params: dict[str, Any] | None = None
        self.socket_holder: str | None = None

    async def actor(self) -> Actor:
        if self._actor is None:
            self._actor = asyncio.ensure_future(self._resolve())
        return await self._actor

    async def recheck(self) -> Actor:
        """The caller resolved again, now: a long-lived subscription asks before each
        message, so a revoked key stops receiving at once."""
        self._actor = None
        return await self.actor()

    async def _resolve(self) -> Actor:
        actor = await resolve_token(self.runtime, bearer_token(self._authorization))
        return replace(actor, ip=self.ip)

    def loader(self, name: str, factory: Any) -> Any:
        """One DataLoader per name per request, so batching spans the whole query."""
        if name not in self.loaders:
            self.loaders[name] = factory(self.runtime)
        return self.loaders[name]


async def get_context(connection: HTTPConnection) -> Context:
    return Context(
        connection.app.state.runtime,
        connection.headers.get("authorization"),
        connection.scope.get("hearth.request_id", ""),
        client_ip(connection),
    )


@functools.cache
def _adapter(schema: Any) -> TypeAdapter[Any]:
    return TypeAdapter(schema)


def parse(schema: Any, data: dict[str, Any]) -> Any:
    """Convert GraphQL input into the REST schema (a model or a union), so both validate alike."""
    try:
        return _adapter(schema).validate_python(data)
    except ValidationError as exc:
        errors = pydantic_errors(exc.errors())
        detail = "; ".join(f"{'.'.join(e['loc']) or 'input'}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(detail, errors=errors) from exc


def page(first: int, after: str | None) -> PageParams:
    """GraphQL `first`/`after` with the same bounds as REST's `limit`/`cursor`."""
    if not 1 <= first <= MAX_LIMIT:
        raise ValidationFailed(
            f"`first` must be between 1 and {MAX_LIMIT}.",
            errors=[{"loc": ["first"], "message": "out of range", "type": "range"}],
        )
    return PageParams(limit=first, cursor=after)


def given(obj: Any) -> dict[str, Any]:
    """The fields of a Strawberry input that the client actually sent (UNSET dropped)."""
    return {
        key: value
        for key, value in vars(obj).items()
        if value is not strawberry.UNSET and not key.startswith("_")
    }


class ErrorRendering(SchemaExtension):
    """AppErrors become errors with `extensions.code`; anything else is masked and logged."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            result.errors = [self._render(error) for error in result.errors]

    def _render(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if error.path is None and not isinstance(original, AppError):
            # Parsing, validation, limits and variable coercion: about the request itself,
            # and safe to show as they are.
            return GraphQLError(
                error.message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"}
            )
        if original is None:  # graphql-core's own, e.g. a null for a non-null field: a bug
            log.error("graphql_error", message=error.message, path=error.path)
            return error
        if isinstance(original, AppError):
            # The problem's extra fields too (e.g. a member's status and until when, or
            # retry_after when rate limited), as REST puts them in the problem body.
            extensions: dict[str, Any] = {
                **original.extra,
                "code": original.code,
                "status": original.status,
            }
            if original.errors:
                extensions["errors"] = original.errors
            return GraphQLError(
                original.detail, nodes=error.nodes, path=error.path, extensions=extensions
            )
        context = self.execution_context.context
        log.error(
            "graphql_unhandled_exception",
            request_id=getattr(context, "request_id", ""),
            exc_info=original,
        )
        return GraphQLError(
            "Unexpected error.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL"},
        )


_INSTANT = TypeAdapter(datetime)

# Times as REST writes them (pydantic's one formatter: UTC with `Z`), not Strawberry's
# isoformat (`+00:00`): a client should not parse two spellings of one instant.
DATETIME = replace(
    DateTimeDefinition,
    description="An ISO 8601 instant in UTC, ending in `Z` (as in REST).",
    serialize=lambda value: _INSTANT.dump_python(value, mode="json"),
)


class Schema(strawberry.Schema):
    """Strawberry's schema without its own error log, which logs every error of a response
    at ERROR level with its traceback: a member refused on a locked thread, or a typo in a
    query, would page whoever alerts on errors. ErrorRendering logs the unexpected ones."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


# Strawberry's GraphiQL page loads its scripts and styles from this CDN; the same files
# (the page's integrity hashes check them) are served by Hearth under the same paths.
CDN = "https://unpkg.com/"


class Router(GraphQLRouter[Context, None]):
    """Strawberry's router, answering as GraphQL over HTTP asks and as the rest of the API
    does: transport errors (bad JSON, a body that is not JSON) as problem+json, a mutation
    over GET as 405, and an operation name the document lacks as a GraphQL error. Its
    GraphiQL page loads nothing from outside Hearth."""

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(self.graphql_ide_html.replace(CDN, f"{VENDOR_URL}/"))

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if getattr(request, "method", None) == "POST":  # a WebSocket has none
            content_type = request.headers.get("content-type")
            if not _is_json(content_type):
                raise not_json(content_type)
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            raise http_error(exc.status_code, exc.reason) from exc
        finally:
            if isinstance(context, Context) and context.socket_holder is not None:
                context.runtime.live_sockets[context.socket_holder] -= 1

    async def on_ws_connect(self, context: Context) -> Any:
        """The key (or member token) comes in `connection_init`'s payload as
        `{"Authorization": "Bearer …"}`: a socket without a valid one is closed (4403), as
        is one beyond the cap of sockets per key. Subscribing before `connection_init` is
        refused by Strawberry itself (4401)."""
        params = context.connection_params or {}
        authorization = params.get("Authorization") or params.get("authorization")
        if not isinstance(authorization, str):
            raise ConnectionRejectionError(
                {"reason": "Send the key as connection_init's Authorization."}
            )
        context._authorization = authorization
        try:
            actor = await context.actor()
        except AppError as exc:
            raise ConnectionRejectionError({"reason": exc.detail}) from exc
        holder = str(actor.key_id or actor.member_id)
        sockets = context.runtime.live_sockets
        if sockets[holder] >= context.runtime.settings.graphql_sockets_per_key:
            raise ConnectionRejectionError({"reason": "Too many live connections for this key."})
        sockets[holder] += 1
        context.socket_holder = holder
        return UNSET

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = super().parse_json(data)
        except UnicodeDecodeError as exc:  # Strawberry reads only a JSON error as a 400
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if not isinstance(parsed, dict | list):  # Strawberry would call .get() on it
            raise HTTPException(400, "The body must be a JSON object with a `query`.")
        return parsed

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        # Strawberry checks `query`, `variables` and `extensions`, not `operationName`.
        if not isinstance(data, list) and not isinstance(data.operation_name, str | None):
            raise HTTPException(
                400, "The GraphQL operation's `operationName` must be a string or null."
            )
        return data

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                error = http_error(405, "Mutations are sent with POST; GET runs queries only.")
                error.headers["Allow"] = "GET, POST"
                raise error from exc
            if isinstance(exc.__cause__, CannotGetOperationTypeError):
                # A well-formed request whose document has no such operation: a GraphQL
                # request error, which GraphQL over HTTP answers 200 with `errors`.
                extensions = {"code": "BAD_USER_INPUT"}
                return ExecutionResult(
                    data=None, errors=[GraphQLError(exc.reason, extensions=extensions)]
                )
            raise


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def extensions() -> list[Any]:
    return [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ErrorRendering,
    ]


def plain(value: Any) -> Any:
    """A Strawberry input as the plain data REST would have sent (UNSET fields left out)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "__strawberry_definition__"):
        return {
            key: plain(v)
            for key, v in vars(value).items()
            if v is not strawberry.UNSET and not key.startswith("_")
        }
    return value
