"""What each channel receives for a content item: the one place previews, checks and
deliveries get their text and payload from, so a preview shows exactly what is sent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from slackify_markdown import slackify_markdown

from app.communities.platforms import PROFILES, ChannelKind
from app.core.text import render_markdown
from app.schedule.models import ContentItem

# Webhook event types a content delivery sends, by the delivery's action.
WEBHOOK_EVENTS = {
    "send": "content.published",
    "update": "content.updated",
    "retract": "content.retracted",
}


@dataclass(frozen=True)
class ChannelRef:
    """The parts of a channel rendering needs (no ORM object crosses into jobs)."""

    id: uuid.UUID
    kind: ChannelKind
    name: str
    config: dict[str, Any]
    enabled: bool = True

    @classmethod
    def of(cls, channel: Any) -> ChannelRef:
        """From a Channel row."""
        return cls(
            channel.id, ChannelKind(channel.kind), channel.name, channel.config, channel.enabled
        )


@dataclass(frozen=True)
class Rendered:
    channel_id: uuid.UUID
    kind: ChannelKind
    title: str | None
    text: str
    payload: dict[str, Any]

    @property
    def max_length(self) -> int:
        return PROFILES[self.kind].max_length


def variant(item: ContentItem, channel_id: uuid.UUID) -> tuple[str, str]:
    """The title and body this channel gets: its variant's, else the item's own."""
    override = item.variants.get(str(channel_id)) or {}
    return override.get("title") or item.title, override.get("body") or item.body


def render(
    item: ContentItem, content: dict[str, Any], channel: ChannelRef, action: str = "send"
) -> Rendered:
    """What `channel` gets of `item`; `content` is the item's JSON form (its events'
    payload), which webhooks carry: taken once per item, however many channels it goes to."""
    title, body = variant(item, channel.id)
    if channel.kind == ChannelKind.discord:
        # Discord's Markdown takes CommonMark's emphasis, links and lists; the title leads
        # in bold rather than as an embed, so the whole message is one searchable text.
        text = f"**{title}**\n\n{body}"
        payload: dict[str, Any] = {"content": text, "allowed_mentions": {"parse": []}}
        if channel.config.get("username"):
            payload["username"] = channel.config["username"]
        if channel.config.get("avatar_url"):
            payload["avatar_url"] = channel.config["avatar_url"]
        return Rendered(channel.id, channel.kind, title, text, payload)
    if channel.kind == ChannelKind.slack:
        text = slackify_markdown(f"**{title}**\n\n{body}").rstrip("\n")
        return Rendered(channel.id, channel.kind, title, text, {"text": text})
    if channel.kind == ChannelKind.webhook:
        data = {
            "content": content,
            "variant": {"title": title, "body": body, "body_html": body_html(item, body)},
            "channel_id": str(channel.id),
        }
        return Rendered(
            channel.id, channel.kind, title, body, {"type": WEBHOOK_EVENTS[action], "data": data}
        )
    if channel.kind == ChannelKind.forum:
        payload = {
            "category_id": channel.config.get("category_id"),
            "title": title,
            "body": body,
            "pinned": item.kind == "announcement",
        }
        return Rendered(channel.id, channel.kind, title, body, payload)
    return Rendered(channel.id, channel.kind, title, body, feed_item(item, title, body))


def body_html(item: ContentItem, body: str) -> str:
    """The body as HTML: the item's own is rendered once, when written; a variant's here."""
    return item.body_html if body == item.body and item.body_html else render_markdown(body)


def feed_item(item: ContentItem, title: str, body: str) -> dict[str, Any]:
    """The launcher feed's view of an item (the feed itself serves it with absolute URLs)."""
    feed = item.feed
    return {
        "id": str(item.id),
        "kind": item.kind,
        "title": title,
        "summary": feed.get("summary"),
        "content_html": body_html(item, body),
        "image_asset_id": feed.get("image_asset_id"),
        "tags": item.tags,
        "pinned": feed.get("pinned", False),
        "priority": feed.get("priority", 0),
        "starts_at": feed.get("starts_at"),
        "expires_at": feed.get("expires_at"),
        "platforms": feed.get("platforms", []),
        "regions": feed.get("regions", []),
        "min_version": feed.get("min_version"),
        "max_version": feed.get("max_version"),
    }
