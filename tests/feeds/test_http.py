"""The feed over HTTP: which feed a URL names, caching headers and 304s, CORS, HEAD."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest

from app.feeds import service
from tests.conftest import http_client, make_settings, running_app
from tests.feeds.conftest import feed_url, published
from tests.schedule.conftest import Studio

pytestmark = pytest.mark.both_backends


async def test_conditional_requests(client: httpx.AsyncClient, studio: Studio) -> None:
    await published(client, studio)
    fresh = await client.get(feed_url(studio))
    etag, modified = fresh.headers["etag"], fresh.headers["last-modified"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    assert fresh.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=600"
    for if_none_match in (etag, f'"other", {etag}', "*", f"W/{etag}"):
        again = await client.get(feed_url(studio), headers={"if-none-match": if_none_match})
        assert again.status_code == 304, if_none_match
        assert again.content == b"" and again.headers["etag"] == etag
    other = await client.get(feed_url(studio), headers={"if-none-match": '"other"'})
    assert other.status_code == 200 and other.content == fresh.content
    since = await client.get(feed_url(studio), headers={"if-modified-since": modified})
    assert since.status_code == 304
    earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(seconds=1), usegmt=True)
    before = await client.get(feed_url(studio), headers={"if-modified-since": earlier})
    assert before.status_code == 200
    # If-None-Match decides when both are sent.
    both = await client.get(
        feed_url(studio), headers={"if-none-match": '"other"', "if-modified-since": modified}
    )
    assert both.status_code == 200
    # Each format is its own representation with its own tag.
    rss = await client.get(feed_url(studio, "/rss"), headers={"if-none-match": etag})
    assert rss.status_code == 200 and rss.headers["etag"] != etag


async def test_cors_head_and_preflight(client: httpx.AsyncClient, studio: Studio) -> None:
    await published(client, studio)
    origin = {"origin": "https://launcher.example"}
    got = await client.get(feed_url(studio, "/atom"), headers=origin)
    head = await client.head(feed_url(studio, "/atom"), headers=origin)
    assert got.headers["access-control-allow-origin"] == "*"
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "content-type", "content-length", "last-modified", "cache-control"):
        assert head.headers[name] == got.headers[name]
    preflight = await client.options(
        feed_url(studio, "/events"),
        headers={**origin, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    missing = await client.get("/v1/feeds/no-such-feed", headers=origin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["access-control-allow-origin"] == "*"


async def test_a_feed_is_named_by_id_or_slug(client: httpx.AsyncClient, studio: Studio) -> None:
    await published(client, studio, title="Hello")
    feed_id = studio.channels["launcher_feed"]
    named = await client.patch(
        f"/v1/channels/{feed_id}",
        json={"config": {"public_slug": "starfall-news"}},
        headers=studio.auth(),
    )
    assert named.status_code == 200, named.text
    by_slug = await client.get("/v1/feeds/starfall-news/feed.json")
    assert by_slug.status_code == 200
    assert by_slug.json()["feed_url"] == "https://hearth.example/v1/feeds/starfall-news/feed.json"
    assert by_slug.json()["items"][0]["title"] == "Hello"
    # A slug shaped like another feed's id does not hide that feed.
    other = await client.post(
        f"/v1/communities/{studio.community_id}/channels",
        json={"name": "shadow", "kind": "launcher_feed", "config": {"public_slug": feed_id}},
        headers=studio.auth(),
    )
    assert other.status_code == 201, other.text
    assert (await client.get(f"/v1/feeds/{feed_id}")).json()["items"][0]["title"] == "Hello"
    # Staff channels are not feeds; a disabled feed is gone.
    off = await client.patch(
        f"/v1/channels/{feed_id}", json={"enabled": False}, headers=studio.auth()
    )
    assert off.status_code == 200
    await asyncio.sleep(0.1)  # the test replica re-reads a feed every 50 ms
    gone = await client.get("/v1/feeds/starfall-news")
    assert gone.status_code == 404


async def test_cache_outcomes_are_counted(client: httpx.AsyncClient, studio: Studio) -> None:
    await published(client, studio)

    async def counted(outcome: str) -> float:
        text = (await client.get("/metrics")).text
        line = f'hearth_feed_answers_total{{outcome="{outcome}"}} '
        found = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
        return found[0] if found else 0.0

    before = {o: await counted(o) for o in ("hit", "miss", "not_modified")}
    first = await client.get(feed_url(studio, "/feed.json") + "?platform=counted")
    await client.get(feed_url(studio, "/feed.json") + "?platform=counted")
    await client.get(
        feed_url(studio, "/feed.json") + "?platform=counted",
        headers={"if-none-match": first.headers["etag"]},
    )
    assert await counted("miss") - before["miss"] == 1
    assert await counted("hit") - before["hit"] == 1
    assert await counted("not_modified") - before["not_modified"] == 1


async def test_staff_preview_over_graphql(
    client: httpx.AsyncClient, studio: Studio, other_org: Any
) -> None:
    await published(client, studio, title="PC only", feed={"platforms": ["windows"]})
    await published(client, studio, title="Everyone")
    query = """query($feed: ID!, $platform: String) {
      feed(feed: $feed, platform: $platform, first: 5) {
        title locale nextUrl items { title pinned publishedAt imageUrl }
      }
    }"""

    async def preview(platform: str, auth: dict[str, str]) -> Any:
        answer = await client.post(
            "/graphql",
            json={
                "query": query,
                "variables": {"feed": studio.channels["launcher_feed"], "platform": platform},
            },
            headers=auth,
        )
        return answer.json()

    ps5 = await preview("ps5", studio.auth("viewer"))
    assert [i["title"] for i in ps5["data"]["feed"]["items"]] == ["Everyone"]
    windows = await preview("windows", studio.auth("viewer"))
    assert [i["title"] for i in windows["data"]["feed"]["items"]] == ["Everyone", "PC only"]
    elsewhere = await preview("ps5", other_org.auth("owner"))
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    odd = await client.post(
        "/graphql",
        json={"query": query, "variables": {"feed": "a\u0000b", "platform": None}},
        headers=studio.auth("viewer"),
    )
    assert odd.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    anonymous = await preview("ps5", {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_what_the_routes_refuse_the_cache_refuses_too(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    """The front answers cached feeds without FastAPI's validation: a request the routes
    refuse must be refused alike once the feed is cached, never answered or a 500."""
    await published(client, studio, kind="event", title="Cup")
    await published(client, studio, kind="announcement", title="News")
    url = feed_url(studio)
    assert (await client.get(url)).status_code == 200  # cached from here on
    for query, headers in (
        ("?locale=", {}),
        ("?limit=%C2%B2", {}),  # "²" is a digit to Python, not a number
        ("?kinds=event,announcement", {}),
        ("?kinds=", {}),
        ("?theme=", {}),
        ("?version=" + "1" * 65, {}),
        ("", {"accept-language": "en, " * 200}),
        ("", {"if-none-match": '"x", ' * 500}),
    ):
        for _ in range(2):  # a miss, then what the front would have cached
            answer = await client.get(url + query, headers=headers)
            assert answer.status_code == 422, (query, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    # next_url spells several kinds as the routes take them.
    page = await client.get(url + "?kinds=event&kinds=announcement&limit=1")
    follow = await client.get(page.json()["next_url"].removeprefix("https://hearth.example"))
    assert follow.status_code == 200 and [i["title"] for i in follow.json()["items"]] == ["Cup"]


async def test_a_burst_of_misses_reads_the_feed_once(
    client: httpx.AsyncClient, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    await published(client, studio)
    loads = 0
    real = service.load_snapshot

    async def counted(*args: Any) -> Any:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)  # a slow query: everyone arrives while it runs
        return await real(*args)

    monkeypatch.setattr(service, "load_snapshot", counted)
    await asyncio.sleep(0.1)  # the directory's entry goes stale (50 ms here)
    answers = await asyncio.gather(*(client.get(feed_url(studio)) for _ in range(20)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.headers["etag"] for a in answers}) == 1
    assert loads == 1


async def test_one_allow_origin_even_where_the_staff_api_has_cors(database_url: str) -> None:
    settings = make_settings(database_url, cors_origins=["https://dash.example"])
    async with running_app(settings) as app, http_client(app) as client:
        answer = await client.get(
            "/v1/feeds/no-such-feed", headers={"origin": "https://dash.example"}
        )
    assert answer.status_code == 404
    assert answer.headers.get_list("access-control-allow-origin") == ["*"]
    assert "origin" not in answer.headers.get("vary", "").lower()


async def test_a_cached_answer_echoes_the_request_id(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    await published(client, studio)
    await client.get(feed_url(studio))  # cached from here on
    again = await client.get(feed_url(studio), headers={"x-request-id": "launcher-42"})
    assert again.headers["x-request-id"] == "launcher-42"
