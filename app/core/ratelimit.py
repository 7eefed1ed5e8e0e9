"""Rate limits on writes, with the `limits` library: in memory when Hearth runs embedded,
in Redis when `HEARTH_REDIS_URL` is set so every API replica counts against one budget."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Mapping

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from app.core.errors import TooManyRequests
from app.settings import Settings

log = structlog.get_logger("hearth.ratelimit")


class RateLimiter:
    """Named rules (e.g. `member_posts`), each a list of limits that must all hold."""

    def __init__(self, storage: Storage, rules: Mapping[str, str]) -> None:
        self._storage = storage
        # A sliding window counter: two counters per limit and identity, weighted, instead of
        # a moving window's one entry per request. Constant memory per member, and no
        # per-key expiry sweeps (the memory storage's moving window hops to a thread for
        # every key it expires, several times per request under load).
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self.rules = {name: parse_many(text) for name, text in rules.items()}

    @classmethod
    def for_settings(cls, settings: Settings) -> RateLimiter:
        rules = {
            "member_posts": settings.rate_limit_member_posts,
            "member_reactions": settings.rate_limit_member_reactions,
            "ip_writes": settings.rate_limit_ip_writes,
            "feed_events": settings.rate_limit_feed_events,
            "member_reports": settings.rate_limit_member_reports,
        }
        redis_url = settings.redis_url
        if not redis_url:
            return cls(MemoryStorage(), rules)
        uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
        storage = storage_from_string(uri, implementation="redispy", key_prefix="hearth:rl")
        return cls(storage, rules)  # type: ignore[arg-type]

    async def hit(self, rule: str, *identity: str) -> None:
        """Count one request against every limit; raise 429 with Retry-After when over one.

        Each hit is atomic in the storage, so concurrent replicas cannot overshoot a limit;
        a refused hit does not count against the limit that refused it.
        """
        for limit in self.rules[rule]:
            try:
                allowed = await self._limiter.hit(limit, rule, *identity)
            except Exception:
                # Limits protect the service; an unreachable Redis must not take writes down
                # with it. Let the request through and say so in the logs.
                log.warning("rate_limit_storage_unavailable", rule=rule, exc_info=True)
                return
            if not allowed:
                raise self._refused(rule, limit, await self._retry_after(limit, rule, *identity))

    async def acquire(self, limit: RateLimitItem, *identity: str) -> float:
        """Take one slot of `limit` for pacing (e.g. sends to one Discord webhook): 0 when
        taken, else the seconds until one frees. An unreachable storage paces nothing."""
        try:
            if await self._limiter.hit(limit, "pace", *identity):
                return 0.0
            return float(await self._retry_after(limit, "pace", *identity))
        except Exception:
            log.warning("rate_limit_storage_unavailable", rule="pace", exc_info=True)
            return 0.0

    async def _retry_after(self, limit: RateLimitItem, *identity: str) -> int:
        counts = await self._storage.get_sliding_window(  # type: ignore[attr-defined]
            limit.key_for(*identity), limit.get_expiry()
        )
        return retry_after(limit.amount, limit.get_expiry(), counts[0], counts[2], time.time())

    @staticmethod
    def _refused(rule: str, limit: RateLimitItem, retry_after: int) -> TooManyRequests:
        return TooManyRequests(
            f"Too many {rule.replace('_', ' ')}: the limit is {limit}. "
            f"Try again in {retry_after} s.",
            retry_after=retry_after,
        )

    async def close(self) -> None:
        # Redis-backed storages hold a connection pool; the memory storage has a timer task.
        closer = getattr(self._storage, "aclose", None) or getattr(self._storage, "close", None)
        if closer is not None:
            result = closer()
            if hasattr(result, "__await__"):
                await result


def retry_after(allowed: int, window: int, previous: int, current: int, now: float) -> int:
    """Whole seconds until a sliding window counter takes one more request.

    The counter weighs the previous window by how much of it still overlaps the last
    `window` seconds: `previous * left / window + current`, with `left` the seconds left of
    the current window (windows are aligned to multiples of their length). A request passes
    while that stays under `allowed`; when the current window is full, only the next one,
    once enough of this one has slid out, takes it.
    """
    left = window - now % window
    if current >= allowed:
        wait = left + window * (1 - allowed / current)
    elif previous:
        wait = left - window * (allowed - current) / previous
    else:
        wait = 0.0
    return max(1, math.floor(wait) + 1)  # strictly after: at `wait` the count is still full


def ip_bucket(ip: str) -> str:
    """The unit per-IP limits count: one IPv4 address, or one IPv6 /64 (what a single
    subscriber usually gets, so rotating addresses inside it does not help)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
