"""Forum posts over HTTP: reply, read, list, edit, soft delete, rendering and sentiment;
who sees held, hidden and removed posts."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from app.forum.models import Post
from app.settings import Settings
from tests.conftest import Org
from tests.forum.conftest import Forum, make_forum, start_thread

ADA, BOB = ("p1", "Ada"), ("p2", "Bob")


async def set_post_status(settings: Settings, post_id: str, status: str) -> None:
    """What moderation (a later issue) will do: hold or hide a post."""
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Post).where(Post.id == uuid.UUID(post_id)).values(status=status)
            )
    finally:
        await engine.dispose()


async def post(
    client: httpx.AsyncClient, thread: dict, headers: dict, body: str = "Same here.", **extra
) -> dict:
    response = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": body, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def post_ids(client: httpx.AsyncClient, thread: dict, headers: dict) -> list[str]:
    response = await client.get(f"/v1/threads/{thread['id']}/posts?limit=100", headers=headers)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


@pytest.fixture
async def thread(client: httpx.AsyncClient, forum: Forum) -> dict:
    return await start_thread(client, forum, forum.member(*ADA))


# --- write ------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_a_member_replies(client: httpx.AsyncClient, forum: Forum, thread: dict) -> None:
    response = await client.post(
        f"/v1/threads/{thread['id']}/posts",
        json={"body": "Me too.", "reply_to": thread["first_post_id"]},
        headers=forum.member(*BOB),
    )
    assert response.status_code == 201, response.text
    reply = response.json()
    assert response.headers["location"] == f"/v1/posts/{reply['id']}"
    assert reply["thread_id"] == thread["id"]
    assert reply["author"]["display_name"] == "Bob" and reply["author"]["is_staff"] is False
    assert (reply["is_official"], reply["is_answer"], reply["status"]) == (False, False, "visible")
    assert reply["reply_to"] == thread["first_post_id"]
    assert reply["reactions"] == {} and reply["edited_at"] is None
    fetched = await client.get(f"/v1/posts/{reply['id']}", headers=forum.member(*ADA))
    assert fetched.json() == reply
    after = (await client.get(f"/v1/threads/{thread['id']}", headers=forum.member())).json()
    assert after["reply_count"] == 1 and after["last_post_id"] == reply["id"]


@pytest.mark.both_backends
async def test_a_staff_reply_is_official(
    client: httpx.AsyncClient, forum: Forum, org: Org, thread: dict
) -> None:
    reply = await post(client, thread, forum.staff("moderator"), "Settings > Account > Link.")
    assert reply["is_official"] is True
    assert reply["author"] == {
        "id": org.key_ids["moderator"],
        "display_name": "moderator key",
        "is_staff": True,
    }


@pytest.mark.parametrize("role", ["viewer", "analyst"])
async def test_staff_below_moderator_cannot_reply(
    client: httpx.AsyncClient, forum: Forum, thread: dict, role: str
) -> None:
    response = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "Hi"}, headers=forum.staff(role)
    )
    assert response.status_code == 403
    assert await post_ids(client, thread, forum.staff(role)) == [thread["first_post_id"]]


async def test_body_html_is_sanitized_markdown(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    body = (
        "**bold** and _soft_ <script>alert(1)</script>\n\n"
        "[safe](https://example.com) [evil](javascript:alert(1)) <img src=x onerror=alert(1)>"
    )
    reply = await post(client, thread, forum.member(*BOB), body)
    html = reply["body_html"]
    assert reply["body"] == body  # stored as written
    assert "<strong>bold</strong>" in html and "<em>soft</em>" in html
    assert "<script" not in html and "&lt;script&gt;" in html  # raw HTML stays text
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.com" rel="nofollow ugc noopener">safe</a>' in html


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * 20_001])
async def test_empty_or_oversized_body_is_422(
    client: httpx.AsyncClient, forum: Forum, thread: dict, body: str
) -> None:
    response = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": body}, headers=forum.member()
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "body"]


@pytest.mark.both_backends
async def test_the_longest_body_is_accepted(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    reply = await post(client, thread, forum.member(*BOB), "y" * 20_000)
    assert len(reply["body"]) == 20_000


@pytest.mark.both_backends
async def test_reply_to_must_be_in_the_same_thread(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    other = await start_thread(client, forum, forum.member(*BOB), title="Another topic")
    for target in (other["first_post_id"], str(uuid.uuid4())):
        response = await client.post(
            f"/v1/threads/{thread['id']}/posts",
            json={"body": "Re", "reply_to": target},
            headers=forum.member(*BOB),
        )
        assert response.status_code == 404  # no such post in this thread
        assert response.json()["errors"][0]["loc"] == ["body", "reply_to"]
    assert await post_ids(client, thread, forum.member()) == [thread["first_post_id"]]


async def test_sentiment_reads_the_mood(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    bad = await post(
        client, thread, forum.member(*BOB), "This patch is terrible. I hate it, worst update ever."
    )
    good = await post(
        client, thread, forum.member(*BOB), "I love the new map, great work and thanks a lot!"
    )
    for reply, label in ((bad, "negative"), (good, "positive")):
        assert -1 <= reply["sentiment"]["score"] <= 1
        assert reply["sentiment"]["label"] == label
    assert bad["sentiment"]["score"] < 0 < good["sentiment"]["score"]


# --- read ---------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_posts_are_listed_oldest_first_across_pages(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    staff = forum.staff("moderator")
    written = [thread["first_post_id"]]
    for i in range(6):
        headers = staff if i % 2 else forum.member(f"p{i}", f"Player {i}")
        written.append((await post(client, thread, headers, f"Reply {i}"))["id"])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await client.get(f"/v1/threads/{thread['id']}/posts{query}", headers=forum.member())
        assert page.status_code == 200
        assert len(page.json()["items"]) <= 2
        seen += [p["id"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == written
    bad = await client.get(f"/v1/threads/{thread['id']}/posts?cursor=nope", headers=staff)
    assert bad.status_code == 422


async def test_posts_of_another_community_or_org_are_404(
    client: httpx.AsyncClient, forum: Forum, org: Org, other_forum: Forum
) -> None:
    sibling = await make_forum(client, org, "sibling")
    for other in (sibling, other_forum):
        theirs = await start_thread(client, other, other.member())
        for path in (f"/v1/threads/{theirs['id']}/posts", f"/v1/posts/{theirs['first_post_id']}"):
            assert (await client.get(path, headers=forum.member())).status_code == 404
        response = await client.post(
            f"/v1/threads/{theirs['id']}/posts", json={"body": "Hi"}, headers=forum.member()
        )
        assert response.status_code == 404
    theirs = await start_thread(client, other_forum, other_forum.member())
    mine = forum.staff("owner")
    path = f"/v1/posts/{theirs['first_post_id']}"
    assert (await client.get(path, headers=mine)).status_code == 404
    assert (await client.patch(path, json={"body": "x"}, headers=mine)).status_code == 404
    assert (await client.delete(path, headers=mine)).status_code == 404


# --- edit ---------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_the_author_edits_and_the_post_is_rendered_and_scored_again(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    original = await post(client, thread, forum.member(*BOB), "I **love** this, great job!")
    assert original["sentiment"]["label"] == "positive"
    response = await client.patch(
        f"/v1/posts/{original['id']}",
        json={"body": "Actually it is _terrible_ and broken. I hate it."},
        headers=forum.member(*BOB),
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["body"] == "Actually it is _terrible_ and broken. I hate it."
    assert "<em>terrible</em>" in edited["body_html"] and "<strong>" not in edited["body_html"]
    assert edited["sentiment"]["label"] == "negative"
    assert edited["edited_at"] is not None and edited["edited_at"] >= edited["created_at"]
    assert edited["created_at"] == original["created_at"]
    fetched = await client.get(f"/v1/posts/{original['id']}", headers=forum.member(*ADA))
    assert fetched.json() == edited


@pytest.mark.parametrize("who", ["other member", "viewer", "analyst"])
async def test_others_cannot_edit(
    client: httpx.AsyncClient, forum: Forum, thread: dict, who: str
) -> None:
    headers = {
        "other member": forum.member(*BOB),
        "viewer": forum.staff("viewer"),
        "analyst": forum.staff("analyst"),
    }[who]
    path = f"/v1/posts/{thread['first_post_id']}"
    response = await client.patch(path, json={"body": "Hijacked"}, headers=headers)
    assert response.status_code == 403
    assert (await client.delete(path, headers=headers)).status_code == 403
    after = (await client.get(path, headers=forum.member(*ADA))).json()
    assert after["body"] != "Hijacked" and after["status"] == "visible"


async def test_a_moderator_edits_a_members_post(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    response = await client.patch(
        f"/v1/posts/{thread['first_post_id']}",
        json={"body": "[link removed by staff]"},
        headers=forum.staff("moderator"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["body"] == "[link removed by staff]"
    assert response.json()["edited_at"] is not None
    assert response.json()["author"] == thread["author"]  # still the member's post


async def test_an_empty_edit_is_422(client: httpx.AsyncClient, forum: Forum, thread: dict) -> None:
    path = f"/v1/posts/{thread['first_post_id']}"
    for payload in ({"body": ""}, {"body": "z" * 20_001}, {}):
        response = await client.patch(path, json=payload, headers=forum.member(*ADA))
        assert response.status_code == 422


# --- delete and visibility ---------------------------------------------------------------------


@pytest.mark.both_backends
async def test_delete_is_a_soft_removal(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    reply = await post(client, thread, forum.member(*BOB), "Oops, wrong thread.")
    path = f"/v1/posts/{reply['id']}"
    assert (await client.delete(path, headers=forum.member(*BOB))).status_code == 204

    # Other members no longer see it.
    assert (await client.get(path, headers=forum.member(*ADA))).status_code == 404
    assert reply["id"] not in await post_ids(client, thread, forum.member(*ADA))
    # Staff still do, marked removed.
    staff_view = await client.get(path, headers=forum.staff("viewer"))
    assert staff_view.status_code == 200 and staff_view.json()["status"] == "removed"
    assert reply["id"] in await post_ids(client, thread, forum.staff("viewer"))
    # Its author still sees their own post, marked removed, and can no longer change it.
    own = await client.get(path, headers=forum.member(*BOB))
    assert own.status_code == 200 and own.json()["status"] == "removed"
    assert reply["id"] in await post_ids(client, thread, forum.member(*BOB))
    again = await client.patch(path, json={"body": "Back"}, headers=forum.member(*BOB))
    assert again.status_code == 403
    assert (await client.delete(path, headers=forum.member(*BOB))).status_code == 403

    counted = await client.get(f"/v1/threads/{thread['id']}", headers=forum.member(*ADA))
    assert counted.json()["reply_count"] == 0


async def test_a_moderator_removes_a_post(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    reply = await post(client, thread, forum.member(*BOB), "Spam spam spam")
    path = f"/v1/posts/{reply['id']}"
    assert (await client.delete(path, headers=forum.staff("moderator"))).status_code == 204
    assert (await client.delete(path, headers=forum.staff("moderator"))).status_code == 204
    assert (await client.get(path, headers=forum.member(*ADA))).status_code == 404
    assert (await client.get(path, headers=forum.staff("viewer"))).json()["status"] == "removed"


@pytest.mark.both_backends
async def test_deleting_the_opening_post_removes_the_thread(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    kept = await start_thread(client, forum, forum.member(*BOB), title="Still here")
    deleted = await client.delete(
        f"/v1/posts/{thread['first_post_id']}", headers=forum.member(*ADA)
    )
    assert deleted.status_code == 204
    threads_path = f"/v1/communities/{forum.community_id}/threads"
    others = await client.get(threads_path, headers=forum.member(*BOB))
    assert [t["id"] for t in others.json()["items"]] == [kept["id"]]
    path = f"/v1/threads/{thread['id']}"
    assert (await client.get(path, headers=forum.member(*BOB))).status_code == 404
    assert (await client.get(f"{path}/posts", headers=forum.member(*BOB))).status_code == 404
    staff = await client.get(path, headers=forum.staff("viewer"))
    assert staff.json()["status"] == "removed"
    own = await client.get(path, headers=forum.member(*ADA))
    assert own.status_code == 200 and own.json()["status"] == "removed"
    closed = await client.post(f"{path}/posts", json={"body": "Hello?"}, headers=forum.member(*ADA))
    assert closed.status_code == 403


@pytest.mark.both_backends
@pytest.mark.parametrize("status", ["held", "hidden"])
async def test_held_and_hidden_posts_are_seen_by_their_author_and_staff_only(
    client: httpx.AsyncClient, settings: Settings, forum: Forum, thread: dict, status: str
) -> None:
    reply = await post(client, thread, forum.member(*BOB), "Buy gold at example.com")
    await set_post_status(settings, reply["id"], status)
    path = f"/v1/posts/{reply['id']}"

    assert (await client.get(path, headers=forum.member(*ADA))).status_code == 404
    assert reply["id"] not in await post_ids(client, thread, forum.member(*ADA))
    react = await client.put(f"{path}/reactions/thumbsup", headers=forum.member(*ADA))
    assert react.status_code == 404

    for headers in (forum.member(*BOB), forum.staff("viewer")):
        seen = await client.get(path, headers=headers)
        assert seen.status_code == 200 and seen.json()["status"] == status
        assert reply["id"] in await post_ids(client, thread, headers)


@pytest.mark.both_backends
async def test_replies_of_a_removed_thread_are_hidden_from_other_members(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    """Hiding a thread hides its replies, also when reached by id or through GraphQL."""
    thread = await start_thread(client, forum, forum.member("asker", "Asker"))
    replier = forum.member("replier", "Replier")
    reply = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "A reply"}, headers=replier
    )
    reply_id = reply.json()["id"]
    removed = await client.delete(f"/v1/posts/{thread['first_post_id']}", headers=forum.staff())
    assert removed.status_code == 204

    outsider = forum.member("outsider", "Outsider")
    assert (await client.get(f"/v1/posts/{reply_id}", headers=outsider)).status_code == 404
    react = await client.put(f"/v1/posts/{reply_id}/reactions/thumbsup", headers=outsider)
    assert react.status_code == 404
    query = {"query": f'{{ post(id: "{reply_id}") {{ body }} }}'}
    answer = (await client.post("/graphql", json=query, headers=outsider)).json()
    assert not (answer.get("data") or {}).get("post")
    # Staff still see it.
    assert (await client.get(f"/v1/posts/{reply_id}", headers=forum.staff())).status_code == 200


@pytest.mark.both_backends
async def test_removing_a_reply_takes_its_counts_and_last_post_with_it(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member("asker", "Asker"))
    path = f"/v1/threads/{thread['id']}/posts"
    first = (await client.post(path, json={"body": "One"}, headers=forum.staff())).json()
    last = (await client.post(path, json={"body": "Two"}, headers=forum.staff())).json()
    for who in ("a", "b"):
        reacted = await client.put(
            f"/v1/posts/{last['id']}/reactions/thumbsup", headers=forum.member(who, who)
        )
        assert reacted.status_code == 200
    before = (await client.get(f"/v1/threads/{thread['id']}", headers=forum.staff())).json()
    assert (before["reply_count"], before["reaction_count"]) == (2, 2)
    assert before["last_post_id"] == last["id"]

    assert (
        await client.delete(f"/v1/posts/{last['id']}", headers=forum.staff())
    ).status_code == 204
    after = (await client.get(f"/v1/threads/{thread['id']}", headers=forum.staff())).json()
    assert (after["reply_count"], after["reaction_count"]) == (1, 0)
    assert after["last_post_id"] == first["id"]
    assert after["last_posted_at"] == first["created_at"]


def test_a_reply_key_share_locks_the_post_it_answers() -> None:
    """The lock a reply's foreign key takes anyway, taken first (before the thread's row, in
    the order every writer uses): FOR KEY SHARE, so replies to one post do not queue."""
    from sqlalchemy.dialects import postgresql

    from app.forum.posts import _REPLY_TO_IN_THREAD

    sql = str(_REPLY_TO_IN_THREAD.statement.compile(dialect=postgresql.asyncpg.dialect()))
    assert sql.endswith("FOR KEY SHARE")
