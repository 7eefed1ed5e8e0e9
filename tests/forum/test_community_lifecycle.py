"""The forum inside a community's life: deleting a community takes its forum with it."""

from __future__ import annotations

import httpx
import pytest

from tests.forum.conftest import Forum, start_thread

pytestmark = pytest.mark.both_backends


async def test_deleting_a_community_deletes_its_forum(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member())
    reply = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "On it."}, headers=forum.staff()
    )
    assert reply.status_code == 201
    await client.put(f"/v1/posts/{reply.json()['id']}/reactions/thumbsup", headers=forum.member())

    deleted = await client.delete(
        f"/v1/communities/{forum.community_id}", headers=forum.staff("owner")
    )
    assert deleted.status_code == 204, deleted.text

    gone = await client.get(f"/v1/threads/{thread['id']}", headers=forum.staff("viewer"))
    assert gone.status_code == 404
    # The member's token names a community that no longer exists: the thread is gone (404)
    # while the token's check is cached, and the token itself is refused (401) after that.
    refused = await client.get(f"/v1/threads/{thread['id']}", headers=forum.member())
    assert refused.status_code in (401, 404)
    fresh = await client.get(f"/v1/threads/{thread['id']}", headers=forum.member("someone-new"))
    assert fresh.status_code == 401
