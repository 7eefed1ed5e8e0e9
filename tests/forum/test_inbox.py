"""The staff inbox over HTTP: which threads land in it, the documented priority order, what
takes them out, assignment, roles and tenancy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from app.forum.models import InboxItem, Thread
from app.settings import Settings
from tests.forum.conftest import Forum, start_thread

pytestmark = pytest.mark.both_backends

ANGRY = "This is absolutely horrible, I hate this broken garbage, everything is terrible!"


async def inbox(
    client: httpx.AsyncClient, forum: Forum, headers: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/communities/{forum.community_id}/inbox",
        params=params,
        headers=headers or forum.staff("moderator"),
    )


async def titles(client: httpx.AsyncClient, forum: Forum, **params: Any) -> list[str]:
    response = await inbox(client, forum, **params)
    assert response.status_code == 200, response.text
    return [item["thread"]["title"] for item in response.json()["items"]]


async def ask(
    client: httpx.AsyncClient, forum: Forum, title: str, body: str = "How does it work?", **kw: Any
) -> dict[str, Any]:
    sub = kw.pop("sub", f"asker-{title}")
    return await start_thread(
        client, forum, forum.member(sub, "Asker"), title=title, body=body, **kw
    )


async def item_for(client: httpx.AsyncClient, forum: Forum, thread: dict, **params: Any) -> dict:
    items = (await inbox(client, forum, **params)).json()["items"]
    (item,) = [i for i in items if i["thread"]["id"] == thread["id"]]
    return item


async def age(settings: Settings, thread_id: str, by: timedelta) -> None:
    """Make a question older, as if it had been asked `by` earlier (asked_at and rank)."""
    engine = create_async_engine(settings.database_url)
    tid = uuid.UUID(thread_id)
    try:
        async with engine.begin() as conn:
            created = await conn.scalar(select(Thread.created_at).where(Thread.id == tid))
            rank = await conn.scalar(select(InboxItem.rank_at).where(InboxItem.thread_id == tid))
            await conn.execute(
                update(Thread).where(Thread.id == tid).values(created_at=created - by)
            )
            await conn.execute(
                update(InboxItem).where(InboxItem.thread_id == tid).values(rank_at=rank - by)
            )
    finally:
        await engine.dispose()


async def test_only_member_questions_land_in_the_inbox(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    question = await ask(client, forum, "Member question")
    await ask(client, forum, "Member discussion", kind="discussion")
    await ask(client, forum, "Member bug report", kind="bug")
    await start_thread(client, forum, forum.staff(), title="Staff question", kind="question")
    response = await inbox(client, forum)
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item["thread"]["id"] == question["id"]
    assert item["status"] == "open" and item["assignee_key_id"] is None
    assert item["community_id"] == forum.community_id
    assert item["sentiment"] == {"score": 0.0, "label": "neutral"}
    assert item["waiting_since"] == question["created_at"]
    assert item["resolved_at"] is None


async def test_order_is_age_then_negativity_then_reactions(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await ask(client, forum, "Oldest neutral")
    await ask(client, forum, "Angry", body=ANGRY)
    liked = await ask(client, forum, "Liked")
    await ask(client, forum, "Happy", body="Thanks, this game is great! How do I trade?")
    await ask(client, forum, "Newest neutral")
    # "Me too" reactions on the opening post move a question up (an hour each).
    for n in range(2):
        reacted = await client.put(
            f"/v1/posts/{liked['first_post_id']}/reactions/thumbsup",
            headers=forum.member(f"fan-{n}", "Fan"),
        )
        assert reacted.status_code == 200
    assert await titles(client, forum) == [
        "Angry",  # very negative: as if it had waited most of a day longer
        "Liked",  # two reactions: two hours ahead
        "Oldest neutral",
        "Happy",  # positive counts as neutral, not as urgent
        "Newest neutral",
    ]
    items = (await inbox(client, forum)).json()["items"]
    assert items[0]["sentiment"]["label"] == "negative"
    ranks = [i["rank_at"] for i in items]
    assert ranks == sorted(ranks)


async def test_a_day_of_waiting_outweighs_any_negativity(
    client: httpx.AsyncClient, forum: Forum, settings: Settings
) -> None:
    two_days = await ask(client, forum, "Two days old")
    hour_old = await ask(client, forum, "An hour old")
    await ask(client, forum, "Angry now", body=ANGRY)
    await age(settings, two_days["id"], timedelta(days=2))
    await age(settings, hour_old["id"], timedelta(hours=1))
    assert await titles(client, forum) == ["Two days old", "Angry now", "An hour old"]

    # Three reactions (three hours) take the new question past the hour-old one... but a
    # reaction moves only its own question, recomputed from when it was asked.
    fresh = await ask(client, forum, "Fresh")
    for n in range(3):
        await client.put(
            f"/v1/posts/{fresh['first_post_id']}/reactions/heart",
            headers=forum.member(f"fan-{n}", "Fan"),
        )
    assert await titles(client, forum) == ["Two days old", "Angry now", "Fresh", "An hour old"]
    # Taking reactions back moves it back down.
    for n in range(3):
        await client.delete(
            f"/v1/posts/{fresh['first_post_id']}/reactions/heart",
            headers=forum.member(f"fan-{n}", "Fan"),
        )
    assert await titles(client, forum) == ["Two days old", "Angry now", "An hour old", "Fresh"]


async def test_editing_the_question_reranks_it(client: httpx.AsyncClient, forum: Forum) -> None:
    await ask(client, forum, "First")
    second = await ask(client, forum, "Second", sub="editor")
    assert await titles(client, forum) == ["First", "Second"]
    edited = await client.patch(
        f"/v1/posts/{second['first_post_id']}",
        json={"body": ANGRY},
        headers=forum.member("editor", "Asker"),
    )
    assert edited.status_code == 200
    assert await titles(client, forum) == ["Second", "First"]
    assert (await item_for(client, forum, second))["sentiment"]["label"] == "negative"


async def test_a_staff_reply_answers_it_and_a_member_reply_does_not(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    question = await ask(client, forum, "Need help")
    posts = f"/v1/threads/{question['id']}/posts"
    await client.post(posts, json={"body": "Same here"}, headers=forum.member("other"))
    assert await titles(client, forum) == ["Need help"]
    assert await titles(client, forum, status="answered") == []

    staff = await client.post(posts, json={"body": "Fixed in 1.2"}, headers=forum.staff())
    assert staff.status_code == 201 and staff.json()["is_official"] is True
    assert await titles(client, forum) == []
    answered = await item_for(client, forum, question, status="answered")
    assert answered["status"] == "answered" and answered["resolved_at"] is not None
    # Later member replies do not reopen it.
    await client.post(posts, json={"body": "Still broken?"}, headers=forum.member("asker-x"))
    assert await titles(client, forum) == []


async def test_an_accepted_answer_answers_it(client: httpx.AsyncClient, forum: Forum) -> None:
    asker = forum.member("asker", "Asker")
    question = await start_thread(client, forum, asker, title="Need a hand")
    reply = await client.post(
        f"/v1/threads/{question['id']}/posts",
        json={"body": "Restart the launcher"},
        headers=forum.member("helper", "Helper"),
    )
    assert await titles(client, forum) == ["Need a hand"]
    accepted = await client.post(f"/v1/posts/{reply.json()['id']}/accept", headers=asker)
    assert accepted.status_code == 200 and accepted.json()["is_answer"] is True
    assert await titles(client, forum) == []
    assert await titles(client, forum, status="answered") == ["Need a hand"]


async def test_a_removed_question_leaves_the_inbox(client: httpx.AsyncClient, forum: Forum) -> None:
    gone = await ask(client, forum, "Gone", sub="deleter")
    await ask(client, forum, "Stays")
    deleted = await client.delete(
        f"/v1/posts/{gone['first_post_id']}", headers=forum.member("deleter", "Asker")
    )
    assert deleted.status_code == 204
    assert await titles(client, forum) == ["Stays"]
    for status in ("answered", "dismissed"):
        assert await titles(client, forum, status=status) == []


async def test_staff_dismiss_reopen_and_assign(client: httpx.AsyncClient, forum: Forum) -> None:
    first = await ask(client, forum, "First")
    second = await ask(client, forum, "Second")
    item = await item_for(client, forum, first)
    path = f"/v1/inbox/{item['id']}"

    dismissed = await client.patch(path, json={"status": "dismissed"}, headers=forum.staff())
    assert dismissed.status_code == 200
    assert dismissed.json()["status"] == "dismissed" and dismissed.json()["resolved_at"]
    assert await titles(client, forum) == ["Second"]
    assert await titles(client, forum, status="dismissed") == ["First"]
    reopened = await client.patch(path, json={"status": "open"}, headers=forum.staff())
    assert reopened.json()["status"] == "open" and reopened.json()["resolved_at"] is None
    assert await titles(client, forum) == ["First", "Second"]

    manager_id = forum.org.key_ids["manager"]
    moderator_id = forum.org.key_ids["moderator"]
    assigned = await client.patch(path, json={"assignee_key_id": manager_id}, headers=forum.staff())
    assert assigned.status_code == 200 and assigned.json()["assignee_key_id"] == manager_id
    second_path = f"/v1/inbox/{(await item_for(client, forum, second))['id']}"
    # A moderator takes an item without knowing its own key id.
    mine = await client.patch(second_path, json={"assignee_key_id": "me"}, headers=forum.staff())
    assert mine.status_code == 200
    assert mine.json()["assignee_key_id"] == moderator_id

    assert await titles(client, forum, assignee=manager_id) == ["First"]
    assert await titles(client, forum, assignee="me") == ["Second"]  # the moderator's own
    as_manager = await inbox(client, forum, forum.staff("manager"), assignee="me")
    assert [i["thread"]["title"] for i in as_manager.json()["items"]] == ["First"]
    assert await titles(client, forum, assignee="none") == []
    unassigned = await client.patch(path, json={"assignee_key_id": None}, headers=forum.staff())
    assert unassigned.json()["assignee_key_id"] is None
    assert await titles(client, forum, assignee="none") == ["First"]
    bad = await inbox(client, forum, assignee="someone")
    assert bad.status_code == 422


async def test_assignee_must_be_an_active_key_of_the_org(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    await ask(client, forum, "Question")
    (item,) = (await inbox(client, forum)).json()["items"]
    path = f"/v1/inbox/{item['id']}"
    revoked = await client.delete(
        f"/v1/api-keys/{forum.org.key_ids['viewer']}", headers=forum.staff("owner")
    )
    assert revoked.status_code == 204
    for key_id in (
        other_forum.org.key_ids["moderator"],
        forum.org.key_ids["viewer"],
        str(uuid.uuid4()),
    ):
        refused = await client.patch(path, json={"assignee_key_id": key_id}, headers=forum.staff())
        # Another org's key, a revoked one and none at all look the same: not found.
        assert refused.status_code == 404, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "assignee_key_id"]
    assert (await item_for(client, forum, {"id": item["thread"]["id"]}))["assignee_key_id"] is None
    bad_status = await client.patch(path, json={"status": "closed"}, headers=forum.staff())
    assert bad_status.status_code == 422


async def test_inbox_roles_and_tenancy(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    await ask(client, forum, "Question")
    (item,) = (await inbox(client, forum)).json()["items"]
    path = f"/v1/inbox/{item['id']}"
    member = forum.member("asker-Question", "Asker")
    for headers in (forum.staff("viewer"), forum.staff("analyst"), member):
        assert (await inbox(client, forum, headers)).status_code == 403
        patched = await client.patch(path, json={"status": "dismissed"}, headers=headers)
        assert patched.status_code == 403
    rival = other_forum.staff("owner")
    assert (await inbox(client, forum, rival)).status_code == 404
    stolen = await client.patch(path, json={"status": "dismissed"}, headers=rival)
    assert stolen.status_code == 404
    missing = await client.patch(
        f"/v1/inbox/{uuid.uuid4()}", json={"status": "open"}, headers=forum.staff()
    )
    assert missing.status_code == 404
    assert (await inbox(client, other_forum, rival)).json()["items"] == []
    assert await titles(client, forum) == ["Question"]  # nothing above changed it
    for role in ("moderator", "manager", "owner"):
        assert (await inbox(client, forum, forum.staff(role))).status_code == 200


async def test_inbox_pages_in_priority_order(client: httpx.AsyncClient, forum: Forum) -> None:
    for n in range(5):
        await ask(client, forum, f"Question {n}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await inbox(client, forum, **params)).json()
        seen += [i["thread"]["title"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Question {n}" for n in range(5)]
