"""The audit log of the forum and the schedule: staff writes leave entries (ids and states,
never what anyone wrote); a member's own writes leave none."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.core.auth import Actor, Role
from app.forum import threads
from tests.conftest import Org
from tests.forum.conftest import make_forum, start_thread
from tests.schedule.conftest import act, draft, make_studio

TITLE, BODY, REPLY = "Secret title of mine", "My own words, opening.", "My own words, replying."


async def entries(client: httpx.AsyncClient, org: Org, target_id: str = "") -> list[dict[str, Any]]:
    query = f"?target_id={target_id}&limit=100" if target_id else "?limit=100"
    response = await client.get(f"/v1/audit-log{query}", headers=org.auth("manager"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def actions(found: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in reversed(found)]  # oldest first


@pytest.mark.both_backends
async def test_staff_forum_writes_are_audited_member_writes_are_not(
    app: Any, client: httpx.AsyncClient, org: Org
) -> None:
    forum = await make_forum(client, org)
    ada = forum.member("p1", "Ada")
    thread = await start_thread(client, forum, ada, title=TITLE, body=BODY)
    reply = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": REPLY}, headers=ada
    )
    kept = await client.post(f"/v1/threads/{thread['id']}/posts", json={"body": REPLY}, headers=ada)
    assert reply.status_code == kept.status_code == 201, reply.text
    assert await entries(client, org, thread["id"]) == []  # a member's writes: no entry

    pinned = await client.patch(
        f"/v1/threads/{thread['id']}", json={"pinned": True}, headers=forum.staff()
    )
    assert pinned.status_code == 200, pinned.text
    # Hiding a thread has no route of its own yet (moderation decides it): the service call.
    moderator = Actor(
        org_id=uuid.UUID(org.id),
        role=Role.moderator,
        key_id=uuid.UUID(org.key_ids["moderator"]),
        name="moderator key",
    )
    async with app.state.runtime.unit_of_work() as session:
        await threads.set_thread_status(session, moderator, uuid.UUID(thread["id"]), "hidden")
    deleted = await client.delete(f"/v1/posts/{reply.json()['id']}", headers=forum.staff())
    assert deleted.status_code == 204, deleted.text

    on_thread = await entries(client, org, thread["id"])
    assert actions(on_thread) == ["thread.updated", "thread.hidden"]
    assert on_thread[1]["before"] == {"pinned": False}
    assert on_thread[1]["after"] == {"pinned": True}
    assert on_thread[0]["before"] == {"status": "visible"}
    assert on_thread[0]["after"] == {"status": "hidden"}
    on_post = await entries(client, org, reply.json()["id"])
    assert actions(on_post) == ["post.deleted"]
    assert on_post[0]["before"] == {"status": "visible"}
    for entry in on_thread + on_post:
        assert entry["actor"] == {
            "type": "key",
            "id": org.key_ids["moderator"],
            "name": "moderator key",
        }
        assert entry["community_id"] == forum.community_id
        assert entry["target_type"] in ("thread", "post")
    assert await entries(client, org, kept.json()["id"]) == []
    everything = await entries(client, org)
    assert "member" not in {e["actor"]["type"] for e in everything}
    dumped = json.dumps(everything)
    for text in (TITLE, BODY, REPLY, "Ada"):
        assert text not in dumped


@pytest.mark.both_backends
async def test_content_transitions_are_audited(
    app: Any, client: httpx.AsyncClient, org: Org
) -> None:
    studio = await make_studio(client, org, slug="studio", kinds=("launcher_feed",))
    item = await draft(client, studio)
    for action, role in (("submit", "moderator"), ("approve", "manager"), ("publish", "manager")):
        response = await act(client, studio, item, action, role)
        assert response.status_code in (200, 202), (action, response.text)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    other = await draft(client, studio)
    assert (await act(client, studio, other, "schedule", publish_at=later)).status_code == 200
    assert (await act(client, studio, other, "cancel")).status_code == 200

    published = await entries(client, org, item["id"])
    assert actions(published) == [
        "content.created",
        "content.submitted",
        "content.approved",
        "content.published",
    ]
    assert [e["after"]["status"] for e in reversed(published[:3])] == [
        "in_review",
        "approved",
        "publishing",
    ]
    assert published[-1]["after"]["version"] == 1 and published[-1]["before"] is None
    assert [e["actor"]["id"] for e in reversed(published)] == [
        org.key_ids[role] for role in ("moderator", "moderator", "manager", "manager")
    ]
    cancelled = await entries(client, org, other["id"])
    assert actions(cancelled) == ["content.created", "content.scheduled", "content.cancelled"]
    scheduled = cancelled[1]
    assert scheduled["before"]["status"] == "draft"
    assert scheduled["after"]["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["after"]["publish_at"]) == datetime.fromisoformat(later)
    assert cancelled[0]["before"] == {"status": "scheduled"}
    assert cancelled[0]["after"] == {"status": "approved"}
    for entry in published + cancelled:
        assert entry["actor"]["type"] == "key"
        assert entry["target_type"] == "content"
        assert entry["community_id"] == studio.community_id
    dumped = json.dumps(published + cancelled)
    assert item["title"] not in dumped and item["body"] not in dumped
