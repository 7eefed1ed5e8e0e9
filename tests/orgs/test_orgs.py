"""Organisations and API keys over HTTP: issuing, roles, revocation, tenancy."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Org, http_client, make_settings, running_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_admin_creates_an_org_with_a_working_owner_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/orgs", json={"name": "Nebula Interactive"}, headers=ADMIN)
    assert response.status_code == 201
    assert response.headers["location"].endswith("/v1/org")
    body = response.json()
    assert body["org"]["name"] == "Nebula Interactive"
    assert body["owner_key"].startswith("hk_")
    me = await client.get("/v1/org", headers={"Authorization": f"Bearer {body['owner_key']}"})
    assert me.status_code == 200
    assert me.json() == body["org"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic x"}]
)
async def test_creating_an_org_needs_the_admin_token(
    client: httpx.AsyncClient, headers: dict
) -> None:
    response = await client.post("/v1/orgs", json={"name": "Nope"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_api_key_is_not_the_admin_token(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.post("/v1/orgs", json={"name": "Nope"}, headers=org.auth("owner"))
    assert response.status_code == 401


async def test_org_creation_is_disabled_without_an_admin_token(settings) -> None:
    closed = make_settings(settings.database_url, admin_token=None)
    async with running_app(closed) as app, http_client(app) as client:
        response = await client.post("/v1/orgs", json={"name": "Nope"}, headers=ADMIN)
    assert response.status_code == 403
    assert "HEARTH_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "ok", "extra": 1}]
)
async def test_org_name_is_validated(client: httpx.AsyncClient, payload: dict) -> None:
    response = await client.post("/v1/orgs", json=payload, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_every_role_reads_its_own_org(
    client: httpx.AsyncClient, org: Org, other_org: Org
) -> None:
    for role in org.keys:
        response = await client.get("/v1/org", headers=org.auth(role))
        assert response.status_code == 200
        assert response.json()["id"] == org.id
    assert (await client.get("/v1/org", headers=other_org.auth("viewer"))).json()[
        "id"
    ] == other_org.id


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer hk_not-a-real-key"}, {"Authorization": "Bearer something-else"}],
)
async def test_unauthenticated_calls_are_401(client: httpx.AsyncClient, headers: dict) -> None:
    response = await client.get("/v1/org", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_owners_rename_the_org(client: httpx.AsyncClient, org: Org) -> None:
    denied = await client.patch("/v1/org", json={"name": "Renamed"}, headers=org.auth("manager"))
    assert denied.status_code == 403
    invalid = await client.patch("/v1/org", json={"name": ""}, headers=org.auth("owner"))
    assert invalid.status_code == 422
    renamed = await client.patch("/v1/org", json={"name": "Renamed"}, headers=org.auth("owner"))
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Renamed"


async def test_owner_issues_a_key_shown_once(client: httpx.AsyncClient, org: Org) -> None:
    created = await client.post(
        "/v1/api-keys", json={"name": "launcher", "role": "viewer"}, headers=org.auth()
    )
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("hk_") and body["role"] == "viewer"
    assert created.headers["location"] == f"/v1/api-keys/{body['id']}"
    listed = await client.get("/v1/api-keys", headers=org.auth())
    assert listed.status_code == 200
    assert body["key"] not in listed.text
    entry = next(k for k in listed.json()["items"] if k["id"] == body["id"])
    assert entry["prefix"] == body["key"][:10]
    assert "key" not in entry and "key_hash" not in entry


@pytest.mark.parametrize("role", ["manager", "moderator", "analyst", "viewer"])
async def test_only_owners_manage_keys(client: httpx.AsyncClient, org: Org, role: str) -> None:
    assert (
        await client.post(
            "/v1/api-keys", json={"name": "x", "role": "viewer"}, headers=org.auth(role)
        )
    ).status_code == 403
    assert (await client.get("/v1/api-keys", headers=org.auth(role))).status_code == 403
    revoke = await client.delete(f"/v1/api-keys/{org.key_ids['viewer']}", headers=org.auth(role))
    assert revoke.status_code == 403


@pytest.mark.parametrize(
    "payload", [{"name": "x", "role": "admin"}, {"role": "viewer"}, {"name": "", "role": "viewer"}]
)
async def test_key_requests_are_validated(
    client: httpx.AsyncClient, org: Org, payload: dict
) -> None:
    response = await client.post("/v1/api-keys", json=payload, headers=org.auth())
    assert response.status_code == 422


@pytest.mark.both_backends
async def test_last_used_at_is_recorded(client: httpx.AsyncClient, org: Org) -> None:
    await client.get("/v1/org", headers=org.auth("analyst"))
    keys = (await client.get("/v1/api-keys", headers=org.auth())).json()["items"]
    analyst = next(k for k in keys if k["id"] == org.key_ids["analyst"])
    assert analyst["last_used_at"] is not None


@pytest.mark.both_backends
async def test_revocation_takes_effect_at_once(client: httpx.AsyncClient, org: Org) -> None:
    assert (await client.get("/v1/org", headers=org.auth("manager"))).status_code == 200
    revoked = await client.delete(f"/v1/api-keys/{org.key_ids['manager']}", headers=org.auth())
    assert revoked.status_code == 204
    after = await client.get("/v1/org", headers=org.auth("manager"))
    assert after.status_code == 401
    again = await client.delete(f"/v1/api-keys/{org.key_ids['manager']}", headers=org.auth())
    assert again.status_code == 404
    listed = await client.get("/v1/api-keys", headers=org.auth())
    assert org.key_ids["manager"] not in listed.text
    with_revoked = await client.get("/v1/api-keys?include_revoked=true", headers=org.auth())
    assert org.key_ids["manager"] in with_revoked.text


@pytest.mark.both_backends
async def test_the_last_owner_key_cannot_be_revoked(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.delete(f"/v1/api-keys/{org.key_ids['owner']}", headers=org.auth())
    assert response.status_code == 409
    second = await client.post(
        "/v1/api-keys", json={"name": "owner 2", "role": "owner"}, headers=org.auth()
    )
    assert (
        await client.delete(f"/v1/api-keys/{org.key_ids['owner']}", headers=org.auth())
    ).status_code == 204
    assert (await client.get("/v1/org", headers=org.auth())).status_code == 401
    assert (
        await client.get("/v1/org", headers={"Authorization": f"Bearer {second.json()['key']}"})
    ).status_code == 200


async def test_another_orgs_key_is_404(client: httpx.AsyncClient, org: Org, other_org: Org) -> None:
    response = await client.delete(
        f"/v1/api-keys/{other_org.key_ids['viewer']}", headers=org.auth()
    )
    assert response.status_code == 404
    assert (await client.get("/v1/org", headers=other_org.auth("viewer"))).status_code == 200
    listed = await client.get("/v1/api-keys", headers=org.auth())
    assert other_org.key_ids["viewer"] not in listed.text


@pytest.mark.both_backends
async def test_key_lists_are_paginated(client: httpx.AsyncClient, org: Org) -> None:
    first = await client.get("/v1/api-keys?limit=2", headers=org.auth())
    assert len(first.json()["items"]) == 2 and first.json()["next_cursor"]
    seen = [k["id"] for k in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    while cursor:
        page = (
            await client.get(f"/v1/api-keys?limit=2&cursor={cursor}", headers=org.auth())
        ).json()
        assert "items" in page, page
        seen += [k["id"] for k in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(org.key_ids.values())
    assert (await client.get("/v1/api-keys?limit=101", headers=org.auth())).status_code == 422
    assert (await client.get("/v1/api-keys?limit=0", headers=org.auth())).status_code == 422
    bad = await client.get("/v1/api-keys?cursor=not-a-cursor", headers=org.auth())
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    "raw",
    [
        '[123, "00000000-0000-0000-0000-000000000000"]',
        '["2026-01-01T00:00:00", "x"]',
        "{}",
        '["a"]',
    ],
)
async def test_crafted_cursors_are_422_not_500(
    client: httpx.AsyncClient, org: Org, raw: str
) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = await client.get(f"/v1/api-keys?cursor={cursor}", headers=org.auth())
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
