"""Every route in the OpenAPI document: authentication required (except the public ones),
and malformed ids refused with 422 — so a new endpoint cannot forget either."""

from __future__ import annotations

import io
import re
import uuid

import httpx
from PIL import Image

from app.schema_export import openapi_json
from tests.conftest import Org

# A valid body where a route needs one, so the 404 is about the id and nothing else.
VALID_BODIES = {
    ("PATCH", "/v1/communities/{community_id}"): {"name": "x"},
    ("PUT", "/v1/communities/{community_id}/member-secret"): {"secret": "s" * 40},
    ("POST", "/v1/communities/{community_id}/channels"): {"name": "x", "kind": "launcher_feed"},
    ("PATCH", "/v1/channels/{channel_id}"): {"name": "x"},
    ("PATCH", "/v1/webhooks/{endpoint_id}"): {"description": "x"},
    ("POST", "/v1/communities/{community_id}/categories"): {"name": "x", "slug": "x"},
    ("PATCH", "/v1/categories/{category_id}"): {"name": "x"},
    ("POST", "/v1/communities/{community_id}/threads"): {
        "category_id": str(uuid.uuid4()),
        "title": "A title",
        "body": "x",
    },
    ("PATCH", "/v1/threads/{thread_id}"): {"pinned": True},
    ("POST", "/v1/threads/{thread_id}/posts"): {"body": "x"},
    ("PATCH", "/v1/posts/{post_id}"): {"body": "x"},
    ("PATCH", "/v1/inbox/{item_id}"): {"status": "dismissed"},
    ("POST", "/v1/communities/{community_id}/saved-replies"): {"title": "x", "body": "x"},
    ("PATCH", "/v1/saved-replies/{reply_id}"): {"title": "x"},
    ("POST", "/v1/saved-replies/{reply_id}/render"): {},
    ("POST", "/v1/communities/{community_id}/content"): {
        "kind": "announcement",
        "title": "x",
        "body": "x",
    },
    ("PATCH", "/v1/content/{content_id}"): {"version": 1},
    ("POST", "/v1/content/{content_id}/reject"): {"note": "x"},
    ("POST", "/v1/content/{content_id}/retract"): {"reason": "x"},
    ("POST", "/v1/content/{content_id}/schedule"): {"publish_at": "2099-01-01T00:00:00Z"},
    ("POST", "/v1/communities/{community_id}/pause"): {"reason": "x"},
    ("POST", "/v1/communities/{community_id}/content/import"): {"items": []},
    ("POST", "/v1/communities/{community_id}/automod/rules"): {
        "name": "x",
        "kind": "caps",
        "config": {},
        "action": "flag",
    },
    ("PATCH", "/v1/automod/rules/{rule_id}"): {"enabled": False},
    ("POST", "/v1/communities/{community_id}/automod/test"): {"text": "x"},
    ("POST", "/v1/automod/rules/{rule_id}/backtest"): {"days": 1},
    ("PATCH", "/v1/queue/{item_id}"): {"assignee_key_id": None},
    ("POST", "/v1/queue/{item_id}/decision"): {"action": "dismiss", "version": 1},
    ("POST", "/v1/members/{member_id}/sanctions"): {"kind": "mute", "reason": "x"},
    ("POST", "/v1/sanctions/{sanction_id}/lift"): {"reason": "x"},
    ("POST", "/v1/members/{member_id}/strikes"): {"reason": "x"},
    ("PUT", "/v1/communities/{community_id}/strike-policy"): {"ladder": [], "decay_days": 1},
    ("PUT", "/v1/communities/{community_id}/member-notices"): {},
    ("POST", "/v1/members/{member_id}/notes"): {"body": "x"},
    ("POST", "/v1/sanctions/{sanction_id}/appeal"): {"statement": "x"},
    ("POST", "/v1/appeals/{appeal_id}/decision"): {"outcome": "uphold", "note": "x"},
}


def _tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, format="PNG")
    return out.getvalue()


# Uploads: a multipart body, so the 404 is about the id.
VALID_FILES = {
    ("POST", "/v1/communities/{community_id}/assets"): {
        "file": ("x.png", _tiny_png(), "image/png")
    },
}
# Required query parameters, so the 404 is about the id.
RANGE = {"from": "2030-01-01T00:00:00Z", "to": "2030-02-01T00:00:00Z"}
VALID_QUERIES = {
    ("GET", "/v1/communities/{community_id}/calendar"): RANGE,
    ("GET", "/v1/communities/{community_id}/calendar.ics"): RANGE,
}
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/graphql",
    "/v1/assets/{asset_id}/content",
    # Launcher feeds: public by design; a feed is named by an id or a slug (tests/feeds).
    "/v1/feeds/{feed}",
    "/v1/feeds/{feed}/feed.json",
    "/v1/feeds/{feed}/rss",
    "/v1/feeds/{feed}/atom",
    "/v1/feeds/{feed}/embed",
    "/v1/feeds/{feed}/events",
}


def routes() -> list[tuple[str, str]]:
    import json

    spec = json.loads(openapi_json())
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if path not in PUBLIC
    ]


def concrete(path: str, value: str) -> str:
    # Only ids vary; an emoji is a name, not an id.
    return re.sub(r"\{[^}]+\}", value, path.replace("{emoji}", "thumbsup"))


# One app for the whole matrix: each rule is checked on every route and every miss is
# reported at once, so a new endpoint costs a few requests, not a test setup per route.


async def test_every_route_needs_a_credential(client: httpx.AsyncClient) -> None:
    wrong = []
    for method, path in routes():
        url = concrete(path, str(uuid.uuid4()))
        for headers in ({}, {"Authorization": "Bearer hk_revoked-or-unknown"}):
            response = await client.request(method, url, json={}, headers=headers)
            if (
                response.status_code != 401
                or response.headers["content-type"] != "application/problem+json"
            ):
                wrong.append((method, path, bool(headers), response.status_code))
    assert not wrong


async def test_malformed_ids_are_422(client: httpx.AsyncClient, org: Org) -> None:
    wrong = []
    for method, path in routes():
        if "{" not in path:
            continue
        response = await client.request(
            method, concrete(path, "not-a-uuid"), json={}, headers=org.auth()
        )
        if response.status_code != 422 or response.json()["errors"][0]["loc"][0] != "path":
            wrong.append((method, path, response.status_code, response.text[:200]))
    assert not wrong


async def test_unknown_ids_are_404(client: httpx.AsyncClient, org: Org) -> None:
    wrong = []
    for method, path in routes():
        if "{" not in path:
            continue
        body = VALID_BODIES.get((method, path))
        response = await client.request(
            method,
            concrete(path, str(uuid.uuid4())),
            json=body,
            files=VALID_FILES.get((method, path)),
            params=VALID_QUERIES.get((method, path)),
            headers=org.auth(),
        )
        if response.status_code != 404:
            wrong.append((method, path, response.status_code, response.text[:200]))
    assert not wrong


def test_the_matrix_covers_the_api() -> None:
    paths = {path for _, path in routes()}
    assert {
        "/v1/communities/{community_id}",
        "/v1/channels/{channel_id}/test",
        "/v1/webhook-deliveries/{delivery_id}/redeliver",
    } <= paths
    assert "/v1/orgs" in paths


async def test_every_list_validates_limit_and_cursor(client: httpx.AsyncClient, org: Org) -> None:
    community = await client.post(
        "/v1/communities", json={"slug": "lists", "name": "Lists"}, headers=org.auth("manager")
    )
    webhook = await client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/x", "events": ["*"]},
        headers=org.auth("manager"),
    )
    lists = [
        "/v1/api-keys",
        "/v1/communities",
        f"/v1/communities/{community.json()['id']}/channels",
        "/v1/webhooks",
        f"/v1/webhooks/{webhook.json()['id']}/deliveries",
    ]
    for path in lists:
        assert (await client.get(path, headers=org.auth())).status_code == 200, path
        for query in ("limit=0", "limit=101", "limit=ten", "cursor=garbage"):
            response = await client.get(f"{path}?{query}", headers=org.auth())
            assert response.status_code == 422, (path, query)
            assert response.json()["errors"][0]["loc"][0] == "query"
    bad_status = await client.get(f"{lists[-1]}?status=lost", headers=org.auth())
    assert bad_status.status_code == 422
