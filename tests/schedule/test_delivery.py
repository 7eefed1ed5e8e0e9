"""Delivery to real receivers on 127.0.0.1 (a Discord-compatible one, Slack, a signed
webhook), on both real stacks: SQLite with the in-process runner, PostgreSQL with a real
arq worker on Redis (the `jobs_settings` fixture)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from app.settings import Settings
from tests.conftest import Org, http_client, running_app, seed_org
from tests.receiver import Receiver, Reply
from tests.schedule.conftest import Studio, act, draft, emitted, eventually, make_studio

OUTBOUND = ("discord", "slack", "webhook")


@pytest.fixture
async def app(jobs_settings: Settings) -> AsyncIterator[Any]:
    async with running_app(jobs_settings) as app:
        yield app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as c:
        yield c


@pytest.fixture
async def org(app: Any) -> Org:
    return await seed_org(app, "Starfall Studios")


@pytest.fixture
async def studio(client: httpx.AsyncClient, org: Org, receiver: Receiver) -> Studio:
    return await make_studio(client, org, receiver, kinds=("forum", "launcher_feed", *OUTBOUND))


async def rows(client: httpx.AsyncClient, studio: Studio, item: dict) -> dict[str, dict]:
    """Delivery rows by channel kind."""
    response = await client.get(f"/v1/content/{item['id']}/deliveries", headers=studio.auth())
    assert response.status_code == 200, response.text
    kinds = {v: k for k, v in studio.channels.items()}
    return {kinds[r["channel_id"]]: r for r in response.json()}


async def until_status(
    client: httpx.AsyncClient, studio: Studio, item: dict, status: str, timeout: float = 15
) -> dict:
    async def check() -> dict | None:
        body = (await client.get(f"/v1/content/{item['id']}", headers=studio.auth())).json()
        return body if body["status"] == status else None

    return await eventually(check, timeout)


async def test_publish_reaches_every_channel_once_then_retract_takes_it_down(
    app: Any, client: httpx.AsyncClient, studio: Studio, receiver: Receiver
) -> None:
    item = await draft(
        client,
        studio,
        channel_ids=[studio.channels[k] for k in ("forum", "launcher_feed", *OUTBOUND)],
        body="New ships and **missions**. [Patch notes](https://example.com/notes)",
        fields={"season": 3},
    )
    assert (await act(client, studio, item, "publish")).status_code == 202
    published = await until_status(client, studio, item, "published")
    # The event says what the API says of the item, and how its deliveries went.
    tally = {"delivered": 5, "failed": 0}
    assert await emitted(app, "content.published") == [{**published, "deliveries": tally}]
    delivered = await rows(client, studio, item)
    assert {k: r["status"] for k, r in delivered.items()} == dict.fromkeys(
        ("forum", "launcher_feed", *OUTBOUND), "delivered"
    )
    # Discord: executed with wait=true, the message id kept; no pings.
    (discord,) = receiver.received("/discord")
    assert discord.query == "wait=true"
    assert discord.json()["content"].startswith(f"**{item['title']}**")
    assert discord.json()["allowed_mentions"] == {"parse": []}
    message_id = delivered["discord"]["external_id"]
    assert message_id in receiver.messages
    # Slack: mrkdwn, not Markdown.
    (slack,) = receiver.received("/slack")
    assert "*missions*" in slack.json()["text"]
    assert "<https://example.com/notes|Patch notes>" in slack.json()["text"]
    # Webhook: Standard Webhooks signed, the content and its fields unchanged, the variant.
    (hook,) = receiver.received("/webhook")
    event = Webhook(studio.channels["webhook_secret"]).verify(hook.body, hook.headers)
    assert hook.headers["webhook-id"] == f"msg_{delivered['webhook']['id'].replace('-', '')}"
    assert event["type"] == "content.published"
    assert event["data"]["content"]["id"] == item["id"]
    assert event["data"]["content"]["fields"] == {"season": 3}
    assert "<strong>missions</strong>" in event["data"]["variant"]["body_html"]

    retracted = await act(client, studio, item, "retract", reason="Posted too early")
    assert retracted.status_code == 200

    async def taken_down() -> dict | None:
        now = await rows(client, studio, item)
        kinds = ("forum", "launcher_feed", "discord", "webhook")
        return now if all(now[k]["status"] == "retracted" for k in kinds) else None

    after = await eventually(taken_down)
    assert message_id not in receiver.messages  # deleted at Discord
    assert [r.method for r in receiver.received("/discord/messages/" + message_id)] == ["DELETE"]
    retraction = receiver.received("/webhook")[-1]
    assert (
        Webhook(studio.channels["webhook_secret"]).verify(retraction.body, retraction.headers)[
            "type"
        ]
        == "content.retracted"
    )
    assert after["slack"]["status"] == "delivered"
    assert "cannot" in after["slack"]["retract_error"]
    assert after["forum"]["status"] == "retracted"
    assert after["launcher_feed"]["status"] == "retracted"
    assert len(receiver.received("/discord")) == 1  # nothing was sent twice


async def test_edit_after_publish_redelivers(
    client: httpx.AsyncClient, studio: Studio, receiver: Receiver
) -> None:
    item = await draft(
        client,
        studio,
        channel_ids=[studio.channels[k] for k in ("forum", "discord", "webhook")],
    )
    await act(client, studio, item, "publish")
    published = await until_status(client, studio, item, "published")
    edited = await client.patch(
        f"/v1/content/{item['id']}",
        json={"version": published["version"], "body": "Corrected: Saturday.", "redeliver": True},
        headers=studio.auth("manager"),
    )
    assert edited.status_code == 200, edited.text
    message_id = (await rows(client, studio, item))["discord"]["external_id"]
    await receiver.wait_for(1, f"/discord/messages/{message_id}")
    assert "Corrected: Saturday." in receiver.messages[message_id]["content"]
    hooks = await receiver.wait_for(2, "/webhook")
    update = Webhook(studio.channels["webhook_secret"]).verify(hooks[1].body, hooks[1].headers)
    assert update["type"] == "content.updated"
    assert hooks[1].headers["webhook-id"] != hooks[0].headers["webhook-id"]
    forum_row = (await rows(client, studio, item))["forum"]

    async def forum_edited() -> bool:
        posts = await client.get(
            f"/v1/threads/{forum_row['external_id']}/posts", headers=studio.auth("viewer")
        )
        return posts.json()["items"][0]["body"] == "Corrected: Saturday."

    await eventually(forum_edited)
    for redeliver in (True, False):  # what went out is edited by a manager only
        moderator = await client.patch(
            f"/v1/content/{item['id']}",
            json={"version": edited.json()["version"], "title": "x", "redeliver": redeliver},
            headers=studio.auth("moderator"),
        )
        assert moderator.status_code == 403


async def test_permanent_errors_fail_at_once_and_others_are_retried(
    app: Any, client: httpx.AsyncClient, studio: Studio, receiver: Receiver
) -> None:
    receiver.script("/slack", Reply(404, b"no_service"))
    receiver.script("/webhook", Reply(503, b"busy"), Reply(408, b"timeout"))
    receiver.script(
        "/discord",
        Reply(429, json.dumps({"retry_after": 0.4, "global": False}).encode()),
    )
    item = await draft(client, studio, channel_ids=[studio.channels[k] for k in OUTBOUND])
    await act(client, studio, item, "publish")
    final = await until_status(client, studio, item, "partially_published", timeout=20)
    assert final["published_at"] is not None
    now = await rows(client, studio, item)
    assert now["slack"]["status"] == "failed"
    assert now["slack"]["attempts"] == 1  # 404: permanent, no retry
    assert now["slack"]["last_status_code"] == 404
    assert "no_service" in now["slack"]["last_error"]
    assert now["webhook"]["status"] == "delivered" and now["webhook"]["attempts"] == 3
    assert now["discord"]["status"] == "delivered" and now["discord"]["attempts"] == 2
    discord = receiver.received("/discord")
    assert discord[1].at - discord[0].at >= 0.4  # Discord's retry_after was honoured
    # The same webhook-id on every attempt, so the receiver can drop repeats.
    assert len({r.headers["webhook-id"] for r in receiver.received("/webhook")}) == 1
    failures = await emitted(app, "delivery.failed")
    assert [f["channel_kind"] for f in failures] == ["slack"]
    [published] = await emitted(app, "content.published")
    assert published["status"] == "partially_published"

    delivered = await client.post(
        f"/v1/deliveries/{now['webhook']['id']}/retry", headers=studio.auth()
    )
    assert delivered.status_code == 409
    retried = await client.post(f"/v1/deliveries/{now['slack']['id']}/retry", headers=studio.auth())
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    await until_status(client, studio, item, "published")
    assert len(receiver.received("/webhook")) == 3  # the delivered row was never sent again


async def test_scheduled_content_goes_out_at_its_time_not_before(
    client: httpx.AsyncClient, studio: Studio, receiver: Receiver
) -> None:
    item = await draft(client, studio, channel_ids=[studio.channels["webhook"]])
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    scheduled = await act(client, studio, item, "schedule", publish_at=at.isoformat())
    assert scheduled.status_code == 200, scheduled.text
    (hook,) = await receiver.wait_for(1, "/webhook", timeout=10)
    assert hook.at >= at.timestamp()
    assert hook.at - at.timestamp() < 1.0
    await until_status(client, studio, item, "published")


async def test_a_paused_community_delivers_nothing_until_resumed(
    app: Any, client: httpx.AsyncClient, studio: Studio, receiver: Receiver
) -> None:
    cid = studio.community_id
    paused = await client.post(
        f"/v1/communities/{cid}/pause", json={"reason": "Server outage"}, headers=studio.auth()
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["pause_reason"] == "Server outage" and paused.json()["paused_at"]
    again = await client.post(
        f"/v1/communities/{cid}/pause", json={"reason": "x"}, headers=studio.auth()
    )
    assert again.status_code == 409
    statement = await draft(client, studio, channel_ids=[studio.channels["webhook"]])
    overdue = await draft(
        client, studio, title="Weekly update", channel_ids=[studio.channels["webhook"]]
    )
    soon = (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat()
    assert (await act(client, studio, overdue, "schedule", publish_at=soon)).status_code == 200
    assert (await act(client, studio, statement, "publish")).status_code == 202
    await _pause_holds(receiver)
    resumed = await client.post(f"/v1/communities/{cid}/resume", headers=studio.auth())
    assert resumed.status_code == 200 and resumed.json()["paused_at"] is None
    (hook,) = await receiver.wait_for(1, "/webhook")
    assert (
        Webhook(studio.channels["webhook_secret"]).verify(hook.body, hook.headers)["data"][
            "content"
        ]["id"]
        == statement["id"]
    )
    held = (await client.get(f"/v1/content/{overdue['id']}", headers=studio.auth())).json()
    assert held["status"] == "approved"  # overdue during the pause: back for a decision
    assert [e["pause_reason"] for e in await emitted(app, "community.paused")] == ["Server outage"]
    assert len(await emitted(app, "community.resumed")) == 1


async def _pause_holds(receiver: Receiver) -> None:
    import asyncio

    await asyncio.sleep(1.5)  # past the scheduled time, and several job polls
    assert receiver.received("/webhook") == []


async def test_an_edit_landing_during_a_retract_does_not_count_as_the_retract(
    client: httpx.AsyncClient, studio: Studio, receiver: Receiver
) -> None:
    item = await draft(client, studio, channel_ids=[studio.channels["discord"]])
    await act(client, studio, item, "publish")
    published = await until_status(client, studio, item, "published")
    message = (await rows(client, studio, item))["discord"]["external_id"]
    path = f"/discord/messages/{message}"
    edit_held, delete_held = threading.Event(), threading.Event()
    receiver.script(
        path,
        Reply(200, b'{"id": "1"}', hold=edit_held),  # the edit, answered late
        Reply(400, b'{"message": "Missing Permissions"}', hold=delete_held),  # the delete
    )
    try:
        await client.patch(
            f"/v1/content/{item['id']}",
            json={"version": published["version"], "body": "Edited.", "redeliver": True},
            headers=studio.auth(),
        )
        await receiver.wait_for(1, path)
        await act(client, studio, item, "retract", reason="Wrong")
        await receiver.wait_for(2, path)
        edit_held.set()  # the edit's answer arrives while the delete is still out
        await asyncio.sleep(0.5)
        assert (await rows(client, studio, item))["discord"]["status"] == "delivered"
    finally:
        edit_held.set()
        delete_held.set()

    async def refused() -> dict | None:
        row = (await rows(client, studio, item))["discord"]
        return row if row["retract_error"] else None

    row = await eventually(refused)
    assert row["status"] == "delivered" and "Missing Permissions" in row["retract_error"]


async def test_a_slow_receiver_does_not_hold_back_the_others_status(
    client: httpx.AsyncClient, studio: Studio, receiver: Receiver
) -> None:
    """Rows sent in one batch are recorded as their answers come: the fast channel shows
    `delivered` while the slow one is still being sent to."""
    release = threading.Event()
    receiver.script("/slack", Reply(200, b"ok", hold=release))
    item = await draft(
        client, studio, channel_ids=[studio.channels[k] for k in ("slack", "webhook")]
    )
    await act(client, studio, item, "publish")
    try:

        async def webhook_delivered() -> bool:
            return (await rows(client, studio, item))["webhook"]["status"] == "delivered"

        await eventually(webhook_delivered)
        assert (await rows(client, studio, item))["slack"]["status"] == "sending"
    finally:
        release.set()
    published = await until_status(client, studio, item, "published")
    assert published["status"] == "published"
