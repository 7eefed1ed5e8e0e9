"""The member activity `flood` and `new_member` rules read, on both databases."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.forum.models import Member
from app.moderation.activity import member_activity
from tests.conftest import Org
from tests.forum.conftest import Forum, make_forum, start_thread

pytestmark = pytest.mark.both_backends


@pytest.fixture
async def forum(client: httpx.AsyncClient, org: Org) -> Forum:
    return await make_forum(client, org)


async def test_a_members_age_posts_and_recent_posts(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    ada = forum.member("player-1")
    thread = await start_thread(client, forum, ada)  # the opening post counts
    for n in range(2):
        reply = await client.post(
            f"/v1/threads/{thread['id']}/posts", json={"body": f"more {n}"}, headers=ada
        )
        assert reply.status_code == 201, reply.text
    removed = await client.delete(f"/v1/posts/{reply.json()['id']}", headers=ada)
    assert removed.status_code == 204, removed.text
    await start_thread(client, forum, forum.member("player-2", "Bo"))
    async with app.state.runtime.db.session() as session:
        ada_id = await session.scalar(select(Member.id).where(Member.external_id == "player-1"))
        activity = await member_activity(session, ada_id, [60, 3600, 60])
        nobody = await member_activity(session, uuid.uuid4(), [60])
    assert activity is not None
    assert activity.visible_posts == 2  # three posts, one deleted; Bo's are not Ada's
    assert activity.posts_within == {60: 3, 3600: 3}
    assert 0 <= activity.age_hours < 0.1
    assert nobody is None
