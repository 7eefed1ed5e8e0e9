"""Rate-limit plumbing: what an IP limit counts, and what happens when Redis is away."""

from __future__ import annotations

from app.core.ratelimit import RateLimiter, ip_bucket
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
