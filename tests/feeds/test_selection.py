"""What a player sees: targeting, windows, order, locales and pages (both databases)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.feeds.conftest import feed_url, published
from tests.schedule.conftest import Studio, eventually

pytestmark = pytest.mark.both_backends


async def titles(
    client: httpx.AsyncClient, studio: Studio, query: str = "", **headers: str
) -> list[str]:
    answer = await client.get(feed_url(studio) + query, headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["title"] for item in answer.json()["items"]]


async def test_targeting_and_order(client: httpx.AsyncClient, studio: Studio) -> None:
    items: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("plain old", {}, {}),
        ("pinned", {"pinned": True}, {}),
        ("priority", {"priority": 10}, {}),
        ("ps5 only", {"platforms": ["ps5"]}, {}),
        ("germany only", {"regions": ["DE"]}, {}),
        ("v2 only", {"min_version": "2.0.0", "max_version": "3.0.0"}, {}),
        ("event", {}, {"kind": "event", "tags": ["tournament"]}),
    ]
    for title, feed, extra in items:
        await published(client, studio, title=title, feed=feed, **extra)

    everyone = ["pinned", "priority", "event", "v2 only", "germany only", "ps5 only", "plain old"]
    assert await titles(client, studio) == everyone  # a dimension left out does not filter
    windows = await titles(client, studio, "?platform=windows&region=us&version=1.9.9")
    assert windows == ["pinned", "priority", "event", "plain old"]
    assert "ps5 only" in await titles(client, studio, "?platform=ps5")
    assert "germany only" in await titles(client, studio, "?region=de")
    assert "v2 only" in await titles(client, studio, "?version=2.5")  # 2.5 reads as 2.5.0
    assert "v2 only" not in await titles(client, studio, "?version=3.0.0")  # max excluded
    assert "v2 only" in await titles(client, studio, "?version=3.0.0-beta.1")  # below 3.0.0
    assert await titles(client, studio, "?kinds=event") == ["event"]
    assert await titles(client, studio, "?tags=tournament,other") == ["event"]


async def test_windows_open_and_close_on_time(client: httpx.AsyncClient, studio: Studio) -> None:
    # Far enough ahead for a loaded machine to publish both items before it.
    soon = datetime.now(UTC) + timedelta(seconds=4)
    stamp = soon.isoformat().replace("+00:00", "Z")
    await published(client, studio, title="until soon", feed={"expires_at": stamp})
    await published(client, studio, title="from soon", feed={"starts_at": stamp})
    assert datetime.now(UTC) < soon, "the machine took over 4 s to publish two items"
    assert await titles(client, studio) == ["until soon"]  # cached from here on
    # No publish in between: the cached answer knows when it goes stale.
    await eventually(lambda: titles_now(client, studio), timeout=8)


async def titles_now(client: httpx.AsyncClient, studio: Studio) -> bool:
    return await titles(client, studio) == ["from soon"]


async def test_locale_negotiation_and_fallback(client: httpx.AsyncClient, studio: Studio) -> None:
    await published(
        client,
        studio,
        title="Season 3",
        translations={"de": {"title": "Saison 3", "body": "Neue *Schiffe*."}},
    )
    await published(client, studio, title="Nur Deutsch", locale="de")
    url = feed_url(studio)
    german = await client.get(url, headers={"accept-language": "fr;q=0.9, de-AT;q=0.8, en;q=0.1"})
    assert german.headers["content-language"] == "de"
    assert german.headers["vary"] == "Accept-Language"
    assert [i["title"] for i in german.json()["items"]] == ["Nur Deutsch", "Saison 3"]
    assert german.json()["items"][1]["content_html"] == "<p>Neue <em>Schiffe</em>.</p>\n"
    refused = await client.get(url, headers={"accept-language": "de;q=0, en"})
    assert [i["title"] for i in refused.json()["items"]] == ["Nur Deutsch", "Season 3"]
    # French is not offered: the community's default language (English); an item without
    # it keeps its own.
    french = await client.get(url, headers={"accept-language": "fr"})
    assert french.headers["content-language"] == "en"
    assert [i["title"] for i in french.json()["items"]] == ["Nur Deutsch", "Season 3"]
    explicit = await client.get(url + "?locale=de", headers={"accept-language": "en"})
    assert explicit.headers["content-language"] == "de" and "vary" not in explicit.headers
    assert explicit.json()["locale"] == "de"


async def test_pages_follow_next_url(client: httpx.AsyncClient, studio: Studio) -> None:
    for n in range(5):
        await published(client, studio, title=f"item {n}", feed={"pinned": n == 2})
    seen: list[str] = []
    url: str | None = feed_url(studio) + "?limit=2&locale=en"
    while url:
        page = (await client.get(url.removeprefix("https://hearth.example"))).json()
        assert len(page["items"]) <= 2
        seen += [item["title"] for item in page["items"]]
        url = page["next_url"]
        if url:
            assert url.startswith("https://hearth.example/v1/feeds/") and "locale=en" in url
    assert seen == ["item 2", "item 4", "item 3", "item 1", "item 0"]
    bad = await client.get(feed_url(studio) + "?cursor=1.2.3." + "0" * 31)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_a_change_shows_without_waiting_for_the_cache(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await published(client, studio, title="Before")
    first = await client.get(feed_url(studio))
    edited = await client.patch(
        f"/v1/content/{item['id']}",
        json={"title": "After", "version": item["version"]},
        headers=studio.auth(),
    )
    assert edited.status_code == 200, edited.text
    await asyncio.sleep(0.1)  # the test replica checks the feed's version every 50 ms
    second = await client.get(feed_url(studio))
    assert [i["title"] for i in second.json()["items"]] == ["After"]
    assert second.headers["etag"] != first.headers["etag"]
    retracted = await client.post(
        f"/v1/content/{item['id']}/retract", json={"reason": "wrong"}, headers=studio.auth()
    )
    assert retracted.status_code == 200, retracted.text
    await asyncio.sleep(0.1)
    assert (await client.get(feed_url(studio))).json()["items"] == []
