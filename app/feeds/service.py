"""A launcher feed's items: which feed a URL names, what is live in it, and what one player
sees (targeting, locale, order, pages).

A feed is read in two steps. `load_snapshot` reads every item delivered to the feed in one
query, as of the feed's version; `select` then answers any player's question from that
snapshot in memory. Snapshots are cached per feed and version (`app.feeds.cache`), so the
thousand variants of one feed (locales, platforms, regions, versions, pages) cost one query.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import semver
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import Channel, Community
from app.communities.platforms import ChannelKind
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.text import render_markdown
from app.feeds.query import FeedQuery, negotiate
from app.schedule.models import Asset, ContentItem, Delivery
from app.schedule.render import variant

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FEED_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")  # an id or a public slug
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class FeedRef:
    """A feed as a URL names it: the channel, its community's language, its version."""

    channel_id: uuid.UUID
    org_id: uuid.UUID
    community_id: uuid.UUID
    public_slug: str | None
    title: str
    home_page_url: str | None
    default_locale: str
    locales: tuple[str, ...]
    version: int
    changed_at: datetime  # the last change of what the feed shows (or of the feed itself)

    @property
    def name(self) -> str:
        """How links to the feed name it: its slug, else its id."""
        return self.public_slug or str(self.channel_id)


def _feed_columns() -> tuple[Any, ...]:
    return (
        Channel.id,
        Channel.org_id,
        Channel.community_id,
        Channel.public_slug,
        Channel.name,
        Channel.config,
        Channel.feed_version,
        Channel.feed_changed_at,
        Channel.created_at,
        Community.name,
        Community.default_locale,
        Community.locales,
    )


async def find_feed(
    session: AsyncSession, name: str, *, org_id: uuid.UUID | None = None
) -> FeedRef | None:
    """The enabled launcher feed `name` names: a channel id, else a public slug (an id is
    looked up first, so a slug shaped like an id never hides another feed). `org_id`
    restricts the search to one organisation (staff previews)."""
    if not FEED_NAME.fullmatch(name):
        return None  # neither an id nor a slug (and nothing a database should see)
    try:
        channel_id: uuid.UUID | None = uuid.UUID(name)
    except ValueError:
        channel_id = None
    stmt = (
        select(*_feed_columns())
        .join(Community, Community.id == Channel.community_id)
        .where(Channel.kind == ChannelKind.launcher_feed.value, Channel.enabled.is_(True))
    )
    if org_id is not None:
        stmt = stmt.where(Channel.org_id == org_id)
    by_name = Channel.public_slug == name
    stmt = stmt.where(or_(Channel.id == channel_id, by_name) if channel_id else by_name)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return None
    row = next((r for r in rows if r[0] == channel_id), rows[0])
    (
        cid,
        org,
        community,
        slug,
        _name,
        config,
        version,
        changed,
        created,
        title,
        default,
        locales,
    ) = row
    return FeedRef(
        channel_id=cid,
        org_id=org,
        community_id=community,
        public_slug=slug,
        title=config.get("title") or title,
        home_page_url=config.get("home_page_url"),
        default_locale=default,
        locales=tuple(locales or (default,)),
        version=version,
        changed_at=changed or created,
    )


@dataclass(frozen=True, slots=True)
class Image:
    path: str
    content_type: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Localized:
    title: str
    summary: str | None
    content_html: str


@dataclass(slots=True)
class LiveItem:
    """One item delivered to the feed, with what targeting and ordering need at hand and
    its text in every locale it has (rendered on first use)."""

    id: uuid.UUID
    kind: str
    pinned: bool
    priority: int
    published_at: datetime
    updated_at: datetime
    starts_at: datetime | None
    expires_at: datetime | None
    platforms: frozenset[str]
    regions: frozenset[str]
    min_version: semver.Version | None
    max_version: semver.Version | None
    tags: tuple[str, ...]
    url: str | None
    image: Image | None
    locale: str
    own: tuple[str, str, str | None]  # title, body, summary in the item's own locale
    translations: dict[str, dict[str, Any]]
    own_html: str | None  # the own body's HTML when it was rendered already (no variant)
    _views: dict[str, Localized] = field(default_factory=dict)

    @property
    def order_key(self) -> tuple[int, int, int, str]:
        """Descending order: pinned, priority, published_at, id (the cursor's fields)."""
        micros = (self.published_at - _EPOCH) // _MICROSECOND
        return (int(self.pinned), self.priority, micros, self.id.hex)

    def live(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (
            self.expires_at is None or now < self.expires_at
        )

    def matches(self, query: FeedQuery, version: semver.Version | None) -> bool:
        """Targeting: an empty list is for everyone; a dimension the query leaves out does
        not filter. `version` is the query's, parsed once for the whole page."""
        if query.platform and self.platforms and query.platform not in self.platforms:
            return False
        if query.region and self.regions and query.region not in self.regions:
            return False
        if version is not None and (self.min_version or self.max_version):
            if self.min_version and version < self.min_version:
                return False
            if self.max_version and version >= self.max_version:
                return False
        if query.kinds and self.kind not in query.kinds:
            return False
        return not query.tags or any(tag in self.tags for tag in query.tags)

    def localized(self, locale: str, default_locale: str) -> Localized:
        """The item in `locale`: its own text, a translation, else the community's default
        language's, else its own."""
        view = self._views.get(locale)
        if view is None:
            view = self._views[locale] = self._localize(locale, default_locale)
        return view

    def _localize(self, locale: str, default_locale: str) -> Localized:
        for wanted in (locale, default_locale):
            if wanted.lower() == self.locale.lower():
                break
            found = negotiate([wanted], self.translations, "")
            if found:
                text = self.translations[found]
                return Localized(text["title"], None, render_markdown(text["body"]))
        title, body, summary = self.own
        return Localized(title, summary, self.own_html or render_markdown(body))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A feed's delivered items as of one version, in feed order. The answer changes at
    each instant an item's window opens or closes: `moments`, sorted."""

    ref: FeedRef
    items: tuple[LiveItem, ...]
    moments: tuple[datetime, ...]
    size: int  # bytes it holds, near enough: counted in the feed cache's bound

    def valid_until(self, now: datetime) -> datetime | None:
        """When answers given now go stale without a new version."""
        return next((moment for moment in self.moments if moment > now), None)

    def changed_at(self, now: datetime) -> datetime:
        """Last-Modified: the feed's last change, or a window that opened or closed since."""
        passed = [moment for moment in self.moments if moment <= now]
        return max(self.ref.changed_at, passed[-1]) if passed else self.ref.changed_at


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _version(value: str | None) -> semver.Version | None:
    return semver.Version.parse(value) if value else None


def _link(fields: dict[str, Any]) -> str | None:
    url = fields.get("url")
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


async def load_snapshot(session: AsyncSession, ref: FeedRef) -> Snapshot:
    """Every item delivered to the feed and not retracted, in one query (and one for the
    images' sizes)."""
    stmt = (
        select(ContentItem, Delivery.delivered_at)
        .join(Delivery, Delivery.content_id == ContentItem.id)
        .where(
            Delivery.channel_id == ref.channel_id,
            Delivery.status == "delivered",
            ContentItem.status != "retracted",
        )
    )
    rows = (await session.execute(stmt)).all()
    image_ids = {
        uuid.UUID(item.feed["image_asset_id"])
        for item, _ in rows
        if item.feed.get("image_asset_id")
    }
    images: dict[str, Image] = {}
    if image_ids:
        found = await session.execute(
            select(Asset.id, Asset.content_type, Asset.bytes).where(Asset.id.in_(image_ids))
        )
        images = {
            str(aid): Image(f"/v1/assets/{aid}/content", ctype, size) for aid, ctype, size in found
        }
    items = []
    for item, delivered_at in rows:
        options = item.feed
        title, body = variant(item, ref.channel_id)
        items.append(
            LiveItem(
                id=item.id,
                kind=item.kind,
                pinned=bool(options.get("pinned")),
                priority=int(options.get("priority") or 0),
                # When it went live in this feed: fixed once delivered (the item's own
                # published_at waits for its slowest channel).
                published_at=(published := delivered_at or item.published_at or item.updated_at),
                updated_at=max(item.updated_at, published),
                starts_at=_instant(options.get("starts_at")),
                expires_at=_instant(options.get("expires_at")),
                platforms=frozenset(options.get("platforms") or ()),
                regions=frozenset(options.get("regions") or ()),
                min_version=_version(options.get("min_version")),
                max_version=_version(options.get("max_version")),
                tags=tuple(item.tags),
                url=_link(item.fields),
                image=images.get(options.get("image_asset_id") or ""),
                locale=item.locale,
                own=(title, body, options.get("summary")),
                translations=item.translations or {},
                own_html=item.body_html if body == item.body else None,
            )
        )
    items.sort(key=lambda live: live.order_key, reverse=True)
    # Every window's moments, the passed ones too (Last-Modified counts an expiry); items
    # that expired are dropped: they never show again without an edit (a new version).
    moments = {m for live in items for m in (live.starts_at, live.expires_at) if m is not None}
    now = utcnow()
    items = [live for live in items if live.expires_at is None or live.expires_at > now]
    size = sum(_size(item) for item, _ in rows)
    return Snapshot(ref, tuple(items), tuple(sorted(moments)), size)


def _size(item: ContentItem) -> int:
    """An item's share of a snapshot's memory: its texts and the objects around them."""
    texts = len(item.title) + len(item.body) + len(item.body_html)
    texts += sum(
        len(t.get("title", "")) + 2 * len(t.get("body", "")) for t in item.translations.values()
    )
    return 2 * texts + 2_000


@dataclass(frozen=True, slots=True)
class FeedPage:
    """What one player sees: the page's items in the negotiated locale, and the cursor of
    the next page."""

    ref: FeedRef
    locale: str
    items: list[tuple[LiveItem, Localized]]
    next_cursor: str | None
    last_modified: datetime
    valid_until: datetime | None


def select_page(snapshot: Snapshot, query: FeedQuery, now: datetime | None = None) -> FeedPage:
    now = now or utcnow()
    ref = snapshot.ref
    locale = negotiate(query.locales, ref.locales, ref.default_locale)
    version = semver.Version.parse(query.version) if query.version else None
    chosen: list[LiveItem] = []
    more = False
    for live in snapshot.items:
        if query.cursor is not None and live.order_key >= query.cursor:
            continue
        if not (live.live(now) and live.matches(query, version)):
            continue
        if len(chosen) == query.limit:
            more = True
            break
        chosen.append(live)
    next_cursor = None
    if more and chosen:
        pinned, priority, micros, item_id = chosen[-1].order_key
        next_cursor = f"{pinned}.{priority}.{micros}.{item_id}"
    return FeedPage(
        ref=ref,
        locale=locale,
        items=[(live, live.localized(locale, ref.default_locale)) for live in chosen],
        next_cursor=next_cursor,
        last_modified=snapshot.changed_at(now),
        valid_until=snapshot.valid_until(now),
    )


async def preview(session: AsyncSession, actor: Actor, name: str, query: FeedQuery) -> FeedPage:
    """What a player with these properties sees now, read from the database (not the
    public cache): staff previews. Role: viewer; another organisation's feed is a 404."""
    actor.require(Role.viewer)
    ref = await find_feed(session, name, org_id=actor.org_id)
    if ref is None:
        raise NotFound(f"No launcher feed '{name}' in this organisation.")
    return select_page(await load_snapshot(session, ref), query)
