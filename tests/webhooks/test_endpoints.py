"""Webhook endpoints over HTTP: register, read, change, delete; validation, roles, tenancy."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Org
from tests.receiver import Receiver


async def register(client: httpx.AsyncClient, org: Org, url: str, events=None) -> dict:
    response = await client.post(
        "/v1/webhooks",
        json={"url": url, "events": events or ["*"], "description": "CRM sync"},
        headers=org.auth("manager"),
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.both_backends
async def test_manager_registers_an_endpoint_and_sees_the_secret_once(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    response = await client.post(
        "/v1/webhooks",
        json={"url": receiver.url(), "events": ["community.created", "community.created"]},
        headers=org.auth("manager"),
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/webhooks/{body['id']}"
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["community.created"]
    assert body["enabled"] is True and body["disabled_reason"] is None
    fetched = await client.get(f"/v1/webhooks/{body['id']}", headers=org.auth("manager"))
    assert "secret" not in fetched.json()
    assert body["secret"] not in fetched.text
    listed = await client.get("/v1/webhooks", headers=org.auth("manager"))
    assert [w["id"] for w in listed.json()["items"]] == [body["id"]]
    assert body["secret"] not in listed.text


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"events": ["community.created"]}, "url"),
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x", "events": ["community.exploded"]}, "events"),
        (
            {"url": "https://example.com/x", "events": ["*"], "description": "x" * 501},
            "description",
        ),
        ({"url": "https://example.com/x", "events": ["*"], "secret": "mine"}, "secret"),
    ],
)
async def test_bad_endpoint_input_is_422(
    client: httpx.AsyncClient, org: Org, payload: dict, field: str
) -> None:
    response = await client.post("/v1/webhooks", json=payload, headers=org.auth("manager"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["loc"][:2] == ["body", field] for e in response.json()["errors"])
    assert (await client.get("/v1/webhooks", headers=org.auth())).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    ["http://10.1.2.3/hook", "http://169.254.169.254/", "http://[fd00::1]/", "http://127.0.0.9/"],
)
async def test_private_addresses_are_refused(client: httpx.AsyncClient, org: Org, url: str) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": ["*"]}, headers=org.auth("manager")
    )
    assert response.status_code == 422
    assert response.json()["type"] == "https://hearth.dev/problems/unsafe-url"
    assert response.json()["errors"][0]["loc"] == ["body", "url"]


@pytest.mark.both_backends
async def test_patch_changes_url_events_and_description(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url())
    path = f"/v1/webhooks/{endpoint['id']}"
    changed = await client.patch(
        path,
        json={"url": receiver.url("/v2"), "events": ["channel.created"], "description": "v2"},
        headers=org.auth("manager"),
    )
    assert changed.status_code == 200
    body = changed.json()
    assert body["url"].endswith("/v2") and body["events"] == ["channel.created"]
    assert body["description"] == "v2"
    unsafe = await client.patch(path, json={"url": "http://10.0.0.1/"}, headers=org.auth("manager"))
    assert unsafe.status_code == 422
    unknown = await client.patch(path, json={"events": ["nope"]}, headers=org.auth("manager"))
    assert unknown.status_code == 422
    assert (await client.get(path, headers=org.auth("manager"))).json()["url"].endswith("/v2")


async def test_disabling_by_hand_records_who(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url())
    path = f"/v1/webhooks/{endpoint['id']}"
    off = await client.patch(path, json={"enabled": False}, headers=org.auth("manager"))
    assert off.json()["enabled"] is False
    assert off.json()["disabled_reason"] == "Disabled by manager key."
    on = await client.patch(path, json={"enabled": True}, headers=org.auth("manager"))
    assert on.json()["enabled"] is True and on.json()["disabled_reason"] is None


@pytest.mark.both_backends
async def test_delete_removes_the_endpoint(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    endpoint = await register(client, org, receiver.url())
    path = f"/v1/webhooks/{endpoint['id']}"
    assert (await client.delete(path, headers=org.auth("manager"))).status_code == 204
    assert (await client.get(path, headers=org.auth("manager"))).status_code == 404


@pytest.mark.parametrize("role", ["moderator", "analyst", "viewer"])
async def test_below_manager_is_403_everywhere(
    client: httpx.AsyncClient, org: Org, receiver: Receiver, role: str
) -> None:
    endpoint = await register(client, org, receiver.url())
    path = f"/v1/webhooks/{endpoint['id']}"
    calls = [
        ("POST", "/v1/webhooks", {"url": receiver.url(), "events": ["*"]}),
        ("GET", "/v1/webhooks", None),
        ("GET", path, None),
        ("PATCH", path, {"description": "x"}),
        ("DELETE", path, None),
        ("POST", f"{path}/ping", None),
        ("GET", f"{path}/deliveries", None),
    ]
    for method, url, payload in calls:
        response = await client.request(method, url, json=payload, headers=org.auth(role))
        assert response.status_code == 403, (method, url)
    assert receiver.received() == []


async def test_another_orgs_endpoint_is_404_and_unauthenticated_is_401(
    client: httpx.AsyncClient, org: Org, other_org: Org, receiver: Receiver
) -> None:
    theirs = await register(client, other_org, receiver.url())
    path = f"/v1/webhooks/{theirs['id']}"
    calls = [
        ("GET", path, None),
        ("PATCH", path, {"description": "mine now"}),
        ("DELETE", path, None),
        ("POST", f"{path}/ping", None),
        ("GET", f"{path}/deliveries", None),
    ]
    for method, url, payload in calls:
        assert (
            await client.request(method, url, json=payload, headers=org.auth())
        ).status_code == 404
        assert (await client.request(method, url, json=payload)).status_code == 401
    assert (await client.get("/v1/webhooks", headers=org.auth())).json()["items"] == []
    assert (await client.get(path, headers=other_org.auth("manager"))).json()[
        "description"
    ] == "CRM sync"
    assert receiver.received() == []


async def test_event_catalogue(client: httpx.AsyncClient, org: Org) -> None:
    assert (await client.get("/v1/webhook-event-types")).status_code == 401
    types = await client.get("/v1/webhook-event-types", headers=org.auth("viewer"))
    names = [t["type"] for t in types.json()]
    assert {"community.created", "community.updated", "channel.created"} <= set(names)
