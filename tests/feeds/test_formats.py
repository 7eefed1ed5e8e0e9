"""The four formats: JSON Feed 1.1's rules, RSS and Atom that feedparser reads cleanly,
absolute URLs and sanitized HTML everywhere."""

from __future__ import annotations

import asyncio
from typing import Any

import feedparser
import httpx

from tests.feeds.conftest import PUBLIC, feed_url, published
from tests.schedule.conftest import Studio
from tests.schedule.test_assets import image_bytes, upload

BODY = 'Patch **1.2** is out. <script>alert("x")</script> [notes](https://example.com/notes)'


async def rich_feed(client: httpx.AsyncClient, studio: Studio) -> dict[str, Any]:
    asset = await upload(client, studio, image_bytes("PNG"))
    assert asset.status_code == 201, asset.text
    await published(client, studio, title="Older", body="Just text.")
    return await published(
        client,
        studio,
        kind="patch_notes",
        title="Patch 1.2",
        body=BODY,
        tags=["patch", "pc"],
        fields={"url": "https://starfall.example/patch-1-2"},
        feed={"summary": "Fixes and a new map.", "image_asset_id": asset.json()["id"]},
    ) | {"asset": asset.json()}


def check_json_feed(document: dict[str, Any]) -> None:
    """The JSON Feed 1.1 rules a reader relies on (https://jsonfeed.org/version/1.1)."""
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    assert isinstance(document["items"], list)
    for key in ("home_page_url", "feed_url", "next_url"):
        if key in document:
            assert isinstance(document[key], str) and document[key].startswith("https://")
    for item in document["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        for key in ("url", "image"):
            if key in item:
                assert item[key].startswith("https://")
        for key in ("title", "summary", "content_html", "date_published", "date_modified"):
            if key in item:
                assert isinstance(item[key], str)
        if "tags" in item:
            assert all(isinstance(tag, str) for tag in item["tags"])
        assert all(not k.startswith("_") or isinstance(item[k], dict) for k in item)


async def test_json_feed_follows_the_spec(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await rich_feed(client, studio)
    document = (await client.get(feed_url(studio, "/feed.json"))).json()
    check_json_feed(document)
    first = document["items"][0]
    assert first["title"] == "Patch 1.2" and first["url"] == "https://starfall.example/patch-1-2"
    assert first["image"] == f"{PUBLIC}/v1/assets/{item['asset']['id']}/content"
    assert "<script>" not in first["content_html"]
    assert '<a href="https://example.com/notes"' in first["content_html"]
    answer = await client.get(feed_url(studio, "/feed.json"))
    assert answer.headers["content-type"] == "application/feed+json"


async def test_rss_and_atom_parse_cleanly(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await rich_feed(client, studio)
    for suffix, version in (("/rss", "rss20"), ("/atom", "atom10")):
        answer = await client.get(feed_url(studio, suffix))
        parsed = feedparser.parse(answer.content)
        assert not parsed.bozo, (suffix, parsed.get("bozo_exception"))
        assert parsed.version == version
        titles = [entry.title for entry in parsed.entries]
        assert titles == ["Patch 1.2", "Older"]  # the feed's order, not feedgen's
        entry = parsed.entries[0]
        assert entry.id == f"urn:uuid:{item['id']}"
        assert entry.link == "https://starfall.example/patch-1-2"
        assert [tag.term for tag in entry.tags] == ["patch", "pc"]
        assert "<script>" not in answer.text
        image = f"{PUBLIC}/v1/assets/{item['asset']['id']}/content"
        assert entry.media_thumbnail[0]["url"] == image
        if suffix == "/rss":
            assert [e.href for e in entry.enclosures] == [image]
    # The same feed renders to the same bytes (no build clock): a stable ETag.
    again = await client.get(feed_url(studio, "/rss") + "?tags=patch,pc,patch")
    once = await client.get(feed_url(studio, "/rss") + "?tags=pc&tags=patch")
    assert again.headers["etag"] == once.headers["etag"]


async def test_a_feed_has_its_own_title_and_home_page(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    await published(client, studio)
    feed_id = studio.channels["launcher_feed"]
    assert (await client.get(feed_url(studio))).json()["title"] == "Starfall"  # the community
    config = {"title": "Starfall News", "home_page_url": "https://starfall.example/news"}
    named = await client.patch(
        f"/v1/channels/{feed_id}", json={"config": config}, headers=studio.auth()
    )
    assert named.status_code == 200, named.text
    await asyncio.sleep(0.1)  # the test replica re-reads a feed every 50 ms
    document = (await client.get(feed_url(studio, "/feed.json"))).json()
    assert document["title"] == "Starfall News"
    assert document["home_page_url"] == "https://starfall.example/news"
    rss = feedparser.parse((await client.get(feed_url(studio, "/rss"))).content)
    assert rss.feed.title == "Starfall News" and rss.feed.link == "https://starfall.example/news"
    cleared = await client.patch(
        f"/v1/channels/{feed_id}", json={"config": {"title": None}}, headers=studio.auth()
    )
    assert cleared.status_code == 200, cleared.text
    await asyncio.sleep(0.1)
    assert (await client.get(feed_url(studio))).json()["title"] == "Starfall"
