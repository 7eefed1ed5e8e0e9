"""Preflight: the community's tone, each channel's platform profile (on the variant that is
really sent), and the unwelcome-news kit. An error blocks `schedule` and `publish`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import emoji

from app.communities.platforms import PROFILES, ChannelKind
from app.core.text import for_matching
from app.schedule.models import ContentItem
from app.schedule.render import ChannelRef, Rendered
from app.schedule.schemas import Check

# Kinds that bring unwelcome news; any content with `fields.delay` is treated alike.
KIT_KINDS = ("incident", "maintenance")
KIT_FIELDS = {
    "what_changed": "what changed",
    "why": "why it happened",
    "player_impact": "what players get or must do",
}
# Phrases that shift blame onto players: unwelcome news owns what happened.
BLAME_PHRASES = (
    "unfortunately you",
    "unfortunately, you",
    "you should have",
    "you failed to",
    "your fault",
    "user error",
    "as you were told",
    "you must have",
    "if you had",
)


@dataclass
class Context:
    """What the checks read besides the item: the community's tone and locales, and the
    channels with what each would receive."""

    tone: dict[str, Any]
    locales: Sequence[str]
    channels: Sequence[ChannelRef]
    rendered: dict[uuid.UUID, Rendered]
    # Forum categories that exist in the community (a forum channel must name one).
    categories: set[str] = field(default_factory=set)


def run(item: ContentItem, context: Context) -> list[Check]:
    checks = [*_content(item, context), *_tone(item, context.tone), *_kit(item, context.tone)]
    for channel in context.channels:
        checks += _channel(item, channel, context)
    return checks


def has_errors(checks: Iterable[Check]) -> bool:
    return any(check.level == "error" for check in checks)


def _texts(item: ContentItem) -> list[tuple[str, str]]:
    """Every text that may go out, with the field it came from."""
    texts = [("title", item.title), ("body", item.body)]
    for locale, translation in item.translations.items():
        texts += [
            (f"translations.{locale}.title", translation["title"]),
            (f"translations.{locale}.body", translation["body"]),
        ]
    for channel_id, override in item.variants.items():
        texts += [(f"variants.{channel_id}.{k}", v) for k, v in override.items() if v]
    return texts


def _contains(haystack: str, phrase: str) -> bool:
    """Whole-word match on the matching form (`scam` is not in `scampi`)."""
    needle = for_matching(phrase).strip()
    if not needle:
        return False
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


def _content(item: ContentItem, context: Context) -> list[Check]:
    checks = []
    if not item.channel_ids:
        checks.append(
            Check(
                level="error",
                code="content.no_channels",
                message="Choose at least one channel to publish to.",
                field="channel_ids",
            )
        )
    feed = item.feed
    if feed.get("starts_at") and feed.get("expires_at") and feed["expires_at"] <= feed["starts_at"]:
        checks.append(
            Check(
                level="error",
                code="feed.window",
                message="The feed item expires before it starts; it would never be shown.",
                field="feed.expires_at",
            )
        )
    known = {str(channel.id) for channel in context.channels}
    for gone in (cid for cid in item.channel_ids if cid not in known):
        checks.append(
            Check(
                level="error",
                code="channel.missing",
                message=f"The channel {gone} was deleted; remove it from channel_ids.",
                field="channel_ids",
            )
        )
    for locale in item.translations:
        if locale not in context.locales:
            checks.append(
                Check(
                    level="warning",
                    code="content.locale",
                    message=f"The community does not list the locale {locale}; players"
                    " may never be served this translation.",
                    field=f"translations.{locale}",
                )
            )
    return checks


def _tone(item: ContentItem, tone: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    texts = [(where, text, for_matching(text)) for where, text in _texts(item)]
    for phrase in tone.get("banned_phrases", []):
        for where, _, matched in texts:
            if _contains(matched, phrase):
                checks.append(
                    Check(
                        level="error",
                        code="tone.banned_phrase",
                        message=f"“{phrase}” is on the community's banned list.",
                        field=where,
                    )
                )
    for avoid, use in tone.get("preferred_terms", {}).items():
        for where, _, matched in texts:
            if _contains(matched, avoid):
                checks.append(
                    Check(
                        level="warning",
                        code="tone.preferred_term",
                        message=f"The community says “{use}” rather than “{avoid}”.",
                        field=where,
                    )
                )
    sign_off = tone.get("sign_off", "").strip()
    if sign_off and not item.body.rstrip().endswith(sign_off):
        checks.append(
            Check(
                level="warning",
                code="tone.sign_off",
                message=f"Posts in this community end with “{sign_off}”.",
                field="body",
            )
        )
    if tone.get("emoji") == "none":
        for where, text, _ in texts:
            if emoji.emoji_count(text):
                checks.append(
                    Check(
                        level="warning",
                        code="tone.emoji",
                        message="This community's tone uses no emoji.",
                        field=where,
                    )
                )
    return checks


def _kit(item: ContentItem, tone: dict[str, Any]) -> list[Check]:
    """The unwelcome-news kit: say what changed, why, when, and what it means for players,
    without blaming them."""
    sign_off = tone.get("sign_off", "").strip()
    if item.kind not in KIT_KINDS and not item.fields.get("delay"):
        return []
    checks = []
    for name, meaning in KIT_FIELDS.items():
        if not _filled(item.fields.get(name)):
            checks.append(
                Check(
                    level="error",
                    code="kit.missing_field",
                    message=f"Unwelcome news says {meaning}: fill fields.{name}.",
                    field=f"fields.{name}",
                )
            )
    if not _filled(item.fields.get("new_date")) and not _filled(item.fields.get("next_update_at")):
        checks.append(
            Check(
                level="error",
                code="kit.missing_field",
                message="Say when things change next: fill fields.new_date or"
                " fields.next_update_at (an ISO 8601 instant).",
                field="fields.new_date",
            )
        )
    for where, text in _texts(item):
        matched = for_matching(text)
        for phrase in BLAME_PHRASES:
            if _contains(matched, phrase):
                checks.append(
                    Check(
                        level="error",
                        code="kit.blame",
                        message=f"“{phrase}” shifts the blame onto players; say what"
                        " happened and what you are doing about it.",
                        field=where,
                    )
                )
        # The community's own sign-off is its voice, exclamation mark or not.
        if item.kind == "incident" and "!" in (text.replace(sign_off, "") if sign_off else text):
            checks.append(
                Check(
                    level="error",
                    code="kit.exclamation",
                    message="An incident notice keeps a calm tone: no exclamation marks.",
                    field=where,
                )
            )
    return checks


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _channel(item: ContentItem, channel: ChannelRef, context: Context) -> list[Check]:
    profile = PROFILES[channel.kind]
    checks = []

    def add(level: str, code: str, message: str, field: str | None = None) -> None:
        checks.append(
            Check(level=level, code=code, message=message, channel_id=channel.id, field=field)
        )

    if not channel.enabled:
        add("error", "channel.disabled", f"The channel “{channel.name}” is disabled.")
    if channel.kind == ChannelKind.forum:
        category = channel.config.get("category_id")
        if category is None or category not in context.categories:
            add(
                "error",
                "channel.category",
                f"The forum channel “{channel.name}” names no category of this community;"
                " set config.category_id.",
            )
    rendered = context.rendered[channel.id]
    where = f"variants.{channel.id}" if str(channel.id) in item.variants else None
    if len(rendered.text) > profile.max_length:
        add(
            "error",
            "platform.length",
            f"{profile.label} takes at most {profile.max_length} characters; this text has"
            f" {len(rendered.text)}. Shorten it or give this channel a variant.",
            where or "body",
        )
    elif profile.recommended_length and len(rendered.text) > profile.recommended_length:
        add(
            "warning",
            "platform.recommended_length",
            f"{profile.label} reads best under {profile.recommended_length} characters.",
            where or "body",
        )
    if (
        rendered.title
        and profile.title_max_length
        and len(rendered.title) > profile.title_max_length
    ):
        add(
            "error",
            "platform.title_length",
            f"{profile.label} titles are at most {profile.title_max_length} characters.",
            where or "title",
        )
    attachments = len(item.asset_ids)
    if attachments > profile.media.max_attachments:
        if profile.media.max_attachments == 0:
            add("warning", "platform.attachments", f"{profile.label} is sent no attachments.")
        else:
            add(
                "error",
                "platform.attachments",
                f"{profile.label} takes at most {profile.media.max_attachments} attachments.",
                "asset_ids",
            )
    return checks
