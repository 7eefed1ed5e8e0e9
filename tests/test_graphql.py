"""GraphQL at /graphql: the same services as REST, errors with codes, limits, DataLoaders."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import strawberry
from sqlalchemy import event

from app.core.graphql import MAX_DEPTH, extensions
from tests.conftest import Org
from tests.receiver import Receiver


async def gql(
    client: httpx.AsyncClient, query: str, org: Org | None = None, role: str = "owner", **variables
) -> dict[str, Any]:
    headers = org.auth(role) if org else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(result: dict) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


@strawberry.type
class Node:
    @strawberry.field
    def child(self) -> Node:
        return Node()


@strawberry.type
class Root:
    @strawberry.field
    def node(self) -> Node:
        return Node()


CREATE = """
mutation($input: CommunityInput!) {
  createCommunity(input: $input) { id slug locales tone { formality sign_off: signOff } }
}"""


async def test_org_and_communities_with_channels(client: httpx.AsyncClient, org: Org) -> None:
    created = await gql(
        client,
        CREATE,
        org,
        "manager",
        input={
            "slug": "starfall",
            "name": "Starfall",
            "locales": ["de"],
            "tone": {"formality": "casual", "signOff": "Fly safe"},
        },
    )
    community = created["data"]["createCommunity"]
    assert community["locales"] == ["en", "de"]
    assert community["tone"] == {"formality": "casual", "sign_off": "Fly safe"}
    channel = await gql(
        client,
        """mutation($cid: UUID!) { createChannel(communityId: $cid, input: {name: "forum", kind: launcher_feed})
             { channel { id kind } signingSecret } }""",
        org,
        "manager",
        cid=community["id"],
    )
    assert channel["data"]["createChannel"]["channel"]["kind"] == "launcher_feed"
    result = await gql(
        client,
        """query($id: UUID!) { org { id name }
             communities(first: 10) { items { slug channels { name kind config } } nextCursor }
             bySlug: community(slug: "starfall") { id name }
             byId: community(id: $id) { slug } }""",
        org,
        "viewer",
        id=community["id"],
    )
    data = result["data"]
    assert data["org"] == {"id": org.id, "name": org.name}
    assert data["communities"]["items"] == [
        {"slug": "starfall", "channels": [{"name": "forum", "kind": "launcher_feed", "config": {}}]}
    ]
    assert data["bySlug"]["id"] == community["id"] and data["byId"]["slug"] == "starfall"


async def test_mutations_follow_the_rest_rules(
    client: httpx.AsyncClient, org: Org, other_org: Org, receiver: Receiver
) -> None:
    community = (await gql(client, CREATE, org, "manager", input={"slug": "sf", "name": "SF"}))[
        "data"
    ]["createCommunity"]
    invalid = await gql(client, CREATE, org, "manager", input={"slug": "Not Valid", "name": ""})
    assert codes(invalid) == ["BAD_USER_INPUT"]
    assert {tuple(e["loc"]) for e in invalid["errors"][0]["extensions"]["errors"]} == {
        ("slug",),
        ("name",),
    }
    duplicate = await gql(client, CREATE, org, "manager", input={"slug": "sf", "name": "Again"})
    assert codes(duplicate) == ["CONFLICT"]
    forbidden = await gql(client, CREATE, org, "viewer", input={"slug": "v", "name": "V"})
    assert codes(forbidden) == ["FORBIDDEN"]
    update = """mutation($id: UUID!, $input: CommunityPatch!) { updateCommunity(id: $id, input: $input) { name description } }"""
    changed = await gql(
        client, update, org, "manager", id=community["id"], input={"name": "Renamed"}
    )
    assert changed["data"]["updateCommunity"] == {"name": "Renamed", "description": ""}
    foreign = await gql(
        client, update, other_org, "owner", id=community["id"], input={"name": "Mine"}
    )
    assert codes(foreign) == ["NOT_FOUND"]
    secret = """mutation($id: UUID!, $s: String!) { setMemberSecret(id: $id, secret: $s) }"""
    assert codes(await gql(client, secret, org, "manager", id=community["id"], s="x" * 40)) == [
        "FORBIDDEN"
    ]
    assert codes(await gql(client, secret, org, "owner", id=community["id"], s="short")) == [
        "BAD_USER_INPUT"
    ]
    assert (await gql(client, secret, org, "owner", id=community["id"], s="x" * 40))["data"][
        "setMemberSecret"
    ]
    unsafe = await gql(
        client,
        """mutation($cid: UUID!) { createChannel(communityId: $cid,
             input: {name: "d", kind: discord, config: {webhook_url: "http://10.0.0.1/x"}}) { signingSecret } }""",
        org,
        "manager",
        cid=community["id"],
    )
    assert codes(unsafe) == ["UNSAFE_URL"]
    hook = await gql(
        client,
        """mutation($cid: UUID!, $url: String!) { createChannel(communityId: $cid,
             input: {name: "t", kind: webhook, config: {url: $url}}) { channel { id config } signingSecret } }""",
        org,
        "manager",
        cid=community["id"],
        url=receiver.url("/t"),
    )
    payload = hook["data"]["createChannel"]
    assert (
        payload["signingSecret"].startswith("whsec_")
        and "secret" not in payload["channel"]["config"]
    )
    tested = await gql(
        client,
        """mutation($id: UUID!) { testChannel(id: $id, text: "hello") { ok statusCode sentText } }""",
        org,
        "manager",
        id=payload["channel"]["id"],
    )
    assert tested["data"]["testChannel"] == {"ok": True, "statusCode": 200, "sentText": "hello"}
    deleted = await gql(
        client,
        "mutation($id: UUID!) { deleteCommunity(id: $id) }",
        org,
        "owner",
        id=community["id"],
    )
    assert deleted["data"]["deleteCommunity"] is True


async def test_unauthenticated_queries_are_refused(client: httpx.AsyncClient) -> None:
    result = await gql(client, "{ org { id } }")
    assert codes(result) == ["UNAUTHENTICATED"]
    bad = await client.post(
        "/graphql", json={"query": "{ org { id } }"}, headers={"Authorization": "Bearer hk_nope"}
    )
    assert [e["extensions"]["code"] for e in bad.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_page_size_is_bounded_like_rest(client: httpx.AsyncClient, org: Org) -> None:
    for first in (0, 101):
        result = await gql(client, f"{{ communities(first: {first}) {{ items {{ id }} }} }}", org)
        assert codes(result) == ["BAD_USER_INPUT"]
    bad_cursor = await gql(client, '{ communities(after: "nope") { items { id } } }', org)
    assert codes(bad_cursor) == ["BAD_USER_INPUT"]


async def test_community_needs_exactly_one_of_id_or_slug(
    client: httpx.AsyncClient, org: Org
) -> None:
    assert codes(await gql(client, "{ community { id } }", org)) == ["BAD_USER_INPUT"]
    missing = await gql(client, '{ community(slug: "nope") { id } }', org)
    assert codes(missing) == ["NOT_FOUND"]


async def test_depth_alias_and_token_limits(client: httpx.AsyncClient, org: Org) -> None:
    # Today's schema has no cycles, so depth is checked on a recursive schema that uses the
    # same limit extensions as the app's.
    recursive = strawberry.Schema(query=Root, extensions=extensions())
    ok = "{ node " + "{ child " * (MAX_DEPTH - 2) + "{ __typename }" + " }" * (MAX_DEPTH - 1)
    assert (await recursive.execute(ok)).errors is None
    deep = "{ node " + "{ child " * MAX_DEPTH + "{ __typename }" + " }" * (MAX_DEPTH + 1)
    errors = (await recursive.execute(deep)).errors
    assert errors and "exceeds maximum operation depth" in errors[0].message

    aliases = "{ " + " ".join(f"a{i}: org {{ id }}" for i in range(31)) + " }"
    assert "aliases" in (await gql(client, aliases, org))["errors"][0]["message"]
    # Regression (alias-limit bypass via fragments): aliases inside fragments count too.
    fragment = (
        "fragment F on Query { "
        + " ".join(f"a{i}: org {{ id }}" for i in range(31))
        + " } { ...F }"
    )
    assert "aliases" in (await gql(client, fragment, org))["errors"][0]["message"]
    tokens = "{ " + "org { id } " * 700 + "}"
    assert "token" in (await gql(client, tokens, org))["errors"][0]["message"].lower()


async def test_mutations_are_refused_over_get(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.get(
        "/graphql",
        params={
            "query": 'mutation { deleteCommunity(id: "00000000-0000-0000-0000-000000000000") }'
        },
        headers=org.auth(),
    )
    assert response.status_code in (400, 405)
    assert response.headers["content-type"] == "application/problem+json"
    query = await client.get(
        "/graphql", params={"query": "{ org { id } }"}, headers=org.auth("viewer")
    )
    assert query.json()["data"]["org"]["id"] == org.id


async def test_multipart_requests_are_refused(client: httpx.AsyncClient, org: Org) -> None:
    # Regression (multipart CSRF): uploads are off, so a form post cannot run an operation.
    response = await client.post(
        "/graphql",
        files={"operations": (None, '{"query": "{ org { id } }"}'), "map": (None, "{}")},
        headers=org.auth(),
    )
    assert response.status_code in (400, 415)
    assert response.headers["content-type"] == "application/problem+json"
    assert org.id not in response.text


def test_no_websocket_surface(app) -> None:
    # No subscriptions yet: a WebSocket to /graphql is refused, authenticated or not.
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    client = TestClient(app)
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect("/graphql", subprotocols=[protocol]) as socket,
        ):
            socket.send_json({"type": "connection_init"})
            socket.receive_json()


async def test_invalid_variables_are_bad_input_not_internal(
    client: httpx.AsyncClient, org: Org
) -> None:
    result = await gql(client, "query($id: UUID!) { community(id: $id) { id } }", org, id="nope")
    assert codes(result) == ["BAD_USER_INPUT"]
    syntax = await gql(client, "{ org { id ", org)
    assert codes(syntax) == ["BAD_USER_INPUT"]
    unknown = await gql(client, "{ nothingHere }", org)
    assert codes(unknown) == ["BAD_USER_INPUT"]


async def test_unexpected_errors_are_masked(
    client: httpx.AsyncClient, org: Org, monkeypatch
) -> None:
    from app.communities import service

    async def broken(*args, **kwargs):
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(service, "list_communities", broken)
    result = await gql(client, "{ communities { items { id } } }", org)
    assert codes(result) == ["INTERNAL"]
    assert "hunter2" not in str(result)


async def test_client_errors_are_not_logged_as_server_errors(
    client: httpx.AsyncClient, org: Org, monkeypatch, caplog
) -> None:
    """Refusals and bad queries are the client's business: no ERROR log line (strawberry's
    own logger would write one, with a traceback, for each). Unexpected errors still are."""
    from app.communities import service

    caplog.set_level(logging.INFO)
    assert codes(await gql(client, "{ org { id } }")) == ["UNAUTHENTICATED"]
    assert codes(await gql(client, "{ nothingHere }", org)) == ["BAD_USER_INPUT"]
    viewer_creates = await gql(client, CREATE, org, "viewer", input={"slug": "v", "name": "V"})
    assert codes(viewer_creates) == ["FORBIDDEN"]
    invalid = await gql(client, CREATE, org, "manager", input={"slug": "Not Valid", "name": ""})
    assert codes(invalid) == ["BAD_USER_INPUT"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

    async def broken(*args, **kwargs):
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(service, "list_communities", broken)
    assert codes(await gql(client, "{ communities { items { id } } }", org)) == ["INTERNAL"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and "graphql_unhandled_exception" in logged[0].getMessage()


@pytest.mark.both_backends
@pytest.mark.parametrize("count", [2, 20])
async def test_channels_load_in_a_constant_number_of_queries(
    app, client: httpx.AsyncClient, org: Org, count: int
) -> None:
    for i in range(count):
        created = await gql(
            client, CREATE, org, "manager", input={"slug": f"c{i}", "name": f"C{i}"}
        )
        cid = created["data"]["createCommunity"]["id"]
        for name in ("forum", "news"):
            await gql(
                client,
                "mutation($cid: UUID!, $n: String!) { createChannel(communityId: $cid, input: {name: $n, kind: launcher_feed}) { signingSecret } }",
                org,
                "manager",
                cid=cid,
                n=name,
            )
    statements: list[str] = []
    engine = app.state.runtime.db.read_engine.sync_engine

    def count_statement(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        result = await gql(
            client, "{ communities(first: 50) { items { slug channels { name } } } }", org, "viewer"
        )
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    items = result["data"]["communities"]["items"]
    assert len(items) == count and all(len(c["channels"]) == 2 for c in items)
    # Background jobs share the engine (event dispatch; the delivery sweep, which looks for
    # paused communities): count only what this query reads.
    ours = ("FROM api_keys", "FROM communities", "FROM channels")
    selects = [
        s for s in statements if any(table in s for table in ours) and "content_deliveries" not in s
    ]
    # key lookup + communities page + one batched channel load, whatever the count
    assert len(selects) == 3, "\n".join(s[:60] for s in selects)


async def test_times_read_the_same_as_over_rest(client: httpx.AsyncClient, org: Org) -> None:
    """One instant, one spelling: UTC ending in `Z` on both sides (GraphQL said +00:00)."""
    created = await client.post(
        "/v1/communities", json={"slug": "times", "name": "Times"}, headers=org.auth("manager")
    )
    rest = created.json()
    query = "query($id: UUID!) { community(id: $id) { createdAt updatedAt } }"
    graphql = (await gql(client, query, org, id=rest["id"]))["data"]["community"]
    assert graphql == {"createdAt": rest["created_at"], "updatedAt": rest["updated_at"]}
    assert graphql["createdAt"].endswith("Z")
