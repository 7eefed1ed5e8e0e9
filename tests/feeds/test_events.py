"""Players' impressions and clicks: accepted at once, written in batches, one per client,
item, type and day; rate limited per IP address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.feeds.models import FeedEvent
from tests.feeds.conftest import feed_url, published
from tests.schedule.conftest import Studio

pytestmark = pytest.mark.both_backends


async def stored(app: Any) -> list[tuple[str, str, str]]:
    await app.state.feed_events.flush()
    async with app.state.runtime.db.session() as session:
        rows = await session.execute(
            select(FeedEvent.client_id, FeedEvent.type, func.count())
            .group_by(FeedEvent.client_id, FeedEvent.type)
            .order_by(FeedEvent.client_id, FeedEvent.type)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_events_are_deduplicated_per_client_item_type_and_day(
    app: Any, client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await published(client, studio)
    url = feed_url(studio, "/events")

    def event(client_id: str, kind: str = "impression", **extra: Any) -> dict[str, Any]:
        return {"item_id": item["id"], "type": kind, "client_id": client_id, **extra}

    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    first = await client.post(
        url,
        json={
            "events": [
                event("a"),
                event("a"),
                event("a", "click"),
                event("b"),
                event("b", at=yesterday),
                {**event("a"), "item_id": "00000000-0000-4000-8000-000000000000"},
            ]
        },
    )
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 5, "ignored": 1}
    assert first.headers["access-control-allow-origin"] == "*"
    again = await client.post(url, json={"events": [event("a"), event("b")]})
    assert again.status_code == 202
    assert await stored(app) == [("a", "click", 1), ("a", "impression", 1), ("b", "impression", 2)]
    assert await stored(app) == [("a", "click", 1), ("a", "impression", 1), ("b", "impression", 2)]


async def test_bad_events_are_refused(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await published(client, studio)
    url = feed_url(studio, "/events")
    one = {"item_id": item["id"], "type": "impression", "client_id": "a"}
    too_many = await client.post(url, json={"events": [one] * 101})
    assert too_many.status_code == 422
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    stale = await client.post(url, json={"events": [{**one, "at": old}]})
    assert stale.status_code == 422
    assert stale.json()["errors"][0]["loc"] == ["body", "events", "0", "at"]
    unknown = await client.post("/v1/feeds/nope/events", json={"events": [one]})
    assert unknown.status_code == 404


async def test_events_are_rate_limited_per_ip(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await published(client, studio)
    body = {"events": [{"item_id": item["id"], "type": "impression", "client_id": "a"}]}
    codes = [
        (await client.post(feed_url(studio, "/events"), json=body)).status_code for _ in range(6)
    ]
    assert codes == [202] * 5 + [429]  # the test settings allow 5 a minute


async def test_an_event_time_needs_its_offset(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await published(client, studio)
    naive = {"item_id": item["id"], "type": "click", "client_id": "a", "at": "2026-11-30T10:00:00"}
    answer = await client.post(feed_url(studio, "/events"), json={"events": [naive]})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"][:3] == ["body", "events", "0"]
