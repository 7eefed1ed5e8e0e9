"""Schedule fixtures: a community with a forum category and a channel of each kind, and
helpers to write content and read the events it caused."""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.events import OutboxEvent
from tests.conftest import Org
from tests.receiver import Receiver


@dataclass
class Studio:
    """An org's community and its channels, by kind."""

    org: Org
    community_id: str
    category_id: str
    channels: dict[str, str] = field(default_factory=dict)
    client: httpx.AsyncClient | None = None

    def auth(self, role: str = "manager") -> dict[str, str]:
        return self.org.auth(role)


async def make_studio(
    client: httpx.AsyncClient,
    org: Org,
    receiver: Receiver | None = None,
    *,
    slug: str = "starfall",
    kinds: tuple[str, ...] = ("forum", "launcher_feed"),
    **community: Any,
) -> Studio:
    created = await client.post(
        "/v1/communities",
        json={"slug": slug, "name": slug.title(), "locales": ["en", "de"], **community},
        headers=org.auth("manager"),
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    category = await client.post(
        f"/v1/communities/{cid}/categories",
        json={"name": "News", "slug": "news"},
        headers=org.auth("manager"),
    )
    assert category.status_code == 201, category.text
    studio = Studio(org, cid, category.json()["id"], client=client)
    configs = {
        "forum": {"category_id": studio.category_id},
        "launcher_feed": {},
        "discord": {"webhook_url": receiver.discord("/discord") if receiver else ""},
        "slack": {"webhook_url": receiver.url("/slack") if receiver else ""},
        "webhook": {"url": receiver.url("/webhook") if receiver else ""},
    }
    for kind in kinds:
        channel = await client.post(
            f"/v1/communities/{cid}/channels",
            json={"name": kind, "kind": kind, "config": configs[kind]},
            headers=org.auth("manager"),
        )
        assert channel.status_code == 201, channel.text
        studio.channels[kind] = channel.json()["id"]
        if kind == "webhook":
            studio.channels["webhook_secret"] = channel.json()["signing_secret"]
    return studio


@pytest.fixture
async def studio(client: httpx.AsyncClient, org: Org) -> Studio:
    return await make_studio(client, org)


def draft_body(studio: Studio, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "announcement",
        "title": "Season 3 starts Friday",
        "body": "New ships, new **missions** and a new map. See you out there.",
        "channel_ids": [
            studio.channels[k] for k in ("forum", "launcher_feed") if k in studio.channels
        ],
    }
    body.update(overrides)
    return body


async def draft(
    client: httpx.AsyncClient, studio: Studio, role: str = "moderator", **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/communities/{studio.community_id}/content",
        json=draft_body(studio, **overrides),
        headers=studio.auth(role),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def act(
    client: httpx.AsyncClient,
    studio: Studio,
    content: dict[str, Any],
    action: str,
    role: str = "manager",
    **body: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/content/{content['id']}/{action}", json=body or None, headers=studio.auth(role)
    )


async def emitted(app: Any, type: str) -> list[dict[str, Any]]:
    """The data of the outbox events of this type, oldest first."""
    async with app.state.runtime.read_session() as session:
        rows = await session.scalars(
            select(OutboxEvent.data)
            .where(OutboxEvent.type == type)
            .order_by(OutboxEvent.occurred_at)
        )
        return list(rows)


async def eventually(check: Any, timeout: float = 10) -> Any:
    """Poll `check` (sync or async; truthy when done) until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(0.05)
