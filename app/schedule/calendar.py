"""The publishing calendar: scheduled and published items, and the occurrences of recurring
series, over a range; as JSON and as iCalendar (RFC 5545, written by `icalendar`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.core.auth import Actor
from app.schedule.models import ContentItem
from app.schedule.recurrence import ON_CALENDAR, occurrences

# Entries per answer; a longer range continues from `next_from`.
MAX_ENTRIES = 1000
# Each entry is shown as a slot of this length in calendar apps.
SLOT = timedelta(minutes=15)


@dataclass(frozen=True)
class Entry:
    content_id: uuid.UUID
    title: str
    kind: str
    status: str
    at: datetime
    recurring: bool


async def _items(
    session: AsyncSession, community_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[ContentItem], list[ContentItem]]:
    """Single items and copies in the range, and the scheduled series."""
    single = await session.scalars(
        select(ContentItem)
        .where(
            ContentItem.community_id == community_id,
            ContentItem.recurring.is_(False),
            ContentItem.status.in_(ON_CALENDAR),
            ContentItem.publish_at >= start,
            ContentItem.publish_at < end,
        )
        .order_by(ContentItem.publish_at, ContentItem.id)
        .limit(MAX_ENTRIES + 1)
    )
    series = await session.scalars(
        select(ContentItem).where(
            ContentItem.community_id == community_id,
            ContentItem.recurring.is_(True),
            ContentItem.status == "scheduled",
        )
    )
    return list(single), list(series)


def _empty(start: datetime, end: datetime) -> bool:
    return end <= start


async def entries(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[Entry], datetime | None]:
    """What is on the calendar in [start, end), in time order, at most MAX_ENTRIES; and
    where to continue when there is more (else None). Role: viewer."""
    community = await communities.get_community(session, actor, community_id)
    if _empty(start, end):
        return [], None
    single, series = await _items(session, community.id, start, end)
    found = [
        Entry(i.id, i.title, i.kind, i.status, i.publish_at, i.series_id is not None)  # type: ignore[arg-type]
        for i in single
    ]
    made = {(i.series_id, i.publish_at) for i in single if i.series_id is not None}
    for item in series:
        found += [
            Entry(item.id, item.title, item.kind, item.status, at, True)
            for at in islice(occurrences(item, start, end), MAX_ENTRIES + 1)
            if (item.id, at) not in made  # already its own copy, listed above
        ]
    found.sort(key=lambda e: (e.at, str(e.content_id)))
    if len(found) > MAX_ENTRIES:
        return found[:MAX_ENTRIES], found[MAX_ENTRIES].at
    return found, None


async def ics(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, start: datetime, end: datetime
) -> bytes:
    """The same range as an iCalendar: one event per item, a series as one event with its
    RRULE in its time zone (calendar apps expand it), its published copies as overrides.
    At most MAX_ENTRIES single items, the earliest."""
    community = await communities.get_community(session, actor, community_id)
    single, series = await _items(session, community.id, start, end)
    single = [] if _empty(start, end) else single[:MAX_ENTRIES]
    calendar = Calendar()
    calendar.add("prodid", "-//Hearth//Publishing calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{community.name}: publishing")
    for item in single:
        event = _event(item, item.publish_at)  # type: ignore[arg-type]
        if item.series_id is not None:
            event["uid"] = _uid(item.series_id)
            event.add("recurrence-id", item.publish_at)
        calendar.add_component(event)
    for item in series:
        spec = item.recurrence or {}
        zone = ZoneInfo(spec["timezone"])
        event = _event(item, item.publish_at.astimezone(zone))  # type: ignore[union-attr]
        rule = vRecur.from_ical(spec["rrule"])
        if spec.get("until"):
            rule["UNTIL"] = datetime.fromisoformat(spec["until"])
        event.add("rrule", rule)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _uid(content_id: uuid.UUID) -> str:
    return f"{content_id}@hearth"


def _event(item: ContentItem, at: datetime) -> Event:
    event = Event()
    event.add("uid", _uid(item.id))
    event.add("summary", item.title)
    event.add("dtstart", at)
    event.add("dtend", at + SLOT)
    event.add("dtstamp", item.updated_at)
    event.add("categories", [item.kind])
    event.add("status", "CONFIRMED" if item.status != "scheduled" else "TENTATIVE")
    event.add("description", item.body[:1000])
    return event
