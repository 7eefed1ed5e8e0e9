"""Platform profiles: what each channel kind accepts (length, markup, media, rate).

The numbers for outside platforms come from their documentation (sources listed per
profile); `forum`, `webhook` and `launcher_feed` are Hearth's own surfaces, and their limits
are Hearth's choices. Writing and scheduling check outgoing text against these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ChannelKind(StrEnum):
    forum = "forum"
    launcher_feed = "launcher_feed"
    discord = "discord"
    slack = "slack"
    webhook = "webhook"


@dataclass(frozen=True)
class MediaRules:
    max_attachments: int
    max_bytes_per_attachment: int | None
    types: tuple[str, ...]


@dataclass(frozen=True)
class RateRule:
    requests: int
    per_seconds: int
    note: str


@dataclass(frozen=True)
class PlatformProfile:
    kind: ChannelKind
    label: str
    max_length: int  # characters of the main text
    recommended_length: int | None
    title_max_length: int | None
    markup: str
    media: MediaRules
    rate: RateRule | None
    delivery: str  # "outbound": Hearth sends over HTTP; "internal": shown by Hearth itself
    limits: dict[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()


MIB = 1024 * 1024

PROFILES: dict[ChannelKind, PlatformProfile] = {
    ChannelKind.discord: PlatformProfile(
        kind=ChannelKind.discord,
        label="Discord (webhook)",
        # "content: the message contents (up to 2000 characters)" — Execute Webhook.
        max_length=2000,
        recommended_length=None,
        title_max_length=256,  # embed title
        markup="discord-markdown",
        media=MediaRules(
            max_attachments=10,
            max_bytes_per_attachment=25 * MIB,
            types=("image/*", "video/*", "application/*"),
        ),
        rate=RateRule(
            5, 2, "Discord's limits are per webhook and dynamic; Hearth honours 429 Retry-After."
        ),
        delivery="outbound",
        limits={
            "embeds": 10,
            "embed_description": 4096,
            "embed_fields": 25,
            "embed_total_characters": 6000,
            "request_bytes": 25 * MIB,
        },
        sources=(
            "https://discord.com/developers/docs/resources/webhook#execute-webhook",
            "https://discord.com/developers/docs/resources/message#embed-object-embed-limits",
            "https://discord.com/developers/docs/topics/rate-limits",
        ),
    ),
    ChannelKind.slack: PlatformProfile(
        kind=ChannelKind.slack,
        label="Slack (incoming webhook)",
        # Slack truncates `text` past 40,000 characters and recommends at most 4,000.
        max_length=40000,
        recommended_length=4000,
        title_max_length=150,  # header block text
        markup="slack-mrkdwn",
        media=MediaRules(max_attachments=0, max_bytes_per_attachment=None, types=()),
        rate=RateRule(1, 1, "One message per second per webhook, short bursts allowed."),
        delivery="outbound",
        limits={"blocks": 50, "section_text": 3000},
        sources=(
            "https://api.slack.com/messaging/webhooks",
            "https://api.slack.com/methods/chat.postMessage#truncating",
            "https://api.slack.com/reference/block-kit/blocks",
            "https://api.slack.com/docs/rate-limits",
        ),
    ),
    ChannelKind.webhook: PlatformProfile(
        kind=ChannelKind.webhook,
        label="Webhook (Standard Webhooks, signed)",
        max_length=100_000,  # Hearth's limit; the JSON body stays well under 1 MiB
        recommended_length=None,
        title_max_length=300,
        markup="markdown",
        media=MediaRules(max_attachments=10, max_bytes_per_attachment=None, types=("url",)),
        rate=None,
        delivery="outbound",
        sources=("https://www.standardwebhooks.com/",),
    ),
    ChannelKind.forum: PlatformProfile(
        kind=ChannelKind.forum,
        label="Hearth forum",
        max_length=50_000,
        recommended_length=None,
        title_max_length=200,
        markup="markdown",
        media=MediaRules(max_attachments=10, max_bytes_per_attachment=10 * MIB, types=("image/*",)),
        rate=None,
        delivery="internal",
    ),
    ChannelKind.launcher_feed: PlatformProfile(
        kind=ChannelKind.launcher_feed,
        label="Game launcher news feed",
        max_length=20_000,
        recommended_length=2_000,
        title_max_length=120,
        markup="markdown",
        media=MediaRules(max_attachments=1, max_bytes_per_attachment=5 * MIB, types=("image/*",)),
        rate=None,
        delivery="internal",
        limits={"summary": 300},
    ),
}
