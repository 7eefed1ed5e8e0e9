"""Launcher feed answers, kept in process and checked for freshness.

Three layers, each cheap to check:
- the directory: which feed a URL names and its version, re-read at most once per
  `HEARTH_FEED_CHECK_SECONDS` per feed (one indexed query), so every replica sees a
  publish, edit or retraction within about a second;
- snapshots: a feed's delivered items as of one version (one query per version);
- answers: the exact bytes and headers of a 200, per feed, format, base URL and
  normalised query, bounded in bytes (least recently used goes first).
An answer stays good while its feed's version is unchanged and until the next instant an
item's window opens or closes, so an expiry or a future `starts_at` takes effect on time
without a publish.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from app.core.db import utcnow
from app.core.metrics import FEED_ANSWERS, FEED_CACHE_BYTES
from app.core.runtime import Runtime
from app.feeds import formats, service
from app.feeds.query import FeedQuery, negotiate
from app.feeds.service import FeedRef, Snapshot
from app.settings import Settings

FEED_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")  # an id or a public slug
MAX_DIRECTORY = 10_000  # feed names remembered (found or not): bounded against random names
MAX_SNAPSHOTS = 1_000
CORS_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, Last-Modified, Content-Language"),
)

Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """A feed's 200, ready to send again: body, headers, and how long it stays true."""

    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    etag: str
    last_modified: datetime  # whole seconds, as the header says
    version: int
    valid_until: datetime | None

    @property
    def size(self) -> int:
        """Bytes it holds in memory, near enough: the body, each header's two bytes objects
        and their pair, and the answer, its key and its slot in the cache."""
        return len(self.body) + sum(len(k) + len(v) + 140 for k, v in self.headers) + 800


def strong_etag(body: bytes) -> str:
    digest = hashlib.sha256(body).digest()[:18]
    return '"' + base64.urlsafe_b64encode(digest).decode() + '"'


def not_modified(answer: Answer, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110 §13.1: If-None-Match (a list, weak or strong tags, or `*`) decides when
    present; If-Modified-Since only without it."""
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or answer.etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return answer.last_modified <= since
    return False


@functools.lru_cache(maxsize=1024)
def cache_key(ref: FeedRef, fmt: str, query: FeedQuery, base: str) -> Key:
    """What makes two requests the same answer: the locale they would get (not the header
    they sent), and every other parameter as normalised."""
    locale = negotiate(query.locales, ref.locales, ref.default_locale)
    return (
        ref.channel_id,
        fmt,
        base,
        locale,
        query.explicit_locale,
        query.platform,
        query.region,
        query.version,
        query.tags,
        query.kinds,
        query.limit,
        query.cursor,
        query.theme if fmt == "embed" else None,
    )


class _Directory:
    """Feed name → (FeedRef or None, when it was read), single-flight per name."""

    def __init__(self, check_seconds: float) -> None:
        self.check_seconds = check_seconds
        self._entries: OrderedDict[str, tuple[FeedRef | None, float]] = OrderedDict()
        self._reading: dict[str, asyncio.Future[FeedRef | None]] = {}

    def fresh(self, name: str) -> tuple[bool, FeedRef | None]:
        entry = self._entries.get(name)
        if entry is None or time.monotonic() - entry[1] >= self.check_seconds:
            return False, None
        return True, entry[0]

    async def lookup(
        self, name: str, read: Callable[[str], Awaitable[FeedRef | None]]
    ) -> FeedRef | None:
        known, ref = self.fresh(name)
        if known:
            return ref
        pending = self._reading.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[FeedRef | None] = asyncio.get_running_loop().create_future()
        self._reading[name] = future
        try:
            ref = await read(name)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self._reading.pop(name, None)
        future.set_result(ref)
        self._entries[name] = (ref, time.monotonic())
        self._entries.move_to_end(name)
        while len(self._entries) > MAX_DIRECTORY:
            self._entries.popitem(last=False)
        return ref


class FeedCache:
    """The process's launcher feed caches (one per app), used by the ASGI front and by the
    feed routes behind it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # A tenth of the bound is left to the allocator: evicted answers leave holes in the
        # heap, and the bound is a promise about the process's memory, not the cache's count.
        self.max_bytes = settings.feed_cache_bytes * 9 // 10
        self.directory = _Directory(settings.feed_check_seconds)
        self._snapshots: OrderedDict[Any, Snapshot] = OrderedDict()
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self.bytes = 0
        self.cache_control = (
            f"public, max-age={settings.feed_max_age},"
            f" stale-while-revalidate={settings.feed_stale_while_revalidate}"
        ).encode()

    # --- lookups ---------------------------------------------------------------------

    async def find(self, runtime: Runtime, name: str) -> FeedRef | None:
        if not FEED_NAME.fullmatch(name):
            return None  # neither an id nor a slug: nothing to look up

        async def read(feed_name: str) -> FeedRef | None:
            async with runtime.db.session() as session:
                return await service.find_feed(session, feed_name)

        return await self.directory.lookup(name, read)

    async def snapshot(self, runtime: Runtime, ref: FeedRef) -> Snapshot:
        cached = self._snapshots.get(ref.channel_id)
        if cached is not None and cached.ref == ref:
            self._snapshots.move_to_end(ref.channel_id)
            return cached
        async with runtime.db.session() as session:
            snapshot = await service.load_snapshot(session, ref)
        if self.max_bytes:
            self._snapshots[ref.channel_id] = snapshot
            while len(self._snapshots) > MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return snapshot

    def cached(self, key: Key, ref: FeedRef) -> Answer | None:
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.version != ref.version or (
            answer.valid_until is not None and utcnow() >= answer.valid_until
        ):
            self._drop(key)
            return None
        self._answers.move_to_end(key)
        return answer

    # --- answers -----------------------------------------------------------------------

    async def answer(
        self, runtime: Runtime, ref: FeedRef, fmt: str, query: FeedQuery, base: str
    ) -> Answer:
        """The feed's 200 for this request: from the cache, else rendered and kept."""
        key = cache_key(ref, fmt, query, base)
        found = self.cached(key, ref)
        if found is not None:
            return found
        snapshot = await self.snapshot(runtime, ref)
        page = service.select_page(snapshot, query)
        body = formats.render(fmt, page, query, base)
        last_modified = page.last_modified.astimezone(UTC).replace(microsecond=0)
        headers = [
            (b"content-type", formats.MEDIA_TYPES[fmt].encode()),
            (b"etag", strong_etag(body).encode()),
            (b"last-modified", format_datetime(last_modified, usegmt=True).encode()),
            (b"cache-control", self.cache_control),
            (b"content-language", page.locale.encode()),
        ]
        if not query.explicit_locale:
            headers.append((b"vary", b"Accept-Language"))
        headers.extend(formats.EXTRA_HEADERS.get(fmt, ()))
        answer = Answer(
            body=body,
            headers=tuple(headers),
            etag=strong_etag(body),
            last_modified=last_modified,
            version=ref.version,
            valid_until=page.valid_until,
        )
        self._keep(key, answer)
        return answer

    def _keep(self, key: Key, answer: Answer) -> None:
        if answer.size > self.max_bytes // 4:
            return  # caching it would evict most of the rest
        self._drop(key)
        self._answers[key] = answer
        self.bytes += answer.size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._answers)))
        FEED_CACHE_BYTES.set(self.bytes)

    def _drop(self, key: Key) -> None:
        answer = self._answers.pop(key, None)
        if answer is not None:
            self.bytes -= answer.size
            FEED_CACHE_BYTES.set(self.bytes)

    def __len__(self) -> int:
        return len(self._answers)


HITS = FEED_ANSWERS.labels("hit")
MISSES = FEED_ANSWERS.labels("miss")
NOT_MODIFIED = FEED_ANSWERS.labels("not_modified")
