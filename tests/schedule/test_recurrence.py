"""Recurring content: wall-clock occurrences across daylight-saving changes, a copy per
occurrence published on its own, the calendar as JSON and iCalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest

from app.schedule.models import ContentItem
from app.schedule.recurrence import ever_occurs, materialize_all, occurrences
from tests.schedule.conftest import Studio, act, draft, eventually
from tests.test_graphql import gql

FRIDAYS_6PM = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=18;BYMINUTE=0"


def series(rule: str, zone: str, first: datetime, until: str | None = None) -> ContentItem:
    return ContentItem(
        publish_at=first,
        recurrence={"rrule": rule, "timezone": zone, "until": until},
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "first", "expected"),
    [
        # London: BST from 29 March, GMT again from 25 October 2026.
        (
            "Europe/London",
            utc(2026, 3, 20, 18),
            [utc(2026, 3, 20, 18), utc(2026, 3, 27, 18), utc(2026, 4, 3, 17), utc(2026, 4, 10, 17)],
        ),
        (
            "Europe/London",
            utc(2026, 10, 16, 17),
            [
                utc(2026, 10, 16, 17),
                utc(2026, 10, 23, 17),
                utc(2026, 10, 30, 18),
                utc(2026, 11, 6, 18),
            ],
        ),
        # New York: EDT from 8 March, EST again from 1 November 2026.
        (
            "America/New_York",
            utc(2026, 2, 27, 23),
            [utc(2026, 2, 27, 23), utc(2026, 3, 6, 23), utc(2026, 3, 13, 22), utc(2026, 3, 20, 22)],
        ),
        (
            "America/New_York",
            utc(2026, 10, 23, 22),
            [
                utc(2026, 10, 23, 22),
                utc(2026, 10, 30, 22),
                utc(2026, 11, 6, 23),
                utc(2026, 11, 13, 23),
            ],
        ),
    ],
)
def test_weekly_rule_keeps_its_wall_clock_time_across_dst(
    zone: str, first: datetime, expected: list[datetime]
) -> None:
    item = series(FRIDAYS_6PM, zone, first)
    found = list(occurrences(item, first, first + timedelta(days=22)))
    assert found == expected


def test_hours_that_happen_twice_or_never() -> None:
    # 01:30 on 1 November 2026 happens twice in New York: the first time (EDT) is taken.
    sunday = series(
        "FREQ=WEEKLY;BYDAY=SU;BYHOUR=1;BYMINUTE=30", "America/New_York", utc(2026, 10, 25, 5, 30)
    )
    assert utc(2026, 11, 1, 5, 30) in list(occurrences(sunday, utc(2026, 10, 31), utc(2026, 11, 2)))
    # 02:30 on 8 March 2026 does not happen: it is read an hour later, 03:30 EDT.
    spring = series(
        "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30", "America/New_York", utc(2026, 3, 1, 7, 30)
    )
    assert list(occurrences(spring, utc(2026, 3, 7), utc(2026, 3, 9))) == [utc(2026, 3, 8, 7, 30)]


def test_until_and_rules_that_never_occur() -> None:
    weekly = series(FRIDAYS_6PM, "Europe/London", utc(2026, 1, 2, 18), until="2026-01-16T18:00:00Z")
    assert list(occurrences(weekly, utc(2026, 1, 1), utc(2026, 3, 1))) == [
        utc(2026, 1, 2, 18),
        utc(2026, 1, 9, 18),
        utc(2026, 1, 16, 18),
    ]
    assert ever_occurs("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30") is False  # and answers at once
    never = series("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "UTC", utc(2026, 1, 1))
    assert list(occurrences(never, utc(2026, 1, 1), utc(2027, 1, 1))) == []


async def calendar(client: httpx.AsyncClient, studio: Studio, start: str, end: str) -> Any:
    return await client.get(
        f"/v1/communities/{studio.community_id}/calendar",
        params={"from": start, "to": end},
        headers=studio.auth("viewer"),
    )


@pytest.mark.both_backends
async def test_calendar_lists_items_and_expands_series_in_their_zone(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    once = await draft(client, studio, title="Patch 2.0")
    await act(client, studio, once, "schedule", publish_at="2030-03-29T09:00:00Z")
    weekly = await draft(
        client,
        studio,
        title="Weekly update",
        recurrence={"rrule": FRIDAYS_6PM, "timezone": "Europe/London"},
    )
    scheduled = await act(client, studio, weekly, "schedule", publish_at="2030-03-22T18:00:00Z")
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    response = await calendar(client, studio, "2030-03-20T00:00:00Z", "2030-04-06T00:00:00Z")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2030-03-20T00:00:00Z"
    # BST starts on 31 March 2030: 18:00 in London is 18:00Z before it, 17:00Z after.
    assert [(e["title"], e["at"], e["recurring"]) for e in body["items"]] == [
        ("Weekly update", "2030-03-22T18:00:00Z", True),
        ("Patch 2.0", "2030-03-29T09:00:00Z", False),
        ("Weekly update", "2030-03-29T18:00:00Z", True),
        ("Weekly update", "2030-04-05T17:00:00Z", True),
    ]
    assert all(e["content_id"] == weekly["id"] for e in body["items"] if e["recurring"])
    graphql = await gql(
        client,
        'query($cid: UUID!) { calendar(communityId: $cid, from: "2030-03-20T00:00:00Z",'
        ' to: "2030-04-06T00:00:00Z") { contentId title at recurring status kind } }',
        studio.org,
        "viewer",
        cid=studio.community_id,
    )
    assert [e["at"] for e in graphql["data"]["calendar"]] == [e["at"] for e in body["items"]]
    assert body["next_from"] is None
    backwards = await calendar(client, studio, "2030-02-01T00:00:00Z", "2030-01-01T00:00:00Z")
    assert backwards.status_code == 200 and backwards.json()["items"] == []


async def test_a_long_range_continues_from_next_from(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    daily = await draft(
        client, studio, title="Daily", recurrence={"rrule": "FREQ=DAILY", "timezone": "UTC"}
    )
    await act(client, studio, daily, "schedule", publish_at="2030-01-01T12:00:00Z")
    first = (await calendar(client, studio, "2030-01-01T00:00:00Z", "2040-01-01T00:00:00Z")).json()
    assert len(first["items"]) == 1000
    assert first["next_from"] == "2032-09-27T12:00:00Z"  # the 1,001st day
    rest = (await calendar(client, studio, first["next_from"], "2032-10-01T00:00:00Z")).json()
    assert [e["at"][:10] for e in rest["items"]] == [
        "2032-09-27",
        "2032-09-28",
        "2032-09-29",
        "2032-09-30",
    ]


async def test_calendar_ics_is_rfc_5545(client: httpx.AsyncClient, studio: Studio) -> None:
    once = await draft(client, studio, title="Patch 2.0, with a comma; and more")
    await act(client, studio, once, "schedule", publish_at="2030-03-29T09:00:00Z")
    weekly = await draft(
        client,
        studio,
        title="Weekly update",
        recurrence={"rrule": FRIDAYS_6PM, "timezone": "Europe/London"},
    )
    await act(client, studio, weekly, "schedule", publish_at="2030-03-22T18:00:00Z")
    response = await client.get(
        f"/v1/communities/{studio.community_id}/calendar.ics",
        params={"from": "2030-03-01T00:00:00Z", "to": "2030-05-01T00:00:00Z"},
        headers=studio.auth("viewer"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    parsed = icalendar.Calendar.from_ical(response.content)
    events = {str(e["summary"]): e for e in parsed.walk("VEVENT")}
    assert events["Patch 2.0, with a comma; and more"].decoded("dtstart") == utc(2030, 3, 29, 9)
    series_event = events["Weekly update"]
    assert series_event["rrule"]["FREQ"] == ["WEEKLY"]
    assert series_event["dtstart"].params["TZID"] == "Europe/London"
    assert [tz["tzid"] for tz in parsed.walk("VTIMEZONE")] == ["Europe/London"]


@pytest.mark.both_backends
async def test_each_occurrence_is_published_as_its_own_copy(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    daily = await draft(
        client,
        studio,
        title="Daily tip",
        channel_ids=[studio.channels["launcher_feed"]],
        recurrence={
            "rrule": f"FREQ=DAILY;BYHOUR={soon.hour};BYMINUTE={soon.minute}",
            "timezone": "UTC",
        },
    )
    # Seconds come from the series' start: the first occurrence is `soon` itself.
    scheduled = await act(client, studio, daily, "schedule", publish_at=soon.isoformat())
    assert scheduled.status_code == 200, scheduled.text
    published = await client.post(f"/v1/content/{daily['id']}/publish", headers=studio.auth())
    assert published.status_code == 409  # a series goes out occurrence by occurrence
    listed = await client.get(
        f"/v1/communities/{studio.community_id}/content?kind=announcement",
        headers=studio.auth(),
    )
    copies = [i for i in listed.json()["items"] if i["series_id"] == daily["id"]]
    assert len(copies) == 1 and copies[0]["recurrence"] is None
    assert copies[0]["publish_at"] == soon.isoformat().replace("+00:00", "Z")

    async def copy_published() -> bool:
        copy = await client.get(f"/v1/content/{copies[0]['id']}", headers=studio.auth())
        return copy.json()["status"] == "published"

    await eventually(copy_published, timeout=15)
    series_now = await client.get(f"/v1/content/{daily['id']}", headers=studio.auth())
    assert series_now.json()["status"] == "scheduled"  # the series goes on
    cancelled = await act(client, studio, daily, "cancel")
    assert cancelled.json()["status"] == "approved"
    kept = await client.get(f"/v1/content/{copies[0]['id']}", headers=studio.auth())
    assert kept.json()["status"] == "published"  # what went out stays


async def test_a_series_started_mid_second_keeps_its_first_occurrence(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    start = datetime(2031, 1, 3, 18, 0, 0, 500000, tzinfo=UTC)
    weekly = await draft(client, studio, recurrence={"rrule": FRIDAYS_6PM, "timezone": "UTC"})
    scheduled = await act(client, studio, weekly, "schedule", publish_at=start.isoformat())
    assert scheduled.json()["publish_at"] == "2031-01-03T18:00:00Z"
    body = (await calendar(client, studio, "2031-01-01T00:00:00Z", "2031-01-11T00:00:00Z")).json()
    assert [e["at"] for e in body["items"]] == ["2031-01-03T18:00:00Z", "2031-01-10T18:00:00Z"]
    naive = await gql(
        client,
        'query($cid: UUID!) { calendar(communityId: $cid, from: "2031-01-01T00:00:00",'
        ' to: "2031-02-01T00:00:00") { at } }',
        studio.org,
        "viewer",
        cid=studio.community_id,
    )
    assert naive["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_series_whose_rule_runs_out_ends_once_its_last_copy_is_out(
    app: Any, client: httpx.AsyncClient, studio: Studio
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    once = await draft(
        client,
        studio,
        title="One-off tip",
        channel_ids=[studio.channels["launcher_feed"]],
        recurrence={"rrule": "FREQ=DAILY;COUNT=1", "timezone": "UTC"},
    )
    scheduled = await act(client, studio, once, "schedule", publish_at=soon.isoformat())
    assert scheduled.status_code == 200, scheduled.text

    async def series_status() -> str:
        async with app.state.runtime.unit_of_work() as session:
            await materialize_all(session)  # the periodic job's work
        return (await client.get(f"/v1/content/{once['id']}", headers=studio.auth())).json()[
            "status"
        ]

    assert await series_status() == "scheduled"  # its one copy is still to go out

    async def ended() -> bool:
        return await series_status() == "published"

    await eventually(ended, timeout=15)
