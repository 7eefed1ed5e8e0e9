"""Launcher feed answers, kept in process and checked for freshness.

Three layers, each cheap to check:
- the directory: which feed a URL names and its version, re-read at most once per
  `HEARTH_FEED_CHECK_SECONDS` per feed (one indexed query), so every replica sees a
  publish, edit or retraction within about a second;
- snapshots: a feed's live items as of one version (one query per version);
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
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, TypeVar

from app.core.conditional import etag_matches
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.metrics import FEED_ANSWERS, FEED_CACHE_BYTES
from app.core.runtime import Runtime
from app.feeds import formats, service
from app.feeds.query import FeedQuery, negotiate
from app.feeds.service import FEED_NAME, FeedRef, Snapshot
from app.settings import Settings

MAX_DIRECTORY = 10_000  # feed names remembered (found or not): bounded against random names
MAX_SNAPSHOTS = 1_000
CORS_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, Last-Modified, Content-Language"),
)

Key = tuple[Any, ...]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer:
    """A feed's 200, ready to send again: body, headers, and how long it stays true."""

    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    etag: str
    last_modified: datetime  # whole seconds, as the header says
    version: int
    valid_until: datetime | None
    # What each status sends, put together once (a cached answer is sent many times).
    headers_200: tuple[tuple[bytes, bytes], ...] = ()
    headers_304: tuple[tuple[bytes, bytes], ...] = ()

    def __post_init__(self) -> None:
        length = (b"content-length", str(len(self.body)).encode())
        object.__setattr__(self, "headers_200", (*self.headers, length))
        no_type = tuple((k, v) for k, v in self.headers if k != b"content-type")
        object.__setattr__(self, "headers_304", no_type)

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
        return etag_matches(if_none_match, answer.etag)
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


class _SingleFlight:
    """One computation per key at a time; whoever asks meanwhile shares its result. The work
    runs in a task of its own, so an asker that is cancelled (a client gone) does not cancel
    it for the others. At a patch release a thousand requests that miss together cost one
    query and one render, not a thousand."""

    def __init__(self) -> None:
        self._running: dict[Any, asyncio.Task[Any]] = {}

    async def run(self, key: Any, work: Callable[[], Awaitable[T]]) -> T:
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(work())
            self._running[key] = task
            task.add_done_callback(functools.partial(self._finished, key))
        return await asyncio.shield(task)

    def _finished(self, key: Any, task: asyncio.Task[Any]) -> None:
        self._running.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: the askers re-raise it, nobody else must


class _Directory:
    """Feed name → (FeedRef or None, when it was read)."""

    def __init__(self, check_seconds: float) -> None:
        self.check_seconds = check_seconds
        self._entries: OrderedDict[str, tuple[FeedRef | None, float]] = OrderedDict()
        self._reads = _SingleFlight()

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

        async def read_and_keep() -> FeedRef | None:
            found = await read(name)
            self._entries[name] = (found, time.monotonic())
            self._entries.move_to_end(name)
            while len(self._entries) > MAX_DIRECTORY:
                self._entries.popitem(last=False)
            return found

        return await self._reads.run(name, read_and_keep)


class FeedCache:
    """The process's launcher feed caches (one per app), used by the ASGI front and by the
    feed routes behind it. Answers and snapshots share one bound in bytes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # A tenth of the bound is left to the allocator: evicted answers leave holes in the
        # heap, and the bound is a promise about the process's memory, not the cache's count.
        self.max_bytes = settings.feed_cache_bytes * 9 // 10
        self.directory = _Directory(settings.feed_check_seconds)
        self._snapshots: OrderedDict[Any, Snapshot] = OrderedDict()
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._work = _SingleFlight()
        self.bytes = 0

    # --- lookups ---------------------------------------------------------------------

    async def find(self, runtime: Runtime, name: str) -> FeedRef | None:
        if not FEED_NAME.fullmatch(name):
            return None  # neither an id nor a slug: nothing to look up (nor to remember)

        async def read(feed_name: str) -> FeedRef | None:
            async with runtime.db.session() as session:
                return await service.find_feed(session, feed_name)

        return await self.directory.lookup(name, read)

    async def require(self, runtime: Runtime, name: str) -> FeedRef:
        """The feed `name` names, or a 404 problem."""
        ref = await self.find(runtime, name)
        if ref is None:
            raise NotFound(f"No launcher feed is published as '{name}'.")
        return ref

    async def snapshot(self, runtime: Runtime, ref: FeedRef) -> Snapshot:
        cached = self._snapshots.get(ref.channel_id)
        if cached is not None and cached.ref == ref:
            self._snapshots.move_to_end(ref.channel_id)
            return cached

        async def load() -> Snapshot:
            async with runtime.db.session() as session:
                snapshot = await service.load_snapshot(session, ref)
            if self.max_bytes and snapshot.size <= self.max_bytes // 4:
                self._drop_snapshot(ref.channel_id)
                self._snapshots[ref.channel_id] = snapshot
                self.bytes += snapshot.size
                self._evict()
            return snapshot

        return await self._work.run(("snapshot", ref), load)

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
        """The feed's 200 for this request: from the cache, else rendered (once, however
        many ask at the same moment) and kept."""
        key = cache_key(ref, fmt, query, base)
        found = self.cached(key, ref)
        if found is not None:
            return found

        async def render() -> Answer:
            snapshot = await self.snapshot(runtime, ref)
            answer = self._render(snapshot, fmt, query, base)
            self._keep(key, answer)
            return answer

        return await self._work.run(("answer", key, ref.version), render)

    def _render(self, snapshot: Snapshot, fmt: str, query: FeedQuery, base: str) -> Answer:
        now = utcnow()
        page = service.select_page(snapshot, query, now)
        body = formats.render(fmt, page, query, base)
        last_modified = page.last_modified.astimezone(UTC).replace(microsecond=0)
        etag = strong_etag(body)
        headers = [
            (b"content-type", formats.MEDIA_TYPES[fmt].encode()),
            (b"etag", etag.encode()),
            (b"last-modified", format_datetime(last_modified, usegmt=True).encode()),
            (b"cache-control", self._cache_control(page.valid_until, now)),
            (b"content-language", page.locale.encode()),
        ]
        if not query.explicit_locale:
            headers.append((b"vary", b"Accept-Language"))
        headers.extend(formats.EXTRA_HEADERS.get(fmt, ()))
        return Answer(
            body=body,
            headers=tuple(headers),
            etag=etag,
            last_modified=last_modified,
            version=snapshot.ref.version,
            valid_until=page.valid_until,
        )

    def _cache_control(self, valid_until: datetime | None, now: datetime) -> bytes:
        """The settings' lifetimes, shortened when an item's window opens or closes sooner,
        so no launcher or CDN keeps an expired item (or misses a starting one) for long."""
        max_age = self.settings.feed_max_age
        stale = self.settings.feed_stale_while_revalidate
        if valid_until is not None:
            left = max(0, int((valid_until - now).total_seconds()))
            max_age, stale = min(max_age, left), min(stale, max(0, left - max_age))
        return f"public, max-age={max_age}, stale-while-revalidate={stale}".encode()

    def _keep(self, key: Key, answer: Answer) -> None:
        if answer.size > self.max_bytes // 4:
            return  # caching it would evict most of the rest
        self._drop(key)
        self._answers[key] = answer
        self.bytes += answer.size
        self._evict()

    def _evict(self) -> None:
        """Least recently used answers first, then snapshots, until under the bound."""
        while self.bytes > self.max_bytes and self._answers:
            self._drop(next(iter(self._answers)))
        while self.bytes > self.max_bytes and len(self._snapshots) > 1:
            self._drop_snapshot(next(iter(self._snapshots)))
        while len(self._snapshots) > MAX_SNAPSHOTS:
            self._drop_snapshot(next(iter(self._snapshots)))
        FEED_CACHE_BYTES.set(self.bytes)

    def _drop(self, key: Key) -> None:
        answer = self._answers.pop(key, None)
        if answer is not None:
            self.bytes -= answer.size
            FEED_CACHE_BYTES.set(self.bytes)

    def _drop_snapshot(self, channel_id: Any) -> None:
        snapshot = self._snapshots.pop(channel_id, None)
        if snapshot is not None:
            self.bytes -= snapshot.size

    def __len__(self) -> int:
        return len(self._answers)


HITS = FEED_ANSWERS.labels("hit")
MISSES = FEED_ANSWERS.labels("miss")
NOT_MODIFIED = FEED_ANSWERS.labels("not_modified")
