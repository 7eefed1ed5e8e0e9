"""Conduct over HTTP: muted, suspended and banned members cannot write (and are told why and
until when); a lapsed status is no status; locked threads take no member posts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from app.forum.models import Member
from app.settings import Settings
from tests.forum.conftest import Forum, start_thread

pytestmark = pytest.mark.both_backends

ADA, BOB = ("p1", "Ada"), ("p2", "Bob")


async def set_standing(
    settings: Settings,
    forum: Forum,
    sub: str,
    status: str,
    until: datetime | None = None,
    reason: str | None = None,
) -> None:
    """What sanctions (a later issue) will do: change a member's status in the database."""
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                update(Member)
                .where(
                    Member.community_id == uuid.UUID(forum.community_id),
                    Member.external_id == sub,
                )
                .values(status=status, status_until=until, status_reason=reason)
            )
            assert result.rowcount == 1
    finally:
        await engine.dispose()


def zulu(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def write_attempts(
    client: httpx.AsyncClient, forum: Forum, setup: dict, headers: dict
) -> dict[str, httpx.Response]:
    """Every kind of member write, against the content `setup` made."""
    thread, own, other = setup["thread"], setup["own"], setup["other"]
    return {
        "create thread": await client.post(
            f"/v1/communities/{forum.community_id}/threads",
            json={"category_id": forum.category_id, "title": "Another one", "body": "Hello"},
            headers=headers,
        ),
        "create post": await client.post(
            f"/v1/threads/{thread['id']}/posts", json={"body": "Reply"}, headers=headers
        ),
        "edit": await client.patch(
            f"/v1/posts/{own['id']}", json={"body": "Edited"}, headers=headers
        ),
        "delete": await client.delete(f"/v1/posts/{own['id']}", headers=headers),
        "react": await client.put(f"/v1/posts/{other['id']}/reactions/heart", headers=headers),
        "unreact": await client.delete(
            f"/v1/posts/{other['id']}/reactions/thumbsup", headers=headers
        ),
        "accept": await client.post(f"/v1/posts/{other['id']}/accept", headers=headers),
    }


@pytest.fixture
async def setup(client: httpx.AsyncClient, forum: Forum) -> dict:
    """Ada's question, her own reply, and Bob's reply that she reacted to."""
    ada, bob = forum.member(*ADA), forum.member(*BOB)
    thread = await start_thread(client, forum, ada, kind="question")
    own = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "More details"}, headers=ada
    )
    other = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "Try relogging"}, headers=bob
    )
    assert own.status_code == other.status_code == 201
    reacted = await client.put(f"/v1/posts/{other.json()['id']}/reactions/thumbsup", headers=ada)
    assert reacted.status_code == 200
    return {"thread": thread, "own": own.json(), "other": other.json()}


async def snapshot(client: httpx.AsyncClient, forum: Forum, setup: dict) -> dict:
    staff = forum.staff("viewer")
    threads = await client.get(f"/v1/communities/{forum.community_id}/threads", headers=staff)
    posts = await client.get(f"/v1/threads/{setup['thread']['id']}/posts", headers=staff)
    return {"threads": threads.json(), "posts": posts.json()}


@pytest.mark.parametrize(
    ("status", "days", "wording"),
    [
        ("muted", 1, "You are muted"),
        ("suspended", 7, "suspended"),
        ("banned", None, "You are banned"),
    ],
)
async def test_a_member_under_a_sanction_cannot_write(
    client: httpx.AsyncClient,
    settings: Settings,
    forum: Forum,
    setup: dict,
    status: str,
    days: int | None,
    wording: str,
) -> None:
    until = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0) if days else None
    await set_standing(settings, forum, ADA[0], status, until, "Spamming links")
    before = await snapshot(client, forum, setup)

    attempts = await write_attempts(client, forum, setup, forum.member(*ADA))
    for action, response in attempts.items():
        assert response.status_code == 403, (action, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["member_status"] == status, action
        assert problem["status_reason"] == "Spamming links"
        assert wording in problem["detail"] and "Spamming links" in problem["detail"]
        if until is None:
            assert problem["status_until"] is None and "until" not in problem["detail"]
        else:
            assert problem["status_until"] == zulu(until)
            assert f"until {zulu(until)}" in problem["detail"], problem["detail"]

    assert await snapshot(client, forum, setup) == before
    # Reading is still allowed.
    thread = await client.get(f"/v1/threads/{setup['thread']['id']}", headers=forum.member(*ADA))
    assert thread.status_code == 200
    # Others are not affected.
    bob = await client.post(
        f"/v1/threads/{setup['thread']['id']}/posts",
        json={"body": "Hi"},
        headers=forum.member(*BOB),
    )
    assert bob.status_code == 201


async def test_a_lapsed_status_means_active_again(
    client: httpx.AsyncClient, settings: Settings, forum: Forum, setup: dict
) -> None:
    ended = datetime.now(UTC) - timedelta(minutes=5)
    await set_standing(settings, forum, ADA[0], "suspended", ended, "Cooling off")
    attempts = await write_attempts(client, forum, setup, forum.member(*ADA))
    expected = {
        "create thread": 201,
        "create post": 201,
        "edit": 200,
        "delete": 204,
        "react": 200,
        "unreact": 204,
        "accept": 200,
    }
    assert {action: r.status_code for action, r in attempts.items()} == expected
    other = await client.get(f"/v1/posts/{setup['other']['id']}", headers=forum.member(*BOB))
    assert other.json()["reactions"] == {"\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}": 1}
    assert other.json()["is_answer"] is True


async def test_lifting_a_status_restores_writing(
    client: httpx.AsyncClient, settings: Settings, forum: Forum, setup: dict
) -> None:
    path = f"/v1/threads/{setup['thread']['id']}/posts"
    await set_standing(settings, forum, ADA[0], "muted")
    muted = await client.post(path, json={"body": "Let me talk"}, headers=forum.member(*ADA))
    assert muted.status_code == 403
    assert muted.json()["member_status"] == "muted" and muted.json()["status_until"] is None
    await set_standing(settings, forum, ADA[0], "active")
    again = await client.post(path, json={"body": "Thanks"}, headers=forum.member(*ADA))
    assert again.status_code == 201


async def test_a_sanctioned_member_can_still_be_answered_by_staff(
    client: httpx.AsyncClient, settings: Settings, forum: Forum, setup: dict
) -> None:
    await set_standing(settings, forum, ADA[0], "banned")
    staff = forum.staff("moderator")
    path = f"/v1/threads/{setup['thread']['id']}/posts"
    answered = await client.post(path, json={"body": "We looked into it."}, headers=staff)
    assert answered.status_code == 201
    accepted = await client.post(f"/v1/posts/{answered.json()['id']}/accept", headers=staff)
    assert accepted.status_code == 200


# --- locked threads ---------------------------------------------------------------------------


async def lock(client: httpx.AsyncClient, forum: Forum, thread: dict, locked: bool = True) -> None:
    response = await client.patch(
        f"/v1/threads/{thread['id']}", json={"locked": locked}, headers=forum.staff("moderator")
    )
    assert response.status_code == 200
    assert response.json()["locked"] is locked


async def test_a_locked_thread_refuses_member_posts_but_not_moderators(
    client: httpx.AsyncClient, forum: Forum, setup: dict
) -> None:
    thread = setup["thread"]
    await lock(client, forum, thread)
    path = f"/v1/threads/{thread['id']}/posts"
    for member in (forum.member(*ADA), forum.member(*BOB), forum.member("p9", "New")):
        refused = await client.post(path, json={"body": "Still broken"}, headers=member)
        assert refused.status_code == 403
        assert "locked" in refused.json()["detail"]
    edit = await client.patch(
        f"/v1/posts/{setup['own']['id']}", json={"body": "Sneaky"}, headers=forum.member(*ADA)
    )
    assert edit.status_code == 403

    staff = await client.post(path, json={"body": "Closing: fixed in 1.3."}, headers=forum.staff())
    assert staff.status_code == 201
    assert staff.json()["is_official"] is True
    staff_edit = await client.patch(
        f"/v1/posts/{setup['own']['id']}", json={"body": "[edited]"}, headers=forum.staff()
    )
    assert staff_edit.status_code == 200

    await lock(client, forum, thread, locked=False)
    reopened = await client.post(path, json={"body": "Thanks!"}, headers=forum.member(*BOB))
    assert reopened.status_code == 201


async def test_a_mute_applies_to_the_next_write_even_while_the_token_check_is_cached(
    client: httpx.AsyncClient, forum: Forum, settings: Settings
) -> None:
    """Reads may reuse a token check for a few seconds; writes read the status again."""
    headers = forum.member(*ADA)
    thread = await start_thread(client, forum, headers)  # the token's check is now cached
    await set_standing(settings, forum, ADA[0], "muted", reason="cool down")

    refused = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "again"}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["member_status"] == "muted"

    await set_standing(settings, forum, ADA[0], "active")
    allowed = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "sorry"}, headers=headers
    )
    assert allowed.status_code == 201, allowed.text
