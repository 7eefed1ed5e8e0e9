"""Forum events reach a real receiver on 127.0.0.1, signed per Standard Webhooks, with the
ids and the community a tool needs to route them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import Org
from tests.forum.conftest import Forum, start_thread
from tests.receiver import Receiver

pytestmark = pytest.mark.both_backends

FORUM_EVENTS = [
    "member.joined",
    "member.erased",
    "thread.created",
    "thread.updated",
    "post.created",
    "post.edited",
    "post.deleted",
    "post.accepted",
]


async def register(
    client: httpx.AsyncClient, org: Org, url: str, events: list[str]
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": events}, headers=org.auth("manager")
    )
    assert response.status_code == 201, response.text
    return response.json()


def verified(endpoint: dict, requests: list) -> list[dict[str, Any]]:
    verifier = Webhook(endpoint["secret"])
    return [verifier.verify(r.body, r.headers) for r in requests]


def by_type(payloads: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        grouped.setdefault(payload["type"], []).append(payload["data"])
    return grouped


async def test_every_forum_change_is_a_signed_event(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum, receiver: Receiver
) -> None:
    everything = await register(client, forum.org, receiver.url("/forum"), FORUM_EVENTS)
    posts_only = await register(client, forum.org, receiver.url("/posts"), ["post.created"])
    await register(client, other_forum.org, receiver.url("/rival"), ["*"])
    cid = forum.community_id
    ada, bob = forum.member("ada", "Ada"), forum.member("bob", "Bob")

    thread = await start_thread(client, forum, ada, title="Crash on launch")
    answer = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "Update drivers"}, headers=bob
    )
    answer_id = answer.json()["id"]
    edited = await client.patch(
        f"/v1/posts/{answer_id}", json={"body": "Update your GPU drivers"}, headers=bob
    )
    assert edited.status_code == 200
    assert (await client.post(f"/v1/posts/{answer_id}/accept", headers=ada)).status_code == 200
    pinned = await client.patch(
        f"/v1/threads/{thread['id']}", json={"pinned": True}, headers=forum.staff()
    )
    assert pinned.status_code == 200
    oops = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "wrong thread"}, headers=bob
    )
    assert (await client.delete(f"/v1/posts/{oops.json()['id']}", headers=bob)).status_code == 204
    # A known member using a new token (new name) does not join again.
    await client.get(f"/v1/communities/{cid}/threads", headers=forum.member("ada", "Ada L."))

    await receiver.wait_for(10, "/forum")
    await asyncio.sleep(0.3)  # anything extra would have arrived by now
    received = receiver.received("/forum")
    payloads = verified(everything, received)
    assert len({r.headers["webhook-id"] for r in received}) == len(received)
    for payload in payloads:
        assert payload["timestamp"].endswith("Z")
        assert payload["data"]["community_id"] == cid
    events = by_type(payloads)
    assert sorted((t, len(d)) for t, d in events.items()) == [
        ("member.joined", 2),
        ("post.accepted", 1),
        ("post.created", 3),
        ("post.deleted", 1),
        ("post.edited", 1),
        ("thread.created", 1),
        ("thread.updated", 1),
    ]

    joined = {m["external_id"]: m for m in events["member.joined"]}
    assert set(joined) == {"ada", "bob"}
    assert joined["ada"]["id"] == thread["author"]["id"]
    assert joined["ada"]["display_name"] == "Ada" and joined["ada"]["status"] == "active"
    assert joined["bob"]["id"] == answer.json()["author"]["id"]

    (created,) = events["thread.created"]
    assert created["id"] == thread["id"] and created["title"] == "Crash on launch"
    assert created["kind"] == "question" and created["category_id"] == forum.category_id
    assert created["first_post_id"] == thread["first_post_id"]
    assert created["author"] == {
        "id": thread["author"]["id"],
        "display_name": "Ada",
        "is_staff": False,
    }

    posts = {p["id"]: p for p in events["post.created"]}
    assert set(posts) == {thread["first_post_id"], answer_id, oops.json()["id"]}
    assert all(p["thread_id"] == thread["id"] for p in posts.values())
    assert posts[answer_id]["body"] == "Update drivers"
    assert posts[answer_id]["body_html"] == "<p>Update drivers</p>\n"
    assert posts[answer_id]["author"]["display_name"] == "Bob"

    (edit,) = events["post.edited"]
    assert edit["id"] == answer_id and edit["body"] == "Update your GPU drivers"
    assert edit["edited_at"] is not None
    (accepted,) = events["post.accepted"]
    assert accepted["id"] == answer_id and accepted["is_answer"] is True
    assert accepted["thread_id"] == thread["id"]
    (updated,) = events["thread.updated"]
    assert updated["id"] == thread["id"] and updated["pinned"] is True
    (deleted,) = events["post.deleted"]
    assert deleted["id"] == oops.json()["id"] and deleted["status"] == "removed"

    # A narrower subscription gets only what it asked for; another org gets nothing.
    only = verified(posts_only, await receiver.wait_for(3, "/posts"))
    assert sorted(p["data"]["id"] for p in only) == sorted(posts)
    assert {p["type"] for p in only} == {"post.created"}
    assert receiver.received("/rival") == []


async def test_staff_posts_and_erasure_are_events_too(
    client: httpx.AsyncClient, forum: Forum, receiver: Receiver
) -> None:
    endpoint = await register(client, forum.org, receiver.url("/hook"), FORUM_EVENTS)
    thread = await start_thread(client, forum, forum.member("ada", "Ada"))
    official = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "On it!"}, headers=forum.staff()
    )
    assert official.status_code == 201
    erased = await client.delete(
        f"/v1/members/{thread['author']['id']}", headers=forum.staff("owner")
    )
    assert erased.status_code == 204
    payloads = verified(endpoint, await receiver.wait_for(5, "/hook"))
    events = by_type(payloads)
    # Events about Ada still waiting for delivery when she was erased go out redacted.
    (staff_post,) = [p for p in events["post.created"] if p.get("id") == official.json()["id"]]
    assert staff_post["is_official"] is True and staff_post["author"]["is_staff"] is True
    assert staff_post["author"]["display_name"] == "moderator key"
    (gone,) = events["member.erased"]
    assert gone == {
        "id": thread["author"]["id"],
        "community_id": forum.community_id,
        "posts_deleted": False,
    }
    # The erased member's name is in no event sent after the erasure.
    assert "Ada" not in json.dumps(gone)
