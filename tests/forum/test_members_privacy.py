"""Members over HTTP: search, status filter, paging, post counts, roles and tenancy; the data
protection export and erasure (with and without the member's posts)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks import Webhook

from app.core.db import utcnow
from app.forum.models import Member
from app.settings import Settings
from tests.conftest import Org
from tests.forum.conftest import Forum, start_thread
from tests.receiver import Receiver

pytestmark = pytest.mark.both_backends


async def join(client: httpx.AsyncClient, forum: Forum, sub: str, name: str) -> dict[str, Any]:
    """Sign a member in (any request with their token creates them); return the member."""
    response = await client.get(
        f"/v1/communities/{forum.community_id}/threads", headers=forum.member(sub, name)
    )
    assert response.status_code == 200, response.text
    listed = await client.get(
        f"/v1/communities/{forum.community_id}/members",
        params={"q": sub, "limit": 100},
        headers=forum.staff(),
    )
    (member,) = [m for m in listed.json()["items"] if m["external_id"] == sub]
    return member


async def set_member(settings: Settings, member_id: str, **values: Any) -> None:
    """What the moderation API will do later: change a member's row directly."""
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Member).where(Member.id == uuid.UUID(member_id)).values(**values)
            )
    finally:
        await engine.dispose()


async def members(
    client: httpx.AsyncClient, forum: Forum, headers: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/communities/{forum.community_id}/members",
        params=params,
        headers=headers or forum.staff("moderator"),
    )


def subs(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["external_id"] for m in response.json()["items"]]


async def test_search_matches_names_and_external_ids_with_literal_wildcards(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await join(client, forum, "ext-ALPHA", "Ada Lovelace")
    await join(client, forum, "player_2", "Bob 100%")
    await join(client, forum, "playerX2", "Charlie")
    await join(client, forum, "zed", "Dana\\Backslash")

    assert subs(await members(client, forum, q="lovelace")) == ["ext-ALPHA"]
    assert subs(await members(client, forum, q="ADA")) == ["ext-ALPHA"]
    assert subs(await members(client, forum, q="alpha")) == ["ext-ALPHA"]
    assert subs(await members(client, forum, q="player")) == ["player_2", "playerX2"]
    assert subs(await members(client, forum, q="player_")) == ["player_2"]
    assert subs(await members(client, forum, q="_")) == ["player_2"]
    assert subs(await members(client, forum, q="%")) == ["player_2"]
    assert subs(await members(client, forum, q="100%")) == ["player_2"]
    assert subs(await members(client, forum, q="\\")) == ["zed"]
    assert subs(await members(client, forum, q="nobody")) == []
    assert len(subs(await members(client, forum, q=""))) == 4


async def test_status_filter_counts_lapsed_statuses_as_active(
    client: httpx.AsyncClient, forum: Forum, settings: Settings
) -> None:
    calm = await join(client, forum, "calm", "Calm")
    muted = await join(client, forum, "muted", "Muted")
    lapsed = await join(client, forum, "lapsed", "Lapsed")
    banned = await join(client, forum, "banned", "Banned")
    now = utcnow()
    await set_member(settings, muted["id"], status="muted", status_until=now + timedelta(hours=1))
    await set_member(
        settings, lapsed["id"], status="suspended", status_until=now - timedelta(minutes=1)
    )
    await set_member(settings, banned["id"], status="banned", status_reason="cheating")

    assert subs(await members(client, forum, status="active")) == ["calm", "lapsed"]
    assert subs(await members(client, forum, status="muted")) == ["muted"]
    assert subs(await members(client, forum, status="suspended")) == []
    assert subs(await members(client, forum, status="banned")) == ["banned"]
    bad = await members(client, forum, status="asleep")
    assert bad.status_code == 422

    shown = (await client.get(f"/v1/members/{lapsed['id']}", headers=forum.staff())).json()
    assert shown["status"] == "active" and shown["status_until"] is None
    shown = (await client.get(f"/v1/members/{banned['id']}", headers=forum.staff())).json()
    assert shown["status"] == "banned" and shown["status_reason"] == "cheating"
    assert calm["status"] == "active"


async def test_members_page_with_a_cursor_first_joined_first(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    for n in range(5):
        await join(client, forum, f"p{n}", f"Player {n}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await members(client, forum, **params)).json()
        assert len(page["items"]) <= 2
        seen += [m["external_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{n}" for n in range(5)]


async def test_post_count_leaves_removed_posts_out(client: httpx.AsyncClient, forum: Forum) -> None:
    ada = forum.member("ada", "Ada")
    thread = await start_thread(client, forum, ada)
    for body in ("one", "two"):
        posted = await client.post(
            f"/v1/threads/{thread['id']}/posts", json={"body": body}, headers=ada
        )
        assert posted.status_code == 201
    await client.delete(f"/v1/posts/{posted.json()['id']}", headers=ada)
    member = await client.get(f"/v1/members/{thread['author']['id']}", headers=forum.staff())
    assert member.status_code == 200
    body = member.json()
    assert body["post_count"] == 2
    assert body["external_id"] == "ada" and body["display_name"] == "Ada"
    listed = (await members(client, forum)).json()["items"]
    assert listed[0]["post_count"] == 2


async def test_member_views_need_a_moderator_of_the_same_org(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    member = await join(client, forum, "ada", "Ada")
    one = f"/v1/members/{member['id']}"
    for role in ("analyst", "viewer"):
        assert (await members(client, forum, forum.staff(role))).status_code == 403
        assert (await client.get(one, headers=forum.staff(role))).status_code == 403
    assert (await members(client, forum, forum.member("ada", "Ada"))).status_code == 403
    assert (await client.get(one, headers=forum.member("ada", "Ada"))).status_code == 403
    rival = other_forum.staff("owner")
    assert (await client.get(one, headers=rival)).status_code == 404
    assert (await client.get(f"{one}/export", headers=rival)).status_code == 404
    assert (await client.delete(one, headers=rival)).status_code == 404
    assert (await members(client, forum, rival)).status_code == 404
    assert (await client.get(one, headers=forum.staff("moderator"))).status_code == 200
    still = await client.get(one, headers=forum.staff("owner"))
    assert still.json()["erased"] is False


async def activity(client: httpx.AsyncClient, forum: Forum) -> dict[str, Any]:
    """Ada starts a question, replies twice (one removed) and reacts to Bob's reply."""
    ada, bob = forum.member("ada-sub", "Ada Lovelace"), forum.member("bob-sub", "Bob")
    thread = await start_thread(client, forum, ada, title="Where is my loot?", body="Help me")
    bobs = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "Try relogging"}, headers=bob
    )
    kept = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "Thanks Bob"}, headers=ada
    )
    gone = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": "oops, typo"}, headers=ada
    )
    assert (await client.delete(f"/v1/posts/{gone.json()['id']}", headers=ada)).status_code == 204
    for emoji in ("thumbsup", "heart"):
        reacted = await client.put(f"/v1/posts/{bobs.json()['id']}/reactions/{emoji}", headers=ada)
        assert reacted.status_code == 200
    await client.put(f"/v1/posts/{bobs.json()['id']}/reactions/thumbsup", headers=bob)
    return {
        "thread": thread,
        "member_id": thread["author"]["id"],
        "bobs": bobs.json()["id"],
        "kept": kept.json()["id"],
        "gone": gone.json()["id"],
    }


async def test_export_holds_everything_about_the_member(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    done = await activity(client, forum)
    path = f"/v1/members/{done['member_id']}/export"
    for role in ("moderator", "analyst"):
        assert (await client.get(path, headers=forum.staff(role))).status_code == 403
    as_member = forum.member("ada-sub", "Ada Lovelace")
    assert (await client.get(path, headers=as_member)).status_code == 403
    response = await client.get(path, headers=forum.staff("manager"))
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["exported_at"]
    assert export["member"]["external_id"] == "ada-sub"
    assert export["member"]["display_name"] == "Ada Lovelace"
    assert export["member"]["post_count"] == 2
    assert [t["title"] for t in export["threads"]] == ["Where is my loot?"]
    assert export["threads"][0]["id"] == done["thread"]["id"]
    posts = {p["id"]: p for p in export["posts"]}
    assert set(posts) == {done["thread"]["first_post_id"], done["kept"], done["gone"]}
    assert posts[done["gone"]]["status"] == "removed"
    assert posts[done["gone"]]["body"] == "oops, typo"
    assert posts[done["kept"]]["body"] == "Thanks Bob"
    assert sorted((r["post_id"], r["emoji"]) for r in export["reactions"]) == [
        (done["bobs"], "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"),
        (done["bobs"], "\N{THUMBS UP SIGN}"),
    ]


async def test_erasure_removes_the_person_but_keeps_the_posts(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    done = await activity(client, forum)
    path = f"/v1/members/{done['member_id']}"
    for role in ("manager", "moderator"):
        assert (await client.delete(path, headers=forum.staff(role))).status_code == 403
    assert (await client.delete(path, headers=forum.member("ada-sub"))).status_code == 403
    erased = await client.delete(path, headers=forum.staff("owner"))
    assert erased.status_code == 204

    member = (await client.get(path, headers=forum.staff())).json()
    assert member["erased"] is True
    assert member["display_name"] == "deleted member"
    assert member["external_id"] is None
    assert member["post_count"] == 2  # the posts stay

    posts = await client.get(f"/v1/threads/{done['thread']['id']}/posts", headers=forum.staff())
    by_id = {p["id"]: p for p in posts.json()["items"]}
    for post_id in (done["thread"]["first_post_id"], done["kept"]):
        assert by_id[post_id]["author"]["display_name"] == "deleted member"
        assert by_id[post_id]["status"] == "visible"
    assert by_id[done["kept"]]["body"] == "Thanks Bob"
    # Ada's reactions are gone and the counts say so.
    assert by_id[done["bobs"]]["reactions"] == {"\N{THUMBS UP SIGN}": 1}
    thread = await client.get(f"/v1/threads/{done['thread']['id']}", headers=forum.staff())
    assert thread.json()["reaction_count"] == 1
    assert thread.json()["author"]["display_name"] == "deleted member"

    export = await client.get(f"{path}/export", headers=forum.staff("manager"))
    assert export.status_code == 200
    text = json.dumps(export.json())
    assert "Ada" not in text and "ada-sub" not in text
    assert export.json()["reactions"] == []

    # The same person signing in again starts over as a new member.
    again = await join(client, forum, "ada-sub", "Ada Lovelace")
    assert again["id"] != done["member_id"]
    assert again["post_count"] == 0 and again["erased"] is False
    # Erasing twice is fine.
    assert (await client.delete(path, headers=forum.staff("owner"))).status_code == 204


async def test_erasure_with_delete_posts_blanks_and_removes_them(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    done = await activity(client, forum)
    bob = forum.member("bob-sub", "Bob")
    bobs_thread = await start_thread(client, forum, bob, title="Crash on start")
    ada_reply = await client.post(
        f"/v1/threads/{bobs_thread['id']}/posts",
        json={"body": "Ada was here"},
        headers=forum.member("ada-sub", "Ada Lovelace"),
    )
    assert ada_reply.status_code == 201
    accepted = await client.post(f"/v1/posts/{ada_reply.json()['id']}/accept", headers=bob)
    assert accepted.status_code == 200
    path = f"/v1/members/{done['member_id']}"
    erased = await client.delete(f"{path}?delete_posts=true", headers=forum.staff("owner"))
    assert erased.status_code == 204

    # Bob's thread stays, without Ada's reply in it or in its counters.
    bobs = (await client.get(f"/v1/threads/{bobs_thread['id']}", headers=forum.staff())).json()
    assert bobs["status"] == "visible" and bobs["reply_count"] == 0
    assert bobs["accepted_post_id"] is None
    assert bobs["last_post_id"] == bobs_thread["first_post_id"]
    # Ada's own thread goes, title and all (a title is their words too).
    hers = (await client.get(f"/v1/threads/{done['thread']['id']}", headers=forum.staff())).json()
    assert hers["status"] == "removed" and "loot" not in hers["title"]

    posts = await client.get(f"/v1/threads/{done['thread']['id']}/posts", headers=forum.staff())
    by_id = {p["id"]: p for p in posts.json()["items"]}
    for post_id in (done["thread"]["first_post_id"], done["kept"], done["gone"]):
        assert by_id[post_id]["body"] == "" and by_id[post_id]["body_html"] == ""
        assert by_id[post_id]["status"] == "removed"
    assert by_id[done["bobs"]]["body"] == "Try relogging"
    assert by_id[done["bobs"]]["reactions"] == {"\N{THUMBS UP SIGN}": 1}
    member = (await client.get(path, headers=forum.staff())).json()
    assert member["post_count"] == 0 and member["erased"] is True

    # Members no longer see the erased member's words.
    reader = forum.member("reader", "Rae")
    seen = await client.get(f"/v1/communities/{forum.community_id}/threads", headers=reader)
    assert done["thread"]["id"] not in [t["id"] for t in seen.json()["items"]]
    export = await client.get(f"{path}/export", headers=forum.staff("manager"))
    assert all(p["body"] == "" for p in export.json()["posts"])
    assert "Thanks Bob" not in json.dumps(export.json())


async def test_erasure_is_announced_to_webhooks(
    client: httpx.AsyncClient, forum: Forum, org: Org, receiver: Receiver
) -> None:
    hook = await client.post(
        "/v1/webhooks",
        json={"url": receiver.url("/erased"), "events": ["member.erased"]},
        headers=org.auth("manager"),
    )
    assert hook.status_code == 201, hook.text
    member = await join(client, forum, "ada", "Ada")
    deleted = await client.delete(
        f"/v1/members/{member['id']}?delete_posts=true", headers=org.auth("owner")
    )
    assert deleted.status_code == 204
    (request,) = await receiver.wait_for(1, "/erased")
    payload = Webhook(hook.json()["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "member.erased"
    assert payload["data"] == {
        "id": member["id"],
        "community_id": forum.community_id,
        "posts_deleted": True,
    }
    assert "Ada" not in request.body.decode()


async def test_erasure_redacts_what_went_out_as_events(
    client: httpx.AsyncClient, forum: Forum, org: Org, receiver: Receiver
) -> None:
    """The delivery log held the member's name and words; after erasure it does not."""
    hook = await client.post(
        "/v1/webhooks",
        json={"url": receiver.url("/all"), "events": ["*"]},
        headers=org.auth("manager"),
    )
    assert hook.status_code == 201, hook.text
    await start_thread(
        client, forum, forum.member("grace", "Grace Hopper"), body="My nanosecond wire broke"
    )
    await receiver.wait_for(3, "/all")  # member.joined, thread.created, post.created
    member = await join(client, forum, "grace", "Grace Hopper")
    await client.delete(f"/v1/members/{member['id']}", headers=org.auth("owner"))
    await receiver.wait_for(4, "/all")  # and member.erased

    deliveries = await client.get(
        f"/v1/webhooks/{hook.json()['id']}/deliveries",
        params={"limit": 100},
        headers=org.auth("manager"),
    )
    log = json.dumps(deliveries.json())
    assert "Grace Hopper" not in log and "grace" not in log
    assert "personal data erased" in log
    # The erasure itself is announced (ids only), and is not redacted.
    assert any(d["event_type"] == "member.erased" for d in deliveries.json()["items"])


@pytest.mark.parametrize("path", ["", "/export"])
async def test_unknown_member_is_404(client: httpx.AsyncClient, forum: Forum, path: str) -> None:
    missing = "/v1/members/00000000-0000-0000-0000-000000000000" + path
    assert (await client.get(missing, headers=forum.staff("owner"))).status_code == 404
