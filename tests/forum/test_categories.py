"""Forum categories over HTTP: create, list order, read, change, delete; roles and tenancy."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Org
from tests.forum.conftest import Forum, make_forum, start_thread


def categories_path(forum: Forum) -> str:
    return f"/v1/communities/{forum.community_id}/categories"


async def add_category(
    client: httpx.AsyncClient, forum: Forum, name: str, slug: str, **fields: object
) -> dict:
    response = await client.post(
        categories_path(forum),
        json={"name": name, "slug": slug, **fields},
        headers=forum.staff("manager"),
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.both_backends
async def test_manager_creates_a_category(client: httpx.AsyncClient, forum: Forum) -> None:
    response = await client.post(
        categories_path(forum),
        json={"name": "Bug reports", "slug": "bugs", "description": "What broke", "position": 3},
        headers=forum.staff("manager"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/categories/{body['id']}"
    assert body["community_id"] == forum.community_id
    assert (body["name"], body["slug"], body["description"], body["position"]) == (
        "Bug reports",
        "bugs",
        "What broke",
        3,
    )
    fetched = await client.get(f"/v1/categories/{body['id']}", headers=forum.staff("viewer"))
    assert fetched.status_code == 200
    assert fetched.json() == body


@pytest.mark.both_backends
async def test_list_is_ordered_by_position_then_name(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await add_category(client, forum, "Zeta", "zeta")
    await add_category(client, forum, "Alpha", "alpha", position=1)
    await add_category(client, forum, "Beta", "beta")
    for headers in (forum.staff("viewer"), forum.member()):
        listed = await client.get(categories_path(forum), headers=headers)
        assert listed.status_code == 200, listed.text
        # position 0: Beta, General, Zeta by name; then Alpha at position 1
        assert [c["slug"] for c in listed.json()["items"]] == ["beta", "general", "zeta", "alpha"]
        # the same order a page at a time
        pages, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = await client.get(categories_path(forum), params=params, headers=headers)
            pages += [c["slug"] for c in page.json()["items"]]
            if (cursor := page.json()["next_cursor"]) is None:
                break
        assert pages == ["beta", "general", "zeta", "alpha"]


@pytest.mark.both_backends
async def test_duplicate_slug_is_409_but_another_community_may_reuse_it(
    client: httpx.AsyncClient, forum: Forum, org: Org
) -> None:
    again = await client.post(
        categories_path(forum),
        json={"name": "Another general", "slug": "general"},
        headers=forum.staff("manager"),
    )
    assert again.status_code == 409
    assert "general" in again.json()["detail"]
    second = await make_forum(client, org, "second")  # it has its own `general` already
    assert second.category_id != forum.category_id


@pytest.mark.parametrize("slug", ["Has Space", "UPPER", "-leading", "trailing-", "x" * 65, ""])
async def test_bad_slug_is_422(client: httpx.AsyncClient, forum: Forum, slug: str) -> None:
    response = await client.post(
        categories_path(forum), json={"name": "Bad", "slug": slug}, headers=forum.staff("manager")
    )
    assert response.status_code == 422
    assert any(e["loc"] == ["body", "slug"] for e in response.json()["errors"])


@pytest.mark.parametrize(
    ("patch", "field"),
    [({"name": ""}, "name"), ({"position": -1}, "position"), ({"surprise": 1}, "surprise")],
)
async def test_bad_category_fields_are_422(
    client: httpx.AsyncClient, forum: Forum, patch: dict, field: str
) -> None:
    response = await client.post(
        categories_path(forum),
        json={"name": "Ok", "slug": "ok", **patch},
        headers=forum.staff("manager"),
    )
    assert response.status_code == 422
    assert any(e["loc"][:2] == ["body", field] for e in response.json()["errors"])


async def test_a_member_lists_and_reads_but_cannot_create(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    listed = await client.get(categories_path(forum), headers=forum.member())
    assert listed.status_code == 200
    assert [c["slug"] for c in listed.json()["items"]] == ["general"]
    one = await client.get(f"/v1/categories/{forum.category_id}", headers=forum.member())
    assert one.status_code == 200
    denied = await client.post(
        categories_path(forum), json={"name": "Mine", "slug": "mine"}, headers=forum.member()
    )
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    listed = await client.get(categories_path(forum), headers=forum.member())
    assert [c["slug"] for c in listed.json()["items"]] == ["general"]


@pytest.mark.parametrize("role", ["moderator", "analyst", "viewer"])
async def test_below_manager_cannot_create_change_or_delete(
    client: httpx.AsyncClient, forum: Forum, role: str
) -> None:
    created = await client.post(
        categories_path(forum), json={"name": "News", "slug": "news"}, headers=forum.staff(role)
    )
    assert created.status_code == 403
    path = f"/v1/categories/{forum.category_id}"
    patched = await client.patch(path, json={"name": "Renamed"}, headers=forum.staff(role))
    assert patched.status_code == 403
    assert (await client.delete(path, headers=forum.staff(role))).status_code == 403
    still = await client.get(path, headers=forum.staff(role))
    assert still.json()["name"] == "General"


async def test_a_member_cannot_change_or_delete(client: httpx.AsyncClient, forum: Forum) -> None:
    path = f"/v1/categories/{forum.category_id}"
    patched = await client.patch(path, json={"name": "Mine"}, headers=forum.member())
    assert patched.status_code == 403
    assert (await client.delete(path, headers=forum.member())).status_code == 403


async def test_another_orgs_community_and_category_are_404(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    mine = forum.staff("manager")
    created = await client.post(
        categories_path(other_forum), json={"name": "Mine", "slug": "mine"}, headers=mine
    )
    assert created.status_code == 404
    assert (await client.get(categories_path(other_forum), headers=mine)).status_code == 404
    path = f"/v1/categories/{other_forum.category_id}"
    assert (await client.get(path, headers=mine)).status_code == 404
    assert (await client.patch(path, json={"name": "X"}, headers=mine)).status_code == 404
    assert (await client.delete(path, headers=mine)).status_code == 404
    theirs = await client.get(path, headers=other_forum.staff("viewer"))
    assert theirs.json()["name"] == "General"


async def test_a_member_sees_only_their_own_communitys_categories(
    client: httpx.AsyncClient, forum: Forum, org: Org, other_forum: Forum
) -> None:
    sibling = await make_forum(client, org, "sibling")
    member = forum.member()
    for other in (sibling, other_forum):
        assert (await client.get(categories_path(other), headers=member)).status_code == 404
        one = await client.get(f"/v1/categories/{other.category_id}", headers=member)
        assert one.status_code == 404


async def test_manager_renames_and_reorders(client: httpx.AsyncClient, forum: Forum) -> None:
    news = await add_category(client, forum, "News", "news", position=5)
    response = await client.patch(
        f"/v1/categories/{news['id']}",
        json={"name": "Announcements", "slug": "announcements", "position": 0},
        headers=forum.staff("manager"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["slug"], body["position"]) == ("Announcements", "announcements", 0)
    assert body["description"] == news["description"]  # left out, so kept
    assert body["updated_at"] >= news["updated_at"]
    listed = await client.get(categories_path(forum), headers=forum.member())
    assert [c["slug"] for c in listed.json()["items"]] == ["announcements", "general"]


@pytest.mark.both_backends
async def test_patch_to_a_taken_slug_is_409_and_null_is_422(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    news = await add_category(client, forum, "News", "news")
    path = f"/v1/categories/{news['id']}"
    taken = await client.patch(path, json={"slug": "general"}, headers=forum.staff("manager"))
    assert taken.status_code == 409
    null = await client.patch(path, json={"name": None}, headers=forum.staff("manager"))
    assert null.status_code == 422
    assert null.json()["errors"][0]["loc"] == ["body", "name"]
    bad = await client.patch(path, json={"slug": "Bad Slug"}, headers=forum.staff("manager"))
    assert bad.status_code == 422
    unchanged = await client.get(path, headers=forum.staff("viewer"))
    assert (unchanged.json()["name"], unchanged.json()["slug"]) == ("News", "news")


@pytest.mark.both_backends
async def test_delete_an_empty_category(client: httpx.AsyncClient, forum: Forum) -> None:
    news = await add_category(client, forum, "News", "news")
    path = f"/v1/categories/{news['id']}"
    deleted = await client.delete(path, headers=forum.staff("manager"))
    assert deleted.status_code == 204
    assert (await client.get(path, headers=forum.staff("viewer"))).status_code == 404
    assert (await client.delete(path, headers=forum.staff("manager"))).status_code == 404


@pytest.mark.both_backends
async def test_a_category_with_threads_cannot_be_deleted(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await start_thread(client, forum, forum.member())
    path = f"/v1/categories/{forum.category_id}"
    refused = await client.delete(path, headers=forum.staff("manager"))
    assert refused.status_code == 409
    assert "threads" in refused.json()["detail"]
    assert (await client.get(path, headers=forum.staff("viewer"))).status_code == 200


@pytest.mark.both_backends
async def test_moving_the_threads_out_lets_the_category_go(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member())
    news = await add_category(client, forum, "News", "news")
    moved = await client.patch(
        f"/v1/threads/{thread['id']}",
        json={"category_id": news["id"]},
        headers=forum.staff("moderator"),
    )
    assert moved.status_code == 200
    path = f"/v1/categories/{forum.category_id}"
    assert (await client.delete(path, headers=forum.staff("manager"))).status_code == 204
