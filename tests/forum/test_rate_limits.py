"""Rate limits on member writes over HTTP, with tiny budgets: per member for posts and for
reactions, per client address across members; staff keys are never limited. Once with the
in-memory limiter and once on Redis (what several API replicas share)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from redis.asyncio import Redis

from app.settings import Settings
from tests.conftest import REDIS_URL, make_org, make_settings, redis_or_skip, running_app
from tests.forum.conftest import Forum, make_forum, start_thread

SMALL = {
    "rate_limit_member_posts": "2/minute",
    "rate_limit_member_reactions": "3/minute",
    "rate_limit_ip_writes": "100/minute",
}


@asynccontextmanager
async def limited(settings: Settings, **overrides: Any) -> AsyncIterator[Any]:
    """An app with small limits; yields a function giving a client from a given address."""
    limits = make_settings(settings.database_url, **(SMALL | overrides))
    async with running_app(limits) as app:
        clients: list[httpx.AsyncClient] = []

        def client_from(ip: str = "203.0.113.1") -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 4321))
            clients.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
            return clients[-1]

        try:
            yield client_from
        finally:
            for c in clients:
                await c.aclose()


async def setup_forum(client: httpx.AsyncClient) -> Forum:
    return await make_forum(client, await make_org(client, "Starfall Studios"))


async def reply(
    client: httpx.AsyncClient, thread: dict, headers: dict[str, str], body: str = "me too"
) -> httpx.Response:
    return await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": body}, headers=headers
    )


def assert_limited(response: httpx.Response, what: str) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and 0 < int(retry_after) <= 60
    body = response.json()
    assert body["status"] == 429 and body["retry_after"] == int(retry_after)
    assert what in body["detail"]
    return int(retry_after)


async def check_member_posts(client: httpx.AsyncClient, forum: Forum) -> None:
    """Two posts a minute per member: the thread's opening post counts as one."""
    ada = forum.member("ada", "Ada")
    thread = await start_thread(client, forum, ada)
    assert (await reply(client, thread, ada, "second")).status_code == 201
    refused = await reply(client, thread, ada, "third")
    assert_limited(refused, "member posts")
    also_refused = await client.post(
        f"/v1/communities/{forum.community_id}/threads",
        json={"category_id": forum.category_id, "title": "Another one", "body": "x"},
        headers=ada,
    )
    assert_limited(also_refused, "member posts")
    # Nothing refused was written.
    posts = await client.get(f"/v1/threads/{thread['id']}/posts", headers=forum.staff("viewer"))
    assert [p["body"] for p in posts.json()["items"]] == ["I can't find the button.", "second"]
    listed = await client.get(
        f"/v1/communities/{forum.community_id}/threads", headers=forum.staff("viewer")
    )
    assert len(listed.json()["items"]) == 1
    # Another member has a budget of their own; reading is never limited.
    bob = forum.member("bob", "Bob")
    assert (await reply(client, thread, bob, "bob one")).status_code == 201
    assert (await reply(client, thread, bob, "bob two")).status_code == 201
    assert_limited(await reply(client, thread, bob, "bob three"), "member posts")
    for _ in range(5):
        assert (await client.get(f"/v1/threads/{thread['id']}", headers=ada)).status_code == 200


async def test_a_member_over_the_post_budget_gets_429_with_retry_after(
    settings: Settings,
) -> None:
    async with limited(settings) as client_from:
        client = client_from()
        await check_member_posts(client, await setup_forum(client))


async def test_reactions_have_a_budget_of_their_own(settings: Settings) -> None:
    async with limited(settings) as client_from:
        client = client_from()
        forum = await setup_forum(client)
        ada = forum.member("ada", "Ada")
        thread = await start_thread(client, forum, ada)
        assert (await reply(client, thread, ada, "second")).status_code == 201
        assert_limited(await reply(client, thread, ada), "member posts")
        post = f"/v1/posts/{thread['first_post_id']}/reactions"
        # Out of posts, still three reactions (a take-back counts too).
        assert (await client.put(f"{post}/heart", headers=ada)).status_code == 200
        assert (await client.put(f"{post}/thumbsup", headers=ada)).status_code == 200
        assert (await client.delete(f"{post}/heart", headers=ada)).status_code == 204
        assert_limited(await client.put(f"{post}/tada", headers=ada), "member reactions")
        current = await client.get(f"/v1/posts/{thread['first_post_id']}", headers=ada)
        assert current.json()["reactions"] == {"\N{THUMBS UP SIGN}": 1}
        # Someone else's reactions and posts are untouched by Ada's.
        bob = forum.member("bob", "Bob")
        assert (await client.put(f"{post}/tada", headers=bob)).status_code == 200
        assert (await reply(client, thread, bob)).status_code == 201


async def test_one_address_has_a_budget_across_members(settings: Settings) -> None:
    async with limited(settings, rate_limit_ip_writes="3/minute") as client_from:
        crowd = client_from("198.51.100.7")
        forum = await setup_forum(crowd)
        thread = await start_thread(crowd, forum, forum.member("m0", "M0"))
        assert (await reply(crowd, thread, forum.member("m1", "M1"))).status_code == 201
        reacted = await crowd.put(
            f"/v1/posts/{thread['first_post_id']}/reactions/heart",
            headers=forum.member("m2", "M2"),
        )
        assert reacted.status_code == 200
        # Three writes from this address, each by a different member: the fourth is refused
        # although that member has written nothing yet.
        assert_limited(await reply(crowd, thread, forum.member("m3", "M3")), "ip writes")
        # The same member from another address is fine.
        elsewhere = client_from("192.0.2.44")
        assert (await reply(elsewhere, thread, forum.member("m3", "M3"))).status_code == 201
        posts = await crowd.get(f"/v1/threads/{thread['id']}/posts", headers=forum.staff())
        assert len(posts.json()["items"]) == 3


async def test_staff_keys_are_never_limited(settings: Settings) -> None:
    async with limited(settings, rate_limit_ip_writes="3/minute") as client_from:
        client = client_from()
        forum = await setup_forum(client)
        thread = await start_thread(client, forum, forum.staff(), title="Maintenance tonight")
        for n in range(6):
            answered = await reply(client, thread, forum.staff(), f"update {n}")
            assert answered.status_code == 201, answered.text
            reacted = await client.put(
                f"/v1/posts/{answered.json()['id']}/reactions/heart", headers=forum.staff()
            )
            assert reacted.status_code == 200
        # Staff writes do not use up the address's budget for members either.
        assert (await reply(client, thread, forum.member("ada", "Ada"))).status_code == 201


# --- Redis -----------------------------------------------------------------------------------


async def delete_keys(pattern: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=pattern, count=500)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def test_limits_hold_on_redis(settings: Settings) -> None:
    """With Redis, the budget is in Redis (what every replica shares) under `hearth:rl`."""
    await redis_or_skip()
    queue = f"hearth-test:{uuid.uuid4().hex[:8]}"
    # Jobs (webhook sweeps) are only enqueued here: no worker runs, and none is needed.
    on_redis = {"redis_url": REDIS_URL, "queue_name": queue}
    try:
        async with limited(settings, **on_redis) as client_from:
            client = client_from(f"10.{uuid.uuid4().int % 250}.0.9")
            forum = await setup_forum(client)
            await check_member_posts(client, forum)
            redis = Redis.from_url(REDIS_URL)
            try:
                keys = [k.decode() async for k in redis.scan_iter(match="hearth:rl*")]
            finally:
                await redis.aclose()
            assert any("member_posts" in key for key in keys), keys

        # A second app (another replica) shares the budget: Ada is still refused there.
        async with limited(settings, **on_redis) as client_from:
            client = client_from()
            ada = forum.member("ada", "Ada")
            listed = await client.get(f"/v1/communities/{forum.community_id}/threads", headers=ada)
            (thread,) = listed.json()["items"]
            assert_limited(await reply(client, thread, ada, "from replica two"), "member posts")
            fresh = forum.member("carol", "Carol")
            assert (await reply(client, thread, fresh, "hello")).status_code == 201
    finally:
        await delete_keys("hearth:rl*")
        await delete_keys(f"{queue}*")
