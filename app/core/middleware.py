"""ASGI middleware: request ids, access logs and metrics; the request body size limit."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.errors import PayloadTooLarge, problem_response

log = structlog.get_logger("hearth.http")

SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path is None:
        return "unmatched"
    # Mounted apps (GraphQL) report their own path; prefix the mount point.
    return (scope.get("root_path", "") + path) or "/"


class RequestContextMiddleware:
    """Gives each request an id (echoing a safe `X-Request-ID`), logs it, and counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope["hearth.request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.HTTP_SECONDS.labels(method=method, route=route).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


# Multipart framing around an uploaded file: boundaries, part headers, the file name.
UPLOAD_OVERHEAD = 64 * 1024


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, declared or streamed. Uploads (a
    multipart POST to a path `uploads` matches) have their own, larger limit."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        upload_bytes: int | None = None,
        uploads: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.uploads = uploads

    def _limit(self, scope: Scope) -> int:
        if self.uploads is None or self.upload_bytes is None or scope["method"] != "POST":
            return self.max_bytes
        content_type = (_header(scope, b"content-type") or "").lower()
        if content_type.startswith("multipart/form-data") and self.uploads.fullmatch(scope["path"]):
            return self.upload_bytes + UPLOAD_OVERHEAD
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = problem_response(413, *self._problem(limit))
            await response(scope, receive, send)
            return
        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise PayloadTooLarge(self._problem(limit)[2])
            return message

        async def send_or_refuse(message: Message) -> None:
            # However the app reacted to the refused read, the client gets our 413.
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                await problem_response(413, *self._problem(limit))(scope, receive, send)

        await self.app(scope, limited_receive, send_or_refuse)

    def _problem(self, limit: int) -> tuple[str, str, str]:
        return (
            "payload-too-large",
            "Payload too large",
            f"The request body is larger than the {limit}-byte limit.",
        )


def _header(scope: Scope, name: bytes) -> Any:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None
