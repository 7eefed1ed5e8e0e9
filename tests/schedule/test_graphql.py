"""GraphQL for content: the same service calls and rules as REST, relations in a constant
number of queries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import Org
from tests.schedule.conftest import Studio, draft, eventually, make_studio
from tests.test_graphql import codes, gql

CONTENT = """id status version title kind publishAt approvedBy
  feed { pinned regions startsAt } fields translations variants
  channels { id kind } deliveries { channelId status channelKind externalId }"""


@pytest.mark.both_backends
async def test_draft_review_publish_and_read_back(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    feed = studio.channels["launcher_feed"]
    created = await gql(
        client,
        f"""mutation($cid: UUID!, $ch: [UUID!]) {{ createContent(communityId: $cid, input: {{
              kind: patch_notes, title: "Patch 1.4", body: "Fixes.", channelIds: $ch,
              feed: {{pinned: true, regions: ["DE"], startsAt: "2030-01-01T00:00:00+01:00"}},
              fields: {{build: "1.4.0"}}, translations: {{de: {{title: "Patch", body: "Fehler."}}}}
            }}) {{ {CONTENT} }} }}""",
        studio.org,
        "moderator",
        cid=studio.community_id,
        ch=[feed],
    )
    item = created["data"]["createContent"]
    assert item["status"] == "draft" and item["kind"] == "patch_notes"
    assert item["feed"] == {"pinned": True, "regions": ["DE"], "startsAt": "2029-12-31T23:00:00Z"}
    assert item["fields"] == {"build": "1.4.0"}
    assert item["translations"] == {"de": {"title": "Patch", "body": "Fehler."}}
    assert item["channels"] == [{"id": feed, "kind": "launcher_feed"}]
    rest = await client.get(f"/v1/content/{item['id']}", headers=studio.auth())
    assert rest.json()["feed"]["starts_at"] == item["feed"]["startsAt"]

    submitted = await gql(
        client,
        "mutation($id: UUID!) { submitContent(id: $id) { status } }",
        studio.org,
        "moderator",
        id=item["id"],
    )
    assert submitted["data"]["submitContent"]["status"] == "in_review"
    refused = await gql(
        client,
        "mutation($id: UUID!) { publishContent(id: $id) { status } }",
        studio.org,
        "moderator",
        id=item["id"],
    )
    assert codes(refused) == ["FORBIDDEN"]
    published = await gql(
        client,
        "mutation($id: UUID!) { publishContent(id: $id) { status approvedBy } }",
        studio.org,
        "manager",
        id=item["id"],
    )
    assert published["data"]["publishContent"]["status"] == "publishing"

    async def delivered() -> dict[str, Any] | None:
        read = await gql(
            client,
            f"query($id: UUID!) {{ content(id: $id) {{ {CONTENT} }} }}",
            studio.org,
            "viewer",
            id=item["id"],
        )
        body = read["data"]["content"]
        return body if body["status"] == "published" else None

    body = await eventually(delivered)
    assert body["deliveries"] == [
        {
            "channelId": feed,
            "status": "delivered",
            "channelKind": "launcher_feed",
            "externalId": item["id"],
        }
    ]
    again = await gql(
        client,
        "mutation($id: UUID!) { submitContent(id: $id) { status } }",
        studio.org,
        "moderator",
        id=item["id"],
    )
    assert codes(again) == ["CONFLICT"]
    assert again["errors"][0]["extensions"]["current_status"] == "published"


async def test_edits_validate_like_rest(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await draft(client, studio)
    stale = await gql(
        client,
        'mutation($id: UUID!) { updateContent(id: $id, input: {version: 7, title: "x"}) { version } }',
        studio.org,
        "moderator",
        id=item["id"],
    )
    assert codes(stale) == ["CONFLICT"]
    nulled = await gql(
        client,
        "mutation($id: UUID!) { updateContent(id: $id, input: {version: 1, title: null}) { version } }",
        studio.org,
        "moderator",
        id=item["id"],
    )
    assert codes(nulled) == ["BAD_USER_INPUT"]
    fine = await gql(
        client,
        'mutation($id: UUID!) { updateContent(id: $id, input: {version: 1, title: "New", publishAt: null}) { version title } }',
        studio.org,
        "moderator",
        id=item["id"],
    )
    assert fine["data"]["updateContent"] == {"version": 2, "title": "New"}
    checked = await gql(
        client,
        "mutation($id: UUID!) { checkContent(id: $id) { ok checks { level code } } }",
        studio.org,
        "moderator",
        id=item["id"],
    )
    assert checked["data"]["checkContent"] == {"ok": True, "checks": []}
    preview = await gql(
        client,
        "query($id: UUID!) { contentPreview(id: $id) { kind length maxLength payload } }",
        studio.org,
        "viewer",
        id=item["id"],
    )
    kinds = {p["kind"] for p in preview["data"]["contentPreview"]}
    assert kinds == {"forum", "launcher_feed"}


async def test_pause_and_community_fields(client: httpx.AsyncClient, org: Org) -> None:
    studio = await make_studio(client, org, require_approval=True)
    paused = await gql(
        client,
        'mutation($id: UUID!) { pauseCommunity(id: $id, reason: "Outage") { requireApproval pausedAt pauseReason } }',
        org,
        "manager",
        id=studio.community_id,
    )
    community = paused["data"]["pauseCommunity"]
    assert community["requireApproval"] is True and community["pauseReason"] == "Outage"
    assert community["pausedAt"].endswith("Z")
    resumed = await gql(
        client,
        "mutation($id: UUID!) { resumeCommunity(id: $id) { pausedAt } }",
        org,
        "manager",
        id=studio.community_id,
    )
    assert resumed["data"]["resumeCommunity"] == {"pausedAt": None}


@pytest.mark.both_backends
@pytest.mark.parametrize("count", [2, 12])
async def test_contents_load_relations_in_a_constant_number_of_queries(
    app: Any, client: httpx.AsyncClient, studio: Studio, count: int
) -> None:
    for n in range(count):
        item = await draft(client, studio, title=f"Item {n}")
        await client.post(
            f"/v1/content/{item['id']}/schedule",
            json={"publish_at": "2099-01-01T00:00:00Z"},
            headers=studio.auth(),
        )
    statements: list[str] = []
    engine = app.state.runtime.db.read_engine.sync_engine

    def count_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        result = await gql(
            client,
            "query($cid: UUID!) { contents(communityId: $cid, first: 50) { items { id"
            " channels { name } deliveries { status } } } }",
            studio.org,
            "viewer",
            cid=studio.community_id,
        )
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    items = result["data"]["contents"]["items"]
    assert len(items) == count
    assert all(len(i["channels"]) == 2 and len(i["deliveries"]) == 2 for i in items)
    ours = (
        "FROM api_keys",
        "FROM communities",
        "FROM content_items",
        "FROM channels",
        "FROM content_deliveries",
    )
    # The delivery sweep shares the engine and runs every second; it is not this query's.
    selects = [
        s for s in statements if any(table in s for table in ours) and "next_attempt_at <=" not in s
    ]
    # key, community, the page, one batched channel load, one batched delivery load
    assert len(selects) == 5, "\n".join(s[:80] for s in selects)
