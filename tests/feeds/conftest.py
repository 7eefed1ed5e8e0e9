"""Feed fixtures: a community with a launcher feed, and items published to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.settings import Settings
from tests.conftest import Org, empty_tables, make_settings
from tests.schedule.conftest import Studio, act, draft, eventually, make_studio

PUBLIC = "https://hearth.example"


@pytest.fixture
async def settings(database_url: str) -> AsyncIterator[Settings]:
    # A feed change shows within 50 ms here (a second in production); few events a minute.
    yield make_settings(
        database_url,
        public_url=PUBLIC,
        feed_check_seconds=0.05,
        rate_limit_feed_events="5/minute",
    )
    await empty_tables(database_url)


@pytest.fixture
async def studio(client: httpx.AsyncClient, org: Org) -> Studio:
    return await make_studio(client, org, kinds=("launcher_feed",))


def feed_url(studio: Studio, suffix: str = "") -> str:
    return f"/v1/feeds/{studio.channels['launcher_feed']}{suffix}"


async def published(client: httpx.AsyncClient, studio: Studio, **overrides: Any) -> dict[str, Any]:
    """An item published to the feed, once its feed delivery is recorded."""
    overrides.setdefault("channel_ids", [studio.channels["launcher_feed"]])
    item = await draft(client, studio, **overrides)
    answer = await act(client, studio, item, "publish")
    assert answer.status_code == 202, answer.text

    async def delivered() -> bool:
        rows = await client.get(f"/v1/content/{item['id']}/deliveries", headers=studio.auth())
        return all(row["status"] == "delivered" for row in rows.json())

    await eventually(delivered)
    return item
