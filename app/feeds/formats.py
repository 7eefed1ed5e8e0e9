"""A feed page in its four formats: Hearth JSON, JSON Feed 1.1, RSS 2.0 and Atom 1.0.

The bytes are a pure function of the page and the base URL (no "generated at" clock), so
the same answer always has the same strong ETag. RSS and Atom are written by feedgen.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from app import __version__
from app.feeds import embed
from app.feeds.query import FORMATS, FeedQuery
from app.feeds.service import FeedPage, LiveItem, Localized

MEDIA_TYPES = {
    "json": "application/json",
    "json_feed": "application/feed+json",
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "embed": "text/html; charset=utf-8",
}
EXTRA_HEADERS = {"embed": embed.HEADERS}
SUFFIXES = {fmt: suffix for suffix, fmt in FORMATS.items()}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(
        timespec="seconds" if not moment.microsecond else "microseconds"
    ).replace("+00:00", "Z")


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class Links:
    """The absolute URLs of one answer: the feed's own (per format) and the next page's."""

    def __init__(self, base: str, page: FeedPage, query: FeedQuery, fmt: str) -> None:
        self.base = base
        self.query = query
        self.root = f"{base}/v1/feeds/{page.ref.name}"
        self.feed = f"{self.root}{SUFFIXES[fmt]}"
        locale = page.locale if query.explicit_locale else None
        self.next = (
            f"{self.feed}?{query.query_string(cursor=page.next_cursor, locale=locale)}"
            if page.next_cursor
            else None
        )

    def absolute(self, path: str | None) -> str | None:
        return f"{self.base}{path}" if path and path.startswith("/") else path


def hearth_item(live: LiveItem, text: Localized, links: Links) -> dict[str, Any]:
    return {
        "id": str(live.id),
        "kind": live.kind,
        "title": text.title,
        "summary": text.summary,
        "content_html": text.content_html,
        "url": live.url,
        "image_url": links.absolute(live.image.path) if live.image else None,
        "tags": list(live.tags),
        "pinned": live.pinned,
        "priority": live.priority,
        "published_at": _iso(live.published_at),
        "updated_at": _iso(live.updated_at),
        "expires_at": _iso(live.expires_at),
    }


def hearth_document(page: FeedPage, links: Links) -> dict[str, Any]:
    """Hearth JSON (`FeedOut`), as REST serves it and GraphQL previews it."""
    return {
        "title": page.ref.title,
        "home_page_url": page.ref.home_page_url,
        "feed_url": links.feed,
        "locale": page.locale,
        "items": [hearth_item(live, text, links) for live, text in page.items],
        "next_url": links.next,
    }


def hearth_json(page: FeedPage, links: Links) -> bytes:
    return _dumps(hearth_document(page, links))


def json_feed(page: FeedPage, links: Links) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1): optional members are left out
    rather than null; Hearth's own fields go in `_hearth`, as the spec's extensions do."""
    items = []
    for live, text in page.items:
        item: dict[str, Any] = {
            "id": str(live.id),
            "title": text.title,
            "content_html": text.content_html,
            "date_published": _iso(live.published_at),
            "date_modified": _iso(live.updated_at),
            "_hearth": {
                "kind": live.kind,
                "pinned": live.pinned,
                "priority": live.priority,
                "expires_at": _iso(live.expires_at),
            },
        }
        if live.url:
            item["url"] = live.url
        if text.summary:
            item["summary"] = text.summary
        if live.image:
            item["image"] = links.absolute(live.image.path)
        if live.tags:
            item["tags"] = list(live.tags)
        items.append(item)
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": page.ref.title,
        "feed_url": links.feed,
        "language": page.locale,
        "items": items,
    }
    if page.ref.home_page_url:
        document["home_page_url"] = page.ref.home_page_url
    if links.next:
        document["next_url"] = links.next
    return _dumps(document)


def _generator(page: FeedPage, links: Links, *, atom: bool) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("media")  # the item's image as <media:thumbnail>, in both formats
    feed.id(f"urn:uuid:{page.ref.channel_id}")
    feed.title(page.ref.title)
    feed.language(page.locale)
    feed.generator("Hearth", __version__)
    # Self first: feedgen's RSS <link> is the last link added, whatever its rel.
    feed.link(href=links.feed, rel="self")
    feed.link(href=page.ref.home_page_url or links.feed, rel="alternate")
    if links.next:
        feed.link(href=links.next, rel="next")
    feed.updated(page.last_modified)
    feed.lastBuildDate(page.last_modified)  # not "now": the same feed, the same bytes
    feed.description(page.ref.title)
    # feedgen prepends each entry; add them in reverse to keep the feed's order.
    for live, text in reversed(page.items):
        entry = feed.add_entry()
        entry.id(f"urn:uuid:{live.id}")
        entry.guid(f"urn:uuid:{live.id}", permalink=False)
        entry.title(text.title)
        entry.description(text.content_html)  # RSS's <description>: the whole item
        entry.content(text.content_html, type="html")  # Atom's <content type="html">
        if text.summary:
            entry.summary(text.summary)
        entry.published(live.published_at)
        entry.updated(live.updated_at)
        if live.url:
            entry.link(href=live.url, rel="alternate")
        if live.image:
            image = links.absolute(live.image.path)
            entry.media.thumbnail(url=image)
            if not atom:
                # feedgen 1.0 writes an Atom entry's links without their rel, which would
                # make the image the entry's "alternate": RSS only.
                entry.enclosure(image, str(live.image.bytes), live.image.content_type)
        for tag in live.tags:
            entry.category(term=tag)
    return feed


def rss(page: FeedPage, links: Links) -> bytes:
    return _generator(page, links, atom=False).rss_str(pretty=False)


def atom(page: FeedPage, links: Links) -> bytes:
    return _generator(page, links, atom=True).atom_str(pretty=False)


def embed_html(page: FeedPage, links: Links) -> bytes:
    # Events go to the page's own origin (connect-src 'self'), wherever the base points.
    events = urlsplit(links.root).path + "/events"
    return embed.render(page, base=links.base, events_url=events, theme=links.query.theme)


RENDERERS = {
    "json": hearth_json,
    "json_feed": json_feed,
    "rss": rss,
    "atom": atom,
    "embed": embed_html,
}


def render(fmt: str, page: FeedPage, query: FeedQuery, base: str) -> bytes:
    return RENDERERS[fmt](page, Links(base, page, query, fmt))
