"""The ASGI layer in front of FastAPI for `/v1/feeds/…`: CORS for any origin, HEAD, and
cached answers (200 and 304) straight from the process's feed cache, without FastAPI's
routing, dependencies or a database round trip. What it cannot answer from the cache
(a miss, an unknown feed, a bad query, events, the embed) goes on to the routes.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import ValidationFailed
from app.core.middleware import SAFE_REQUEST_ID
from app.feeds import cache as feed_cache
from app.feeds.cache import CORS_HEADERS, Answer, FeedCache, cache_key, not_modified
from app.feeds.query import FORMATS, FeedQuery, parse
from app.settings import Settings

log = structlog.get_logger("hearth.feeds")

PREFIX = "/v1/feeds/"
MAX_REMEMBERED = 512  # longest query string + Accept-Language kept parsed
# The conditional headers' longest accepted values (the routes document the same).
_CONDITION_LENGTHS = ((b"if-none-match", 2000), (b"if-modified-since", 100))
_CORS_NAMES = {
    b"access-control-allow-origin",
    b"access-control-allow-credentials",
    b"access-control-expose-headers",
}
MAX_QUERIES = 1_000  # distinct query strings remembered parsed (launchers send few)
_PATH = re.compile(r"/v1/feeds/([^/]{1,100})(/feed\.json|/rss|/atom)?")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?")
_PREFLIGHT = (
    *CORS_HEADERS,
    (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type, If-None-Match, If-Modified-Since"),
    (b"access-control-max-age", b"86400"),
)


def base_url(scope: Scope, settings: Settings, host: str | None) -> str:
    """Where the URLs in a feed point: HEARTH_PUBLIC_URL, else the address the request
    came to (a Host header that is not a host name is not echoed)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if not host or not _HOST.fullmatch(host):
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def feed_route(path: str) -> tuple[str, str] | None:
    """(feed name, format) of a feed URL; None for other paths under /v1/feeds/."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    return match.group(1), FORMATS[match.group(2) or ""]


class FeedFront:
    """`app` is the application behind (FastAPI); `state` holds the feed cache and the
    runtime (the app's state, filled by its lifespan)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state
        self._queries: dict[tuple[bytes, str | None], FeedQuery | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await _send(send, 204, _PREFLIGHT, b"")
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Any origin, whatever HEARTH_CORS_ORIGINS lets the staff API answer: one
                # Access-Control-Allow-Origin (a browser refuses two), no Vary on Origin.
                headers = [_without_origin(h) for h in message.get("headers", [])]
                headers = [h for h in headers if h is not None and h[0] not in _CORS_NAMES]
                message = {**message, "headers": [*headers, *CORS_HEADERS]}
            await send(message)

        route = feed_route(scope["path"]) if method in ("GET", "HEAD") else None
        try:
            answered = route is not None and await self._from_cache(scope, send, *route)
        except Exception:
            # Not answered from the cache: the route meets the same trouble and answers it
            # as a problem (this layer sits outside FastAPI's error handling).
            log.exception("feed_front_failed", path=scope["path"])
            answered = False
        if answered:
            return
        if method == "HEAD":
            # The routes are GET; a HEAD is the same answer without its body.
            scope = {**scope, "method": "GET"}
            await self.app(scope, receive, _without_body(send_with_cors))
            return
        await self.app(scope, receive, send_with_cors)

    def _query(self, scope: Scope, accept_language: str | None) -> FeedQuery | None:
        """The request's query, parsed once per distinct query string and language header
        (launchers send few of them); None when the route must answer a 422."""
        raw = (scope["query_string"], accept_language)
        if raw in self._queries:
            return self._queries[raw]
        try:
            query: FeedQuery | None = parse(*raw)
        except ValidationFailed:
            query = None
        if len(raw[0]) + len(raw[1] or "") <= MAX_REMEMBERED:  # a huge header: not kept
            if len(self._queries) >= MAX_QUERIES:
                self._queries.clear()
            self._queries[raw] = query
        return query

    async def _from_cache(self, scope: Scope, send: Send, name: str, fmt: str) -> bool:
        cache: FeedCache = self.state.feed_cache
        header = _Headers(scope)
        query = self._query(scope, header.get(b"accept-language"))
        if query is None or not _conditions_ok(header):
            return False  # the route answers the 422
        known, ref = cache.directory.fresh(name)
        if not known:
            try:
                ref = await cache.find(self.state.runtime, name)
            except Exception:
                return False  # the route meets the same error and answers it as a problem
        if ref is None:
            return False
        base = base_url(scope, cache.settings, header.get(b"host"))
        answer = cache.cached(cache_key(ref, fmt, query, base), ref)
        if answer is None:
            feed_cache.MISSES.inc()
            return False
        status, headers, body = reply(
            answer,
            header.get(b"if-none-match"),
            header.get(b"if-modified-since"),
            head=scope["method"] == "HEAD",
        )
        (feed_cache.HITS if status == 200 else feed_cache.NOT_MODIFIED).inc()
        request_id = header.get(b"x-request-id")
        if request_id and SAFE_REQUEST_ID.match(request_id):
            headers = (*headers, (b"x-request-id", request_id.encode()))  # echoed, as elsewhere
        await _send(send, status, (*headers, *CORS_HEADERS), body)
        return True


class _Headers:
    """A request's headers read once (a cached answer looks at five of them)."""

    __slots__ = ("_raw",)

    def __init__(self, scope: Scope) -> None:
        self._raw: dict[bytes, bytes] = dict(scope["headers"])

    def get(self, name: bytes) -> str | None:
        value = self._raw.get(name)
        return None if value is None else value.decode("latin-1")


def _conditions_ok(header: _Headers) -> bool:
    """The conditional headers within the lengths the routes accept."""
    for name, longest in _CONDITION_LENGTHS:
        value = header.get(name)
        if value is not None and len(value) > longest:
            return False
    return True


def _without_origin(header: tuple[bytes, bytes]) -> tuple[bytes, bytes] | None:
    """A Vary header without `Origin` (None when nothing is left)."""
    name, value = header
    if name.lower() != b"vary":
        return header
    kept = [v.strip() for v in value.split(b",") if v.strip().lower() != b"origin"]
    return (name, b", ".join(kept)) if kept else None


def reply(
    answer: Answer, if_none_match: str | None, if_modified_since: str | None, *, head: bool
) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    """Status, headers and body for an answer: 304 when the client's copy is current."""
    if not_modified(answer, if_none_match, if_modified_since):
        return 304, answer.headers_304, b""
    return 200, answer.headers_200, b"" if head else answer.body


async def _send(send: Send, status: int, headers: Any, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head
