"""Recurring content: occurrences of an RRULE at wall-clock times in an IANA zone, and the
content copy each occurrence is published as.

A recurring item, once scheduled, is a series: it is never delivered itself. Each
occurrence due within `MATERIALIZE_AHEAD` becomes its own content copy (`series_id` = the
series, `publish_at` = the occurrence), scheduled with delivery rows like any item, so it
is published, retried and retracted on its own. A periodic job keeps the window filled.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.schedule import content, planning
from app.schedule.models import ContentItem

# Copies exist this far ahead, so their deliveries are queued as precisely as any item's.
MATERIALIZE_AHEAD = timedelta(hours=24)
# Occurrences listed at most per calendar question (a daily rule over a year is 365).
MAX_OCCURRENCES = 2000
_COPIED = (
    "org_id",
    "community_id",
    "kind",
    "title",
    "body",
    "body_html",
    "locale",
    "translations",
    "channel_ids",
    "variants",
    "asset_ids",
    "tags",
    "fields",
    "feed",
    "created_by",
    "approved_by",
)
# Later than any occurrence: "is there one left at all?"
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)
# Statuses whose items appear in the calendar at their publish time.
ON_CALENDAR = ("scheduled", "publishing", "published", "partially_published")


def _rule(item: ContentItem) -> tuple[rrule, ZoneInfo]:
    """The item's rule, anchored at its first publish time as wall-clock time in its zone."""
    spec = item.recurrence or {}
    zone = ZoneInfo(spec["timezone"])
    assert item.publish_at is not None
    start = item.publish_at.astimezone(zone).replace(tzinfo=None)
    rule = rrulestr(spec["rrule"], dtstart=start)
    assert isinstance(rule, rrule)
    return rule, zone


@functools.lru_cache(maxsize=1024)
def ever_occurs(rrule_text: str) -> bool:
    """Whether a rule has any occurrence at all. dateutil scans to the year 9999 for one
    that never does (BYMONTH=2;BYMONTHDAY=30): ask near that year, where the scan is short
    and every pattern of leap years and weekdays still comes round."""
    try:
        probe = rrulestr(rrule_text, dtstart=datetime(9990, 1, 1))
        return next(iter(probe), None) is not None  # type: ignore[call-overload]
    except ValueError:  # the scan ran past the year 9999
        return False


def occurrences(item: ContentItem, start: datetime, end: datetime) -> Iterator[datetime]:
    """UTC instants of the item's occurrences in [start, end), in order. Each is the rule's
    wall-clock time in the item's zone: 18:00 in London is 18:00 in winter and in summer."""
    spec = item.recurrence
    if not spec or item.publish_at is None or not ever_occurs(spec["rrule"]):
        return
    rule, zone = _rule(item)
    until = datetime.fromisoformat(spec["until"]) if spec.get("until") else None
    local_start = (start - timedelta(days=2)).astimezone(zone).replace(tzinfo=None)
    count = 0
    for local in rule.xafter(local_start, inc=True):  # type: ignore[attr-defined]
        # fold=0: an hour that happens twice (autumn) is its first time; one that does not
        # happen (spring) is read with the offset before the change, an hour later.
        at = local.replace(tzinfo=zone).astimezone(UTC)
        if at >= end or (until is not None and at > until):
            return
        if at >= start:
            yield at
            count += 1
            if count >= MAX_OCCURRENCES:
                return


async def materialize(session: AsyncSession, series: ContentItem, *, now: datetime) -> int:
    """Create the scheduled copies of the series' occurrences due before now + the window
    that do not exist yet. Returns how many were created."""
    if series.status != "scheduled" or series.recurrence is None:
        return 0
    existing = set(
        await session.scalars(
            select(ContentItem.publish_at).where(ContentItem.series_id == series.id)
        )
    )
    created = 0
    assert series.publish_at is not None
    first = max(now, series.publish_at)
    for at in occurrences(series, first, now + MATERIALIZE_AHEAD):
        if at in existing:
            continue
        copy = ContentItem(
            id=uuid.uuid4(),
            status="scheduled",
            series_id=series.id,
            publish_at=at,
            recurrence=None,
            version=1,
            created_at=now,
            updated_at=now,
            **{field: getattr(series, field) for field in _COPIED},
        )
        session.add(copy)
        await session.flush()
        await content.set_channels(session, copy, [uuid.UUID(cid) for cid in copy.channel_ids])
        await content.set_assets(session, copy)
        await planning.plan_send(session, copy, at)
        created += 1
    return created


async def drop_pending_copies(session: AsyncSession, series: ContentItem) -> None:
    """Copies not yet sent go with the series' schedule (cancelled, edited, back to draft);
    published ones stay."""
    # One statement, the status checked as it deletes: a copy the engine claimed a moment
    # ago is `publishing` by then and stays.
    await session.execute(
        delete(ContentItem)
        .where(ContentItem.series_id == series.id, ContentItem.status == "scheduled")
        .execution_options(synchronize_session=False)
    )


async def finish_if_done(session: AsyncSession, series: ContentItem, *, now: datetime) -> bool:
    """A series whose rule has no occurrence left ends once its last copy is out, with the
    status its copies earned (as an item's follows its delivery rows): `published`,
    `partially_published` when some failed, `failed` when all did, `cancelled` when none
    went out at all. Returns whether it ended."""
    if next(occurrences(series, now, END_OF_TIME), None) is not None:
        return False
    copies: Counter[str] = Counter(
        dict(
            (
                await session.execute(
                    select(ContentItem.status, func.count())
                    .where(ContentItem.series_id == series.id)
                    .group_by(ContentItem.status)
                )
            ).all()  # type: ignore[arg-type]
        )
    )
    open_copies = ("draft", "in_review", "approved", "scheduled", "publishing")
    if any(copies[status] for status in open_copies):
        return False  # a copy is still to go out (or was sent back to be reworked)
    delivered = copies["published"] + copies["partially_published"] + copies["retracted"]
    failed = copies["failed"] + copies["partially_published"]
    if delivered:
        series.status = "partially_published" if failed else "published"
        series.published_at = series.published_at or now
    else:
        series.status = "failed" if failed else "cancelled"
    series.updated_at = now
    return True


async def materialize_all(session: AsyncSession) -> int:
    """The periodic job's work: every scheduled series, its window filled; a series whose
    rule has run out ends."""
    now = utcnow()
    series = await session.scalars(
        select(ContentItem)
        .where(ContentItem.recurring.is_(True), ContentItem.status == "scheduled")
        .with_for_update(skip_locked=True)
    )
    total = 0
    for item in series:
        total += await materialize(session, item, now=now)
        await finish_if_done(session, item, now=now)
    return total
