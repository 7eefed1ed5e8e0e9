"""Preflight checks and previews: tone, platform profiles on the variant really sent, the
unwelcome-news kit; errors block schedule and publish with a 422 that lists them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Org
from tests.receiver import Receiver
from tests.schedule.conftest import Studio, act, draft, make_studio

TONE = {
    "banned_phrases": ["git gud"],
    "preferred_terms": {"DLC": "expansion"},
    "sign_off": "Fly safe!",
    "emoji": "none",
}


@pytest.fixture
async def studio(client: httpx.AsyncClient, org: Org, receiver: Receiver) -> Studio:
    return await make_studio(
        client,
        org,
        receiver,
        kinds=("forum", "launcher_feed", "discord", "slack", "webhook"),
        tone=TONE,
    )


async def checks_of(client: httpx.AsyncClient, studio: Studio, item: dict) -> dict[str, Any]:
    response = await client.post(
        f"/v1/content/{item['id']}/check", headers=studio.auth("moderator")
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(result: dict[str, Any], level: str | None = None) -> set[str]:
    return {c["code"] for c in result["checks"] if level is None or c["level"] == level}


async def test_tone_rules_of_the_community(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await draft(
        client,
        studio,
        title="New DLC 🚀",
        body="Stuck? Just \uff27\uff29\uff34 gud. The new DLC is out.",  # full-width letters still match
    )
    result = await checks_of(client, studio, item)
    assert result["ok"] is False
    assert codes(result, "error") == {"tone.banned_phrase"}
    assert {"tone.preferred_term", "tone.sign_off", "tone.emoji"} <= codes(result, "warning")
    blocked = await act(client, studio, item, "publish")
    assert blocked.status_code == 422
    assert "git gud" in blocked.json()["detail"]
    assert {c["code"] for c in blocked.json()["checks"]} == codes(result)
    assert (await client.get(f"/v1/content/{item['id']}", headers=studio.auth())).json()[
        "status"
    ] == "draft"  # nothing changed
    fine = await draft(client, studio, body="The new expansion is out. Fly safe!")
    assert (await checks_of(client, studio, fine)) == {"ok": True, "checks": []}


async def test_platform_limits_apply_to_the_variant_each_channel_gets(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    discord = studio.channels["discord"]
    item = await draft(
        client,
        studio,
        body="Short enough everywhere. Fly safe!",
        channel_ids=[discord, studio.channels["slack"]],
        variants={discord: {"body": "x" * 2100}},
    )
    result = await checks_of(client, studio, item)
    [length] = [c for c in result["checks"] if c["code"] == "platform.length"]
    assert length["channel_id"] == discord
    assert length["field"] == f"variants.{discord}"
    assert "2000" in length["message"]
    preview = await client.get(f"/v1/content/{item['id']}/preview", headers=studio.auth("viewer"))
    by_kind = {p["kind"]: p for p in preview.json()}
    assert by_kind["discord"]["length"] == len(by_kind["discord"]["text"]) > 2000
    assert by_kind["discord"]["max_length"] == 2000
    assert [c["code"] for c in by_kind["discord"]["checks"]] == ["platform.length"]
    assert by_kind["slack"]["checks"] == []


async def test_unwelcome_news_kit(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await draft(
        client,
        studio,
        kind="incident",
        title="Login outage!",
        body="Unfortunately you may not be able to log in. Fly safe!",
        fields={"why": "A database failover."},
    )
    result = await checks_of(client, studio, item)
    errors = [c for c in result["checks"] if c["level"] == "error"]
    assert {c["field"] for c in errors if c["code"] == "kit.missing_field"} == {
        "fields.what_changed",
        "fields.player_impact",
        "fields.new_date",
    }
    assert {c["code"] for c in errors} == {"kit.missing_field", "kit.blame", "kit.exclamation"}
    fixed = await client.patch(
        f"/v1/content/{item['id']}",
        json={
            "version": item["version"],
            "title": "Login outage",
            "body": "Logins fail for some players. We are on it. Fly safe!",
            "fields": {
                "what_changed": "Logins fail for some players.",
                "why": "A database failover.",
                "player_impact": "Everyone gets 24 h of double XP.",
                "next_update_at": "2030-01-01T12:00:00Z",
            },
        },
        headers=studio.auth("moderator"),
    )
    assert fixed.status_code == 200, fixed.text
    after = await checks_of(client, studio, fixed.json())
    assert after["ok"] is True, after
    # A delay makes any content unwelcome news.
    delayed = await draft(client, studio, body="Season 3 moves. Fly safe!", fields={"delay": True})
    assert "kit.missing_field" in codes(await checks_of(client, studio, delayed), "error")


async def test_channel_configuration_problems_are_errors(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    nowhere = await draft(client, studio, body="Fly safe!", channel_ids=[])
    assert codes(await checks_of(client, studio, nowhere), "error") == {"content.no_channels"}
    await client.patch(
        f"/v1/channels/{studio.channels['slack']}", json={"enabled": False}, headers=studio.auth()
    )
    await client.delete(f"/v1/categories/{studio.category_id}", headers=studio.auth())
    item = await draft(
        client,
        studio,
        body="Fly safe!",
        channel_ids=[studio.channels["slack"], studio.channels["forum"]],
        feed={"starts_at": "2030-01-02T00:00:00Z", "expires_at": "2030-01-01T00:00:00Z"},
    )
    result = await checks_of(client, studio, item)
    assert codes(result, "error") == {"channel.disabled", "channel.category", "feed.window"}


async def test_previews_show_each_channels_real_payload(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(
        client,
        studio,
        title="Patch 1.4",
        body="**Bold** fixes and [notes](https://example.com/n). Fly safe!",
        channel_ids=[
            studio.channels[k] for k in ("discord", "slack", "webhook", "forum", "launcher_feed")
        ],
        feed={"summary": "Fixes", "pinned": True},
        fields={"build": "1.4.0"},
    )
    response = await client.get(f"/v1/content/{item['id']}/preview", headers=studio.auth("viewer"))
    assert response.status_code == 200
    by_kind = {p["kind"]: p for p in response.json()}
    assert by_kind["discord"]["text"] == f"**Patch 1.4**\n\n{item['body']}"
    assert by_kind["discord"]["payload"]["allowed_mentions"] == {"parse": []}
    assert by_kind["slack"]["text"].startswith("*Patch 1.4*\n\n*Bold* fixes")
    assert "<https://example.com/n|notes>" in by_kind["slack"]["text"]
    assert by_kind["webhook"]["payload"]["type"] == "content.published"
    assert by_kind["webhook"]["payload"]["data"]["content"]["fields"] == {"build": "1.4.0"}
    assert by_kind["forum"]["payload"]["pinned"] is True  # an announcement
    feed = by_kind["launcher_feed"]["payload"]
    assert feed["summary"] == "Fixes" and feed["pinned"] is True
    assert "<strong>Bold</strong>" in feed["content_html"]
    assert (await client.get(f"/v1/content/{item['id']}/preview")).status_code == 401
