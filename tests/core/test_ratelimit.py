"""Rate-limit plumbing: what an IP limit counts, and what happens when Redis is away."""

from __future__ import annotations

import asyncio

import pytest
from limits.aio.storage import MemoryStorage

from app.core.errors import TooManyRequests
from app.core.ratelimit import RateLimiter, ip_bucket, retry_after
from tests.conftest import make_settings


def test_ipv6_clients_are_counted_per_64_and_ipv4_per_address() -> None:
    assert ip_bucket("2001:db8:1:2::1") == ip_bucket("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert ip_bucket("2001:db8:1:3::1") != ip_bucket("2001:db8:1:2::1")
    assert ip_bucket("::ffff:203.0.113.7") == ip_bucket("203.0.113.7") == "203.0.113.7"
    assert ip_bucket("203.0.113.8") != ip_bucket("203.0.113.7")


async def test_an_unreachable_redis_lets_writes_through() -> None:
    """Limits protect the service; losing their storage must not refuse every member write."""
    settings = make_settings(
        "sqlite+aiosqlite:///unused.db",
        redis_url="redis://127.0.0.1:1/0",  # nothing listens on port 1
        rate_limit_member_posts="1/minute",
    )
    limiter = RateLimiter.for_settings(settings)
    try:
        for _ in range(3):
            await limiter.hit("member_posts", "member-1")  # no 429, no exception
    finally:
        await limiter.close()


def test_retry_after_waits_until_the_sliding_window_takes_one_more() -> None:
    # 10/minute, 10 posts 5 s into a window: the next window first weighs them fully, so
    # the wait runs past its start (a naive "when this window ends" would say 55 s).
    assert retry_after(10, 60, previous=0, current=10, now=65.0) == 56
    # 10 in the previous window and 5 in this one, half way through: 10 * 30/60 + 5 = 10
    # is full; a second later 9.8 is not.
    assert retry_after(10, 60, previous=10, current=5, now=90.0) == 1
    # 10 before and 3 now, 10 s in: 10 * 50/60 + 3 = 11.3; under 10 once 7/10 of the
    # previous window weighs in, 8 s later.
    assert retry_after(10, 60, previous=10, current=3, now=70.0) == 9


async def test_retrying_after_retry_after_is_let_through() -> None:
    limiter = RateLimiter(MemoryStorage(), {"member_posts": "2/second"})
    try:
        for _ in range(2):
            await limiter.hit("member_posts", "member-1")
        with pytest.raises(TooManyRequests) as refused:
            await limiter.hit("member_posts", "member-1")
        await asyncio.sleep(int(refused.value.headers["Retry-After"]))
        await limiter.hit("member_posts", "member-1")  # no 429
    finally:
        await limiter.close()
