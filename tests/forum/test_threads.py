"""Forum threads over HTTP: start, list (sorts, filters, cursor), read, staff changes;
roles, validation and tenancy."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Org
from tests.forum.conftest import Forum, make_forum, start_thread


def threads_path(forum: Forum) -> str:
    return f"/v1/communities/{forum.community_id}/threads"


def thread_body(forum: Forum, **overrides: object) -> dict:
    return {
        "category_id": forum.category_id,
        "kind": "discussion",
        "title": "Patch 1.2 feedback",
        "body": "The new map is fun.",
        **overrides,
    }


async def titles(client: httpx.AsyncClient, forum: Forum, query: str = "", **kw: object) -> list:
    headers = kw.get("headers") or forum.member("reader", "Reader")
    response = await client.get(threads_path(forum) + query, headers=headers)
    assert response.status_code == 200, response.text
    return [t["title"] for t in response.json()["items"]]


async def reply(client: httpx.AsyncClient, thread: dict, headers: dict, body: str = "Yes") -> None:
    response = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": body}, headers=headers
    )
    assert response.status_code == 201, response.text


# --- start ----------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_a_member_starts_a_thread(client: httpx.AsyncClient, forum: Forum) -> None:
    response = await client.post(
        threads_path(forum),
        json=thread_body(forum, kind="question"),
        headers=forum.member("p1", "Ada"),
    )
    assert response.status_code == 201, response.text
    thread = response.json()
    assert response.headers["location"] == f"/v1/threads/{thread['id']}"
    assert thread["author"]["display_name"] == "Ada"
    assert thread["author"]["is_staff"] is False
    assert thread["kind"] == "question"
    assert thread["community_id"] == forum.community_id
    assert thread["category_id"] == forum.category_id
    assert (thread["status"], thread["pinned"], thread["locked"]) == ("visible", False, False)
    assert thread["reply_count"] == 0 and thread["accepted_post_id"] is None
    assert thread["first_post_id"] == thread["last_post_id"]
    opening = await client.get(f"/v1/posts/{thread['first_post_id']}", headers=forum.member())
    assert opening.status_code == 200
    assert opening.json()["body"] == "The new map is fun."
    fetched = await client.get(f"/v1/threads/{thread['id']}", headers=forum.member("p2", "Bob"))
    assert fetched.status_code == 200
    assert fetched.json() == thread


async def test_a_moderator_starts_a_thread_as_staff(
    client: httpx.AsyncClient, forum: Forum, org: Org
) -> None:
    response = await client.post(
        threads_path(forum), json=thread_body(forum), headers=forum.staff("moderator")
    )
    assert response.status_code == 201, response.text
    thread = response.json()
    assert response.headers["location"] == f"/v1/threads/{thread['id']}"
    assert thread["author"] == {
        "id": org.key_ids["moderator"],
        "display_name": "moderator key",
        "is_staff": True,
    }
    opening = await client.get(f"/v1/posts/{thread['first_post_id']}", headers=forum.member())
    assert opening.json()["is_official"] is True


@pytest.mark.parametrize("role", ["viewer", "analyst"])
async def test_staff_below_moderator_cannot_start_a_thread(
    client: httpx.AsyncClient, forum: Forum, role: str
) -> None:
    response = await client.post(
        threads_path(forum), json=thread_body(forum), headers=forum.staff(role)
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert await titles(client, forum) == []


async def test_an_unknown_category_is_404_naming_the_field(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    response = await client.post(
        threads_path(forum),
        json=thread_body(forum, category_id="00000000-0000-4000-8000-000000000000"),
        headers=forum.member(),
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["loc"] == ["body", "category_id"]


async def test_a_category_of_another_community_is_404(
    client: httpx.AsyncClient, forum: Forum, org: Org
) -> None:
    sibling = await make_forum(client, org, "sibling")
    for headers in (forum.member(), forum.staff("moderator")):
        response = await client.post(
            threads_path(forum),
            json=thread_body(forum, category_id=sibling.category_id),
            headers=headers,
        )
        assert response.status_code == 404
        assert response.json()["errors"][0]["loc"] == ["body", "category_id"]
    assert await titles(client, forum) == []
    assert await titles(client, sibling, headers=sibling.member()) == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"title": "Hi"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"body": ""}, "body"),
        ({"kind": "rant"}, "kind"),
        ({"category_id": "general"}, "category_id"),
        ({"pinned": True}, "pinned"),
    ],
)
async def test_bad_thread_input_is_422(
    client: httpx.AsyncClient, forum: Forum, patch: dict, field: str
) -> None:
    response = await client.post(
        threads_path(forum), json=thread_body(forum, **patch), headers=forum.member()
    )
    assert response.status_code == 422
    assert any(e["loc"][:2] == ["body", field] for e in response.json()["errors"])


# --- list -----------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_sorts_order_threads_differently_with_pinned_first(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    staff = forum.staff("moderator")
    old = await start_thread(client, forum, forum.member("p1", "Ada"), title="Old thread")
    mid = await start_thread(client, forum, forum.member("p2", "Bob"), title="Mid thread")
    await start_thread(client, forum, forum.member("p3", "Cy"), title="New thread")
    await reply(client, mid, staff)
    await reply(client, mid, staff)
    await reply(client, old, staff)  # old: latest post; mid: most replies

    assert await titles(client, forum) == ["New thread", "Mid thread", "Old thread"]
    assert await titles(client, forum, "?sort=latest") == ["New thread", "Mid thread", "Old thread"]
    assert await titles(client, forum, "?sort=active") == ["Old thread", "Mid thread", "New thread"]
    assert await titles(client, forum, "?sort=top") == ["Mid thread", "Old thread", "New thread"]

    pinned = await client.patch(f"/v1/threads/{old['id']}", json={"pinned": True}, headers=staff)
    assert pinned.status_code == 200
    assert await titles(client, forum, "?sort=latest") == ["Old thread", "New thread", "Mid thread"]
    assert await titles(client, forum, "?sort=top") == ["Old thread", "Mid thread", "New thread"]
    bad = await client.get(threads_path(forum) + "?sort=hot", headers=staff)
    assert bad.status_code == 422


@pytest.mark.both_backends
async def test_filter_by_kind_and_category(client: httpx.AsyncClient, forum: Forum) -> None:
    manager = forum.staff("manager")
    created = await client.post(
        f"/v1/communities/{forum.community_id}/categories",
        json={"name": "Bugs", "slug": "bugs"},
        headers=manager,
    )
    bugs = created.json()["id"]
    member = forum.member()
    await start_thread(client, forum, member, title="A question", kind="question")
    await start_thread(client, forum, member, title="Some talk", kind="discussion")
    response = await client.post(
        threads_path(forum),
        json=thread_body(forum, category_id=bugs, kind="bug", title="Crash on start"),
        headers=member,
    )
    assert response.status_code == 201

    assert await titles(client, forum, "?kind=question") == ["A question"]
    assert await titles(client, forum, "?kind=bug") == ["Crash on start"]
    assert await titles(client, forum, "?kind=feedback") == []
    assert await titles(client, forum, "?category=bugs") == ["Crash on start"]
    assert await titles(client, forum, f"?category={bugs}") == ["Crash on start"]
    assert await titles(client, forum, "?category=general&kind=discussion") == ["Some talk"]
    by_id = await titles(client, forum, f"?category={forum.category_id}")
    assert sorted(by_id) == ["A question", "Some talk"]

    unknown = await client.get(threads_path(forum) + "?category=nope", headers=member)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["loc"] == ["query", "category"]
    bad_kind = await client.get(threads_path(forum) + "?kind=rant", headers=member)
    assert bad_kind.status_code == 422


@pytest.mark.both_backends
@pytest.mark.parametrize("sort", ["latest", "active", "top"])
async def test_cursor_pages_have_no_gaps_or_duplicates(
    client: httpx.AsyncClient, forum: Forum, sort: str
) -> None:
    staff = forum.staff("moderator")  # staff are not rate limited
    created = [await start_thread(client, forum, staff, title=f"Thread {i}") for i in range(7)]
    await reply(client, created[2], staff)
    await client.patch(f"/v1/threads/{created[4]['id']}", json={"pinned": True}, headers=staff)
    everything = await client.get(threads_path(forum) + f"?sort={sort}&limit=100", headers=staff)
    expected = [t["id"] for t in everything.json()["items"]]
    assert sorted(expected) == sorted(t["id"] for t in created)

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = f"?sort={sort}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(threads_path(forum) + query, headers=forum.member())).json()
        assert len(page["items"]) <= 3
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize("cursor", ["garbage", "WyJ4Il0", "W10"])
async def test_a_bad_cursor_is_422(client: httpx.AsyncClient, forum: Forum, cursor: str) -> None:
    await start_thread(client, forum, forum.member())
    response = await client.get(threads_path(forum) + f"?cursor={cursor}", headers=forum.member())
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


# --- tenancy ----------------------------------------------------------------------------------


async def test_a_member_sees_only_their_own_community(
    client: httpx.AsyncClient, forum: Forum, org: Org, other_forum: Forum
) -> None:
    sibling = await make_forum(client, org, "sibling")
    theirs = await start_thread(client, forum, forum.staff("moderator"), title="Mine to see")
    sibling_thread = await start_thread(client, sibling, sibling.member(), title="Sibling")
    other_thread = await start_thread(client, other_forum, other_forum.member(), title="Rival")
    member = forum.member()
    assert await titles(client, forum, headers=member) == ["Mine to see"]
    assert (await client.get(f"/v1/threads/{theirs['id']}", headers=member)).status_code == 200
    for other, thread in ((sibling, sibling_thread), (other_forum, other_thread)):
        assert (await client.get(threads_path(other), headers=member)).status_code == 404
        assert (await client.get(f"/v1/threads/{thread['id']}", headers=member)).status_code == 404
        created = await client.post(threads_path(other), json=thread_body(other), headers=member)
        assert created.status_code == 404


async def test_staff_of_another_org_get_404(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    thread = await start_thread(client, other_forum, other_forum.member())
    mine = forum.staff("owner")
    assert (await client.get(threads_path(other_forum), headers=mine)).status_code == 404
    created = await client.post(threads_path(other_forum), json=thread_body(forum), headers=mine)
    assert created.status_code == 404
    path = f"/v1/threads/{thread['id']}"
    assert (await client.get(path, headers=mine)).status_code == 404
    patched = await client.patch(path, json={"locked": True}, headers=mine)
    assert patched.status_code == 404
    theirs = await client.get(path, headers=other_forum.staff("viewer"))
    assert theirs.json()["locked"] is False


async def test_an_unknown_thread_is_404(client: httpx.AsyncClient, forum: Forum) -> None:
    path = "/v1/threads/00000000-0000-4000-8000-000000000000"
    assert (await client.get(path, headers=forum.member())).status_code == 404
    assert (await client.get(path, headers=forum.staff("viewer"))).status_code == 404


# --- staff changes ----------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_a_moderator_renames_pins_locks_and_moves(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member())
    created = await client.post(
        f"/v1/communities/{forum.community_id}/categories",
        json={"name": "Help", "slug": "help"},
        headers=forum.staff("manager"),
    )
    help_id = created.json()["id"]
    response = await client.patch(
        f"/v1/threads/{thread['id']}",
        json={"title": "Linking accounts", "pinned": True, "locked": True, "category_id": help_id},
        headers=forum.staff("moderator"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "Linking accounts"
    assert (body["pinned"], body["locked"], body["category_id"]) == (True, True, help_id)
    assert body["author"] == thread["author"]
    assert body["updated_at"] >= thread["updated_at"]
    seen = await client.get(f"/v1/threads/{thread['id']}", headers=forum.member())
    assert seen.json() == body
    assert await titles(client, forum, "?category=help") == ["Linking accounts"]
    unpinned = await client.patch(
        f"/v1/threads/{thread['id']}", json={"pinned": False}, headers=forum.staff("moderator")
    )
    assert unpinned.json()["pinned"] is False
    assert unpinned.json()["locked"] is True  # left out, so kept


@pytest.mark.parametrize("who", ["author", "other member", "viewer", "analyst"])
async def test_only_moderators_change_threads(
    client: httpx.AsyncClient, forum: Forum, who: str
) -> None:
    thread = await start_thread(client, forum, forum.member("p1", "Ada"))
    headers = {
        "author": forum.member("p1", "Ada"),
        "other member": forum.member("p2", "Bob"),
        "viewer": forum.staff("viewer"),
        "analyst": forum.staff("analyst"),
    }[who]
    path = f"/v1/threads/{thread['id']}"
    for patch in ({"title": "Mine now"}, {"pinned": True}, {"locked": True}):
        response = await client.patch(path, json=patch, headers=headers)
        assert response.status_code == 403
    after = await client.get(path, headers=forum.member())
    assert after.json() == thread


@pytest.mark.parametrize("field", ["title", "pinned", "locked", "category_id"])
async def test_patching_a_field_to_null_is_422(
    client: httpx.AsyncClient, forum: Forum, field: str
) -> None:
    thread = await start_thread(client, forum, forum.member())
    response = await client.patch(
        f"/v1/threads/{thread['id']}", json={field: None}, headers=forum.staff("moderator")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", field]


async def test_patch_validation(client: httpx.AsyncClient, forum: Forum, org: Org) -> None:
    thread = await start_thread(client, forum, forum.member())
    sibling = await make_forum(client, org, "sibling")
    path = f"/v1/threads/{thread['id']}"
    staff = forum.staff("moderator")
    short = await client.patch(path, json={"title": "No"}, headers=staff)
    assert short.status_code == 422
    moved = await client.patch(path, json={"category_id": sibling.category_id}, headers=staff)
    assert moved.status_code == 404
    assert moved.json()["errors"][0]["loc"] == ["body", "category_id"]
    unknown = await client.patch(path, json={"status": "removed"}, headers=staff)
    assert unknown.status_code == 422
    after = await client.get(path, headers=staff)
    assert after.json()["title"] == thread["title"]
    assert after.json()["category_id"] == forum.category_id


@pytest.mark.both_backends
async def test_category_filter_takes_an_id_like_slug_and_refuses_unknown_ids(
    client: httpx.AsyncClient, forum: Forum, org: Org
) -> None:
    hexslug = "0123456789abcdef0123456789abcdef"  # a valid slug that also parses as a UUID
    created = await client.post(
        f"/v1/communities/{forum.community_id}/categories",
        json={"name": "Hex", "slug": hexslug},
        headers=forum.staff("manager"),
    )
    response = await client.post(
        threads_path(forum),
        json=thread_body(forum, category_id=created.json()["id"], title="In hex"),
        headers=forum.member(),
    )
    assert response.status_code == 201
    await start_thread(client, forum, forum.member(), title="In general")
    assert await titles(client, forum, f"?category={hexslug}") == ["In hex"]

    sibling = await make_forum(client, org, "sibling")
    for ref in ("00000000-0000-4000-8000-000000000000", sibling.category_id):
        unknown = await client.get(threads_path(forum) + f"?category={ref}", headers=forum.member())
        assert unknown.status_code == 404
        assert unknown.json()["errors"][0]["loc"] == ["query", "category"]
