"""The live review queue: GraphQL `moderationQueue` over graphql-transport-ws, driven in the
test's own event loop through the ASGI interface (the app and its database stay in one
loop). Includes regression tests for Strawberry's WebSocket advisories: the legacy
graphql-ws protocol's connection_init bypass (CVE-2026-35523) and unbounded subscribe
messages per socket."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx

from app.core.broadcast import RedisBroadcaster
from tests.conftest import REDIS_URL, Org, redis_or_skip
from tests.forum.conftest import Forum, start_thread
from tests.moderation.test_screening_http import reply

SUBSCRIBE = "subscription($c: UUID!) { moderationQueue(communityId: $c) { id reportCount status } }"


class Socket:
    """A WebSocket client speaking ASGI to the app directly."""

    def __init__(self, app: Any, subprotocols: list[str]) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "subprotocols": subprotocols,
        }
        self.task = asyncio.create_task(app(scope, self.incoming.get, self.outgoing.put))

    async def open(self) -> dict[str, Any]:
        await self.incoming.put({"type": "websocket.connect"})
        return await self.next()

    async def send(self, message: dict[str, Any]) -> None:
        await self.incoming.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def next(self, timeout: float = 5) -> dict[str, Any]:
        return await asyncio.wait_for(self.outgoing.get(), timeout)

    async def message(self) -> dict[str, Any]:
        sent = await self.next()
        assert sent["type"] == "websocket.send", sent
        return json.loads(sent["text"])

    async def init(self, authorization: str | None) -> dict[str, Any]:
        accepted = await self.open()
        assert accepted["type"] == "websocket.accept", accepted
        payload = {"Authorization": authorization} if authorization else {}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.next()

    async def close(self) -> None:
        await self.incoming.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)


def bearer(org: Org, role: str = "moderator") -> str:
    return org.auth(role)["Authorization"]


async def test_items_arrive_as_they_open_and_change(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    socket = Socket(app, ["graphql-transport-ws"])
    ack = await socket.init(bearer(forum.org))
    assert json.loads(ack["text"])["type"] == "connection_ack"
    await socket.send(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": {"c": forum.community_id}},
        }
    )
    await asyncio.sleep(0.1)  # let the subscription start listening
    thread = await start_thread(client, forum, forum.member("op"))
    post = await reply(client, thread["id"], "buy gold", forum.member("spammer"))
    reported = await client.post(
        "/v1/reports",
        json={"target_type": "post", "target_id": post.json()["id"], "reason": "spam"},
        headers=forum.member("p1"),
    )
    assert reported.status_code == 201
    pushed = await socket.message()
    assert pushed["type"] == "next" and pushed["id"] == "1"
    item = pushed["payload"]["data"]["moderationQueue"]
    assert (item["reportCount"], item["status"]) == (1, "open")
    decided = await client.post(
        f"/v1/queue/{item['id']}/decision",
        json={"action": "dismiss", "version": 2},
        headers=forum.staff(),
    )
    assert decided.status_code == 200, decided.text
    changed = (await socket.message())["payload"]["data"]["moderationQueue"]
    assert (changed["id"], changed["status"]) == (item["id"], "resolved")
    await socket.close()


async def test_the_key_is_checked_at_connection_init(
    app: Any, forum: Forum, other_forum: Forum
) -> None:
    without = Socket(app, ["graphql-transport-ws"])
    closed = await without.init(None)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4403)
    forged = Socket(app, ["graphql-transport-ws"])
    closed = await forged.init("Bearer hk_not_a_key")
    assert (closed["type"], closed["code"]) == ("websocket.close", 4403)
    early = Socket(app, ["graphql-transport-ws"])
    assert (await early.open())["type"] == "websocket.accept"
    await early.send({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
    closed = await early.next()
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)
    # Another org's community: the subscription errors, the socket stays.
    theirs = Socket(app, ["graphql-transport-ws"])
    await theirs.init(bearer(other_forum.org))
    await theirs.send(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": {"c": forum.community_id}},
        }
    )
    answer = await theirs.message()
    assert answer["type"] == "error" or answer["payload"].get("errors"), answer
    await theirs.close()


async def test_the_legacy_graphql_ws_protocol_is_not_offered(app: Any) -> None:
    # CVE-2026-35523: graphql-ws let `start` run before connection_init, skipping the key.
    legacy = Socket(app, ["graphql-ws"])
    await legacy.open()
    await legacy.send({"id": "1", "type": "start", "payload": {"query": SUBSCRIBE}})
    refused = await legacy.next()
    assert (refused["type"], refused["code"]) == ("websocket.close", 4406)


async def test_subscriptions_per_socket_and_sockets_per_key_are_capped(
    app: Any, forum: Forum
) -> None:
    settings = app.state.runtime.settings
    socket = Socket(app, ["graphql-transport-ws"])
    await socket.init(bearer(forum.org))
    for n in range(settings.graphql_subscriptions_per_socket + 1):
        await socket.send(
            {
                "id": str(n),
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"c": forum.community_id}},
            }
        )
    refused = await socket.message()  # only the one beyond the cap answers at once
    assert refused["type"] == "error" and refused["id"] == str(
        settings.graphql_subscriptions_per_socket
    )
    assert "limit" in refused["payload"][0]["message"]
    others = [
        Socket(app, ["graphql-transport-ws"]) for _ in range(settings.graphql_sockets_per_key)
    ]
    answers = [await other.init(bearer(forum.org)) for other in others]
    assert [a["type"] for a in answers[:-1]] == ["websocket.send"] * (len(others) - 1)
    assert (answers[-1]["type"], answers[-1]["code"]) == ("websocket.close", 4403)
    await socket.close()  # frees a place for this key
    again = Socket(app, ["graphql-transport-ws"])
    assert (await again.init(bearer(forum.org)))["type"] == "websocket.send"


async def test_redis_carries_messages_between_replicas() -> None:
    await redis_or_skip()
    prefix = f"hearth:test:{uuid.uuid4().hex}:"
    one, two = RedisBroadcaster(REDIS_URL, prefix), RedisBroadcaster(REDIS_URL, prefix)
    received = two.subscribe("queue:x")
    listening = asyncio.ensure_future(received.__anext__())
    await asyncio.sleep(0.2)  # the subscription reaches Redis
    await one.publish("queue:x", {"id": "1"})
    assert await asyncio.wait_for(listening, 5) == {"id": "1"}
    await received.aclose()
    await one.close()
    await two.close()


async def test_a_revoked_key_stops_receiving(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    socket = Socket(app, ["graphql-transport-ws"])
    await socket.init(bearer(forum.org))
    await socket.send(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": {"c": forum.community_id}},
        }
    )
    await asyncio.sleep(0.1)
    revoked = await client.delete(
        f"/v1/api-keys/{forum.org.key_ids['moderator']}", headers=forum.org.auth("owner")
    )
    assert revoked.status_code == 204, revoked.text
    thread = await start_thread(client, forum, forum.member("op"))
    post = await reply(client, thread["id"], "buy gold", forum.member("spammer"))
    await client.post(
        "/v1/reports",
        json={"target_type": "post", "target_id": post.json()["id"], "reason": "spam"},
        headers=forum.member("p1"),
    )
    answer = await socket.message()
    assert answer["payload"]["data"] is None
    assert (
        answer["payload"]["errors"][0]["message"] == "This API key is unknown or has been revoked."
    )
    await socket.close()
