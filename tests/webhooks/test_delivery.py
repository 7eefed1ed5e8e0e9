"""Signed deliveries to a real receiver on 127.0.0.1, with retries, the delivery log,
redelivery, ping and auto-disable. Every test runs on both real stacks (the `jobs_settings`
fixture): SQLite with the in-process runner, and PostgreSQL with a real arq worker on Redis."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.core import events
from app.settings import Settings
from tests.conftest import Org, http_client, make_org, running_app
from tests.receiver import Receiver, Reply


@pytest.fixture
async def client(jobs_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(jobs_settings) as app, http_client(app) as c:
        yield c


@pytest.fixture
async def org(client: httpx.AsyncClient) -> Org:
    return await make_org(client, "Starfall Studios")


async def register(client: httpx.AsyncClient, org: Org, url: str, events=None) -> dict:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": events or ["*"]}, headers=org.auth("manager")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def create_community(client: httpx.AsyncClient, org: Org, slug: str = "starfall") -> dict:
    response = await client.post(
        "/v1/communities", json={"slug": slug, "name": slug.title()}, headers=org.auth("manager")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(client: httpx.AsyncClient, org: Org, endpoint: dict, query: str = "") -> list:
    response = await client.get(
        f"/v1/webhooks/{endpoint['id']}/deliveries{query}", headers=org.auth("manager")
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def eventually(check, timeout: float = 10):
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


async def test_signed_delivery_is_retried_after_a_500_with_the_same_id(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/hooks"), ["community.created"])
    receiver.script("/hooks", Reply(500, b"try later"), then=Reply(200, b"thanks"))
    community = await create_community(client, org)

    first, second = await receiver.wait_for(2, "/hooks")
    verifier = Webhook(endpoint["secret"])  # the independent implementation
    for request in (first, second):
        payload = verifier.verify(request.body, request.headers)
        assert payload["type"] == "community.created"
        assert payload["data"]["id"] == community["id"]
        assert payload["data"]["slug"] == "starfall"
        assert payload["timestamp"].endswith("Z")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["webhook-id"].startswith("msg_")
    assert first.body == second.body
    with pytest.raises(WebhookVerificationError):  # another secret does not verify
        Webhook("whsec_" + "A" * 43 + "=").verify(first.body, first.headers)

    async def settled():
        items = await deliveries(client, org, endpoint)
        return items if items and items[0]["status"] == "succeeded" else None

    (delivery,) = await eventually(settled)
    assert delivery["attempt_count"] == 2
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["attempts"][0]["response_body"] == "try later"
    assert delivery["message_id"] == first.headers["webhook-id"]
    assert delivery["payload"]["type"] == "community.created"
    assert delivery["next_attempt_at"] is None and delivery["delivered_at"]
    endpoint_now = await client.get(f"/v1/webhooks/{endpoint['id']}", headers=org.auth("manager"))
    assert endpoint_now.json()["failing_since"] is None
    assert endpoint_now.json()["last_success_at"] is not None


async def test_persistent_failure_disables_the_endpoint_with_the_reason(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/down"))
    receiver.script("/down", then=Reply(503, b"maintenance"))
    await create_community(client, org)
    path = f"/v1/webhooks/{endpoint['id']}"

    async def disabled():
        body = (await client.get(path, headers=org.auth("manager"))).json()
        return body if not body["enabled"] else None

    body = await eventually(disabled)
    assert "Every attempt since" in body["disabled_reason"]
    assert "HTTP 503" in body["disabled_reason"]
    assert body["disabled_at"] and body["failing_since"]
    attempts_when_disabled = len(receiver.received("/down"))
    assert attempts_when_disabled >= 2

    # New events are not sent to a disabled endpoint, and no retries go out.
    await create_community(client, org, "second")
    await asyncio.sleep(1.2)
    assert len(receiver.received("/down")) == attempts_when_disabled
    assert len(await deliveries(client, org, endpoint)) == 1

    # Re-enabled once the receiver is fixed: the pending delivery goes out.
    receiver.script("/down", then=Reply(200))
    enabled = await client.patch(path, json={"enabled": True}, headers=org.auth("manager"))
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None

    async def delivered():
        items = await deliveries(client, org, endpoint)
        return items if items[0]["status"] in ("succeeded", "failed") else None

    (delivery,) = await eventually(delivered)
    assert delivery["status"] == "succeeded"


async def test_410_gone_disables_at_once(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/gone"))
    receiver.script("/gone", then=Reply(410, b"gone"))
    await create_community(client, org)

    async def failed():
        items = await deliveries(client, org, endpoint)
        return items if items and items[0]["status"] == "failed" else None

    (delivery,) = await eventually(failed)
    assert delivery["attempt_count"] == 1 and delivery["last_status_code"] == 410
    body = (await client.get(f"/v1/webhooks/{endpoint['id']}", headers=org.auth("manager"))).json()
    assert body["enabled"] is False and "410" in body["disabled_reason"]
    assert len(receiver.received("/gone")) == 1


async def test_redirects_are_failures_and_never_followed(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/moved"))
    redirect = Reply(302, b"", headers={"Location": receiver.url("/elsewhere")})
    receiver.script("/moved", redirect, then=Reply(200))
    await create_community(client, org)
    await receiver.wait_for(2, "/moved")

    async def settled():
        items = await deliveries(client, org, endpoint)
        return items if items and items[0]["status"] == "succeeded" else None

    (delivery,) = await eventually(settled)
    assert [a["status_code"] for a in delivery["attempts"]] == [302, 200]
    assert receiver.received("/elsewhere") == []


async def test_only_subscribed_events_of_the_own_org_are_sent(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    channels_only = await register(client, org, receiver.url("/channels"), ["channel.created"])
    everything = await register(client, org, receiver.url("/all"), ["*"])
    other = await make_org(client, "Rival Games")
    await register(client, other, receiver.url("/rival"), ["*"])

    community = await create_community(client, org)
    channel = await client.post(
        f"/v1/communities/{community['id']}/channels",
        json={"name": "forum", "kind": "launcher_feed"},
        headers=org.auth("manager"),
    )
    assert channel.status_code == 201
    await receiver.wait_for(2, "/all")
    (only,) = await receiver.wait_for(1, "/channels")
    payload = Webhook(channels_only["secret"]).verify(only.body, only.headers)
    assert payload["type"] == "channel.created"
    assert payload["data"]["id"] == channel.json()["id"]
    types = [json.loads(r.body)["type"] for r in receiver.received("/all")]
    assert sorted(types) == ["channel.created", "community.created"]
    for request in receiver.received("/all"):
        Webhook(everything["secret"]).verify(request.body, request.headers)
    await asyncio.sleep(0.3)
    assert receiver.received("/rival") == []


async def test_an_endpoint_hears_only_what_happens_after_it_is_registered(
    jobs_settings: Settings, receiver: Receiver
) -> None:
    """Dispatch runs a little after the commit (and later still when its job was lost); an
    event from before the endpoint existed must not reach it then."""
    async with running_app(jobs_settings) as app, http_client(app) as client:
        org = await make_org(client, "Starfall Studios")
        async with app.state.runtime.db.session() as session:
            # Written but not yet dispatched, as when the job asking for it was lost.
            await events.emit(session, uuid.UUID(org.id), "community.created", {"id": "old"})
            await session.commit()
        await register(client, org, receiver.url("/late"), ["community.created"])
        community = await create_community(client, org)  # its dispatch claims both events
        (only,) = await receiver.wait_for(1, "/late")
        await asyncio.sleep(0.3)
    assert json.loads(only.body)["data"]["id"] == community["id"]
    assert len(receiver.received("/late")) == 1


async def test_every_community_and_channel_change_is_an_event(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/events"))
    community = await create_community(client, org)
    cid, auth = community["id"], org.auth("manager")
    await client.patch(f"/v1/communities/{cid}", json={"name": "Renamed"}, headers=auth)
    channel = await client.post(
        f"/v1/communities/{cid}/channels",
        json={"name": "forum", "kind": "launcher_feed"},
        headers=auth,
    )
    channel_path = f"/v1/channels/{channel.json()['id']}"
    await client.patch(channel_path, json={"name": "general"}, headers=auth)
    await client.delete(channel_path, headers=auth)
    await client.delete(f"/v1/communities/{cid}", headers=org.auth("owner"))
    received = await receiver.wait_for(6, "/events")
    verifier = Webhook(endpoint["secret"])
    events = sorted(
        (e["type"], e["data"].get("name"))
        for e in (verifier.verify(r.body, r.headers) for r in received)
    )
    assert events == [
        ("channel.created", "forum"),
        ("channel.deleted", "general"),
        ("channel.updated", "general"),
        ("community.created", "Starfall"),
        ("community.deleted", "Renamed"),
        ("community.updated", "Renamed"),
    ]
    assert len({r.headers["webhook-id"] for r in received}) == 6


async def test_redeliver_sends_again_with_the_same_webhook_id(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/r"))
    await create_community(client, org)
    (original,) = await receiver.wait_for(1, "/r")

    async def succeeded():
        items = await deliveries(client, org, endpoint)
        return items if items and items[0]["status"] == "succeeded" else None

    (delivery,) = await eventually(succeeded)
    response = await client.post(
        f"/v1/webhook-deliveries/{delivery['id']}/redeliver", headers=org.auth("manager")
    )
    assert response.status_code == 202
    copy = response.json()
    assert copy["redelivery_of"] == delivery["id"]
    assert copy["message_id"] == delivery["message_id"]
    assert response.headers["location"] == f"/v1/webhook-deliveries/{copy['id']}"
    _, again = await receiver.wait_for(2, "/r")
    assert again.headers["webhook-id"] == original.headers["webhook-id"]
    Webhook(endpoint["secret"]).verify(again.body, again.headers)

    async def copy_done():
        got = await client.get(f"/v1/webhook-deliveries/{copy['id']}", headers=org.auth("manager"))
        return got.json() if got.json()["status"] == "succeeded" else None

    assert (await eventually(copy_done))["attempts"][0]["status_code"] == 200
    assert len(await deliveries(client, org, endpoint)) == 2
    only_succeeded = await deliveries(client, org, endpoint, "?status=succeeded&limit=1")
    assert len(only_succeeded) == 1


async def test_redeliver_checks_role_tenancy_and_state(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/r"))
    await create_community(client, org)
    await receiver.wait_for(1, "/r")
    (delivery,) = await eventually(lambda: deliveries(client, org, endpoint))
    one = f"/v1/webhook-deliveries/{delivery['id']}"
    assert (await client.get(one, headers=org.auth("moderator"))).status_code == 403
    assert (await client.get(one)).status_code == 401
    path = f"/v1/webhook-deliveries/{delivery['id']}/redeliver"
    assert (await client.post(path, headers=org.auth("moderator"))).status_code == 403
    assert (await client.post(path)).status_code == 401
    other = await make_org(client, "Rival Games")
    assert (await client.post(path, headers=other.auth("owner"))).status_code == 404
    assert (await client.get(one, headers=other.auth("owner"))).status_code == 404
    missing = "/v1/webhook-deliveries/00000000-0000-0000-0000-000000000000/redeliver"
    assert (await client.post(missing, headers=org.auth("manager"))).status_code == 404
    await client.patch(
        f"/v1/webhooks/{endpoint['id']}", json={"enabled": False}, headers=org.auth("manager")
    )
    refused = await client.post(path, headers=org.auth("manager"))
    assert refused.status_code == 409
    assert "disabled" in refused.json()["detail"]


async def test_ping_sends_now_and_returns_the_answer(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/ping"), ["community.created"])
    receiver.script("/ping", Reply(200, b"pong"))
    response = await client.post(f"/v1/webhooks/{endpoint['id']}/ping", headers=org.auth("manager"))
    assert response.status_code == 200
    delivery = response.json()
    assert delivery["event_type"] == "ping" and delivery["status"] == "succeeded"
    assert delivery["attempts"][0]["status_code"] == 200
    assert delivery["attempts"][0]["response_body"] == "pong"
    (request,) = receiver.received("/ping")
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "ping" and payload["data"]["endpoint_id"] == endpoint["id"]


async def test_a_failed_ping_shows_the_error_and_is_retried(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url("/flaky"))
    receiver.script("/flaky", Reply(500, b"boom"), then=Reply(200))
    response = await client.post(f"/v1/webhooks/{endpoint['id']}/ping", headers=org.auth("manager"))
    delivery = response.json()
    assert delivery["status"] == "pending" and delivery["last_status_code"] == 500
    assert delivery["next_attempt_at"] is not None
    await receiver.wait_for(2, "/flaky")


async def test_metrics_count_delivery_outcomes(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    def sample(outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "hearth_webhook_delivery_attempts_total", {"outcome": outcome}
        )
        return value or 0

    before = {outcome: sample(outcome) for outcome in ("failure", "success")}
    endpoint = await register(client, org, receiver.url("/m"))
    receiver.script("/m", Reply(500), then=Reply(200))
    await client.post(f"/v1/webhooks/{endpoint['id']}/ping", headers=org.auth("manager"))
    await receiver.wait_for(2, "/m")
    await eventually(lambda: sample("success") > before["success"])
    assert sample("failure") == before["failure"] + 1
    assert sample("success") == before["success"] + 1
    text = (await client.get("/metrics")).text
    assert 'hearth_webhook_delivery_attempts_total{outcome="success"}' in text


async def test_a_receiver_that_trickles_its_answer_times_out_once(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    # 6 bytes, 0.8 s apart: each read is quick, the whole answer outlasts the 3 s timeout.
    receiver.script("/slow", Reply(200, b"abcdef", trickle=0.8), then=Reply(200))
    endpoint = await register(client, org, receiver.url("/slow"))
    response = await client.post(f"/v1/webhooks/{endpoint['id']}/ping", headers=org.auth("manager"))
    first = response.json()
    assert first["status"] == "pending"
    assert first["attempts"][0]["error"] == "No answer within 3 s."
    assert first["attempts"][0]["duration_ms"] < 4000

    async def done():
        got = await client.get(f"/v1/webhook-deliveries/{first['id']}", headers=org.auth("manager"))
        return got.json() if got.json()["status"] == "succeeded" else None

    delivery = await eventually(done)
    assert delivery["attempt_count"] == 2
    assert len(receiver.received("/slow")) == 2


async def test_deleting_an_endpoint_mid_send_is_not_an_error(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    hold = threading.Event()
    receiver.script("/bye", Reply(200, hold=hold))
    endpoint = await register(client, org, receiver.url("/bye"))
    ping = asyncio.create_task(
        client.post(f"/v1/webhooks/{endpoint['id']}/ping", headers=org.auth("manager"))
    )
    try:
        await receiver.wait_for(1, "/bye")
        deleted = await client.delete(f"/v1/webhooks/{endpoint['id']}", headers=org.auth("manager"))
        assert deleted.status_code == 204
    finally:
        hold.set()
    response = await ping
    assert response.status_code == 404  # the endpoint and its log are gone, not a 500


async def test_each_failed_attempt_is_logged_with_the_next_one(
    client: httpx.AsyncClient, org: Org, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever watches the server's log, not the delivery log, sees failing receivers."""
    caplog.set_level(logging.WARNING, logger="hearth.webhooks")
    endpoint = await register(client, org, receiver.url("/hooks"), ["community.created"])
    receiver.script("/hooks", Reply(503, b"busy"), then=Reply(200, b"thanks"))
    await create_community(client, org)
    await receiver.wait_for(2, "/hooks")

    def failures() -> list[dict]:
        return [
            record.msg
            for record in caplog.records
            if isinstance(record.msg, dict) and record.msg.get("event") == "webhook_attempt_failed"
        ]

    (failed,) = await eventually(lambda: failures() or None)
    assert failed["endpoint_id"] == endpoint["id"]
    assert failed["attempt"] == 1 and failed["status_code"] == 503
    assert failed["next_attempt_at"].endswith("Z")
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.msg is failed)
