"""Communities over HTTP: create, read, update, delete, member secret; roles and tenancy."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Org

STARFALL = {
    "slug": "starfall",
    "name": "Starfall Online",
    "description": "Space MMO players",
    "default_locale": "en",
    "locales": ["de", "fr"],
    "tone": {
        "voice": "Warm and direct",
        "formality": "casual",
        "emoji": "some",
        "banned_phrases": ["Unfortunately", "unfortunately", "as per"],
        "preferred_terms": {"users": "pilots"},
        "sign_off": "Fly safe",
    },
}


async def create(client: httpx.AsyncClient, org: Org, **overrides) -> dict:
    response = await client.post(
        "/v1/communities", json={**STARFALL, **overrides}, headers=org.auth("manager")
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.both_backends
async def test_manager_creates_a_community(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.post("/v1/communities", json=STARFALL, headers=org.auth("manager"))
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/communities/{body['id']}"
    assert body["slug"] == "starfall"
    assert body["locales"] == ["en", "de", "fr"]  # the default locale is always listed
    assert body["tone"]["banned_phrases"] == ["Unfortunately", "as per"]
    assert body["tone"]["preferred_terms"] == {"users": "pilots"}
    assert body["has_member_secret"] is False
    fetched = await client.get(f"/v1/communities/{body['id']}", headers=org.auth("viewer"))
    assert fetched.json() == body


async def test_defaults_fill_a_minimal_community(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.post(
        "/v1/communities", json={"slug": "min", "name": "Min"}, headers=org.auth("manager")
    )
    body = response.json()
    assert body["default_locale"] == "en" and body["locales"] == ["en"]
    assert body["tone"] == {
        "voice": "",
        "formality": "neutral",
        "emoji": "some",
        "banned_phrases": [],
        "preferred_terms": {},
        "sign_off": "",
    }


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"slug": "Has Spaces"}, "slug"),
        ({"slug": "-leading"}, "slug"),
        ({"slug": "x" * 65}, "slug"),
        ({"name": ""}, "name"),
        ({"default_locale": "english!"}, "default_locale"),
        ({"locales": ["en", "not a locale"]}, "locales"),
        ({"tone": {"formality": "shouty"}}, "tone"),
        ({"tone": {"unknown": 1}}, "tone"),
        ({"description": "x" * 2001}, "description"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_community_input_is_422(
    client: httpx.AsyncClient, org: Org, patch: dict, field: str
) -> None:
    response = await client.post(
        "/v1/communities", json={**STARFALL, **patch}, headers=org.auth("manager")
    )
    assert response.status_code == 422
    assert any(e["loc"][1] == field for e in response.json()["errors"])
    listed = await client.get("/v1/communities", headers=org.auth("viewer"))
    assert listed.json()["items"] == []  # nothing half-written


@pytest.mark.both_backends
async def test_duplicate_slug_is_409_but_other_orgs_may_reuse_it(
    client: httpx.AsyncClient, org: Org, other_org: Org
) -> None:
    await create(client, org)
    again = await client.post("/v1/communities", json=STARFALL, headers=org.auth("manager"))
    assert again.status_code == 409
    assert "starfall" in again.json()["detail"]
    elsewhere = await client.post(
        "/v1/communities", json=STARFALL, headers=other_org.auth("manager")
    )
    assert elsewhere.status_code == 201


@pytest.mark.parametrize("role", ["moderator", "analyst", "viewer"])
async def test_below_manager_cannot_create_or_change(
    client: httpx.AsyncClient, org: Org, role: str
) -> None:
    denied = await client.post("/v1/communities", json=STARFALL, headers=org.auth(role))
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    community = await create(client, org)
    patch = await client.patch(
        f"/v1/communities/{community['id']}", json={"name": "X"}, headers=org.auth(role)
    )
    assert patch.status_code == 403


async def test_every_route_needs_authentication(client: httpx.AsyncClient, org: Org) -> None:
    community = await create(client, org)
    cid = community["id"]
    calls = [
        ("POST", "/v1/communities", STARFALL),
        ("GET", "/v1/communities", None),
        ("GET", f"/v1/communities/{cid}", None),
        ("PATCH", f"/v1/communities/{cid}", {"name": "x"}),
        ("DELETE", f"/v1/communities/{cid}", None),
        ("PUT", f"/v1/communities/{cid}/member-secret", {"secret": "s" * 40}),
    ]
    for method, path, payload in calls:
        response = await client.request(method, path, json=payload)
        assert response.status_code == 401, (method, path)


async def test_another_orgs_community_is_404(
    client: httpx.AsyncClient, org: Org, other_org: Org
) -> None:
    theirs = await create(client, other_org)
    cid = theirs["id"]
    assert (
        await client.get(f"/v1/communities/{cid}", headers=org.auth("owner"))
    ).status_code == 404
    assert (
        await client.patch(
            f"/v1/communities/{cid}", json={"name": "Mine"}, headers=org.auth("owner")
        )
    ).status_code == 404
    assert (
        await client.delete(f"/v1/communities/{cid}", headers=org.auth("owner"))
    ).status_code == 404
    secret = await client.put(
        f"/v1/communities/{cid}/member-secret", json={"secret": "s" * 40}, headers=org.auth()
    )
    assert secret.status_code == 404
    assert (await client.get("/v1/communities", headers=org.auth("viewer"))).json()["items"] == []
    still = await client.get(f"/v1/communities/{cid}", headers=other_org.auth("viewer"))
    assert still.json()["name"] == "Starfall Online"


async def test_unknown_id_and_malformed_id(client: httpx.AsyncClient, org: Org) -> None:
    missing = await client.get(
        "/v1/communities/00000000-0000-0000-0000-000000000000", headers=org.auth("viewer")
    )
    assert missing.status_code == 404
    malformed = await client.get("/v1/communities/not-a-uuid", headers=org.auth("viewer"))
    assert malformed.status_code == 422


@pytest.mark.both_backends
async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient, org: Org) -> None:
    community = await create(client, org)
    response = await client.patch(
        f"/v1/communities/{community['id']}",
        json={"name": "Starfall", "default_locale": "ja", "tone": {"formality": "formal"}},
        headers=org.auth("manager"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Starfall"
    assert body["description"] == "Space MMO players"
    assert body["default_locale"] == "ja" and body["locales"] == ["ja", "en", "de", "fr"]
    assert (
        body["tone"]["formality"] == "formal" and body["tone"]["voice"] == ""
    )  # tone is replaced whole
    assert body["updated_at"] > community["updated_at"]


@pytest.mark.both_backends
async def test_patch_validation_and_conflicts(client: httpx.AsyncClient, org: Org) -> None:
    first = await create(client, org)
    await create(client, org, slug="second")
    taken = await client.patch(
        f"/v1/communities/{first['id']}", json={"slug": "second"}, headers=org.auth("manager")
    )
    assert taken.status_code == 409
    null_name = await client.patch(
        f"/v1/communities/{first['id']}", json={"name": None}, headers=org.auth("manager")
    )
    assert null_name.status_code == 422
    bad = await client.patch(
        f"/v1/communities/{first['id']}", json={"slug": "NO"}, headers=org.auth("manager")
    )
    assert bad.status_code == 422
    unchanged = await client.get(f"/v1/communities/{first['id']}", headers=org.auth("viewer"))
    assert unchanged.json()["slug"] == "starfall"


@pytest.mark.both_backends
async def test_only_owners_delete_and_channels_go_with_it(
    client: httpx.AsyncClient, org: Org
) -> None:
    community = await create(client, org)
    channel = await client.post(
        f"/v1/communities/{community['id']}/channels",
        json={"name": "forum", "kind": "launcher_feed"},
        headers=org.auth("manager"),
    )
    assert channel.status_code == 201
    denied = await client.delete(f"/v1/communities/{community['id']}", headers=org.auth("manager"))
    assert denied.status_code == 403
    deleted = await client.delete(f"/v1/communities/{community['id']}", headers=org.auth("owner"))
    assert deleted.status_code == 204
    assert (
        await client.get(f"/v1/communities/{community['id']}", headers=org.auth())
    ).status_code == 404
    gone = await client.get(f"/v1/channels/{channel.json()['id']}", headers=org.auth())
    assert gone.status_code == 404


async def test_member_secret_is_write_only_and_owner_only(
    client: httpx.AsyncClient, org: Org
) -> None:
    community = await create(client, org)
    path = f"/v1/communities/{community['id']}/member-secret"
    secret = "a-very-long-member-secret-of-at-least-32-chars"
    assert (
        await client.put(path, json={"secret": secret}, headers=org.auth("manager"))
    ).status_code == 403
    assert (await client.put(path, json={"secret": "short"}, headers=org.auth())).status_code == 422
    assert (await client.put(path, json={}, headers=org.auth())).status_code == 422
    stored = await client.put(path, json={"secret": secret}, headers=org.auth())
    assert stored.status_code == 204
    fetched = await client.get(f"/v1/communities/{community['id']}", headers=org.auth())
    assert fetched.json()["has_member_secret"] is True
    assert secret not in fetched.text
    listed = await client.get("/v1/communities", headers=org.auth())
    assert secret not in listed.text


@pytest.mark.both_backends
async def test_communities_list_pages_through_everything(
    client: httpx.AsyncClient, org: Org
) -> None:
    slugs = [f"c{i}" for i in range(5)]
    for slug in slugs:
        await create(client, org, slug=slug)
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/v1/communities{query}", headers=org.auth("viewer"))).json()
        seen += [c["slug"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == slugs
