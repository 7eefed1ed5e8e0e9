"""Reports, the review queue and decisions over HTTP: roles, tenancy, conduct, versions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.forum.conftest import Forum, start_thread
from tests.moderation.test_screening_http import events_of, reply
from tests.test_graphql import gql

pytestmark = pytest.mark.both_backends


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], target_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/v1/reports",
        json={"target_type": "post", "target_id": target_id, "reason": "spam", **body},
        headers=headers,
    )


async def queue(client: httpx.AsyncClient, forum: Forum, query: str = "") -> list[dict]:
    listed = await client.get(
        f"/v1/communities/{forum.community_id}/queue?{query}", headers=forum.staff()
    )
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


async def decide(
    client: httpx.AsyncClient, forum: Forum, item: dict, action: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/queue/{item['id']}/decision",
        json={"action": action, "version": item["version"], **body},
        headers=forum.staff(),
    )


async def a_post(
    client: httpx.AsyncClient, forum: Forum, body: str = "buy gold cheap", by: str = "spammer"
) -> dict:
    thread = await start_thread(client, forum, forum.member("op"))
    posted = await reply(client, thread["id"], body, forum.member(by, by.title()))
    assert posted.status_code == 201, posted.text
    return posted.json() | {"thread_id": thread["id"]}


async def test_reports_gather_on_one_item_and_a_decision_resolves_it(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    post = await a_post(client, forum)
    first = await report(client, forum.member("p1"), post["id"], note="Spam again")
    assert first.status_code == 201, first.text
    assert first.json()["reason"] == "spam"
    assert (await report(client, forum.member("p1"), post["id"])).status_code == 409
    assert (
        await report(client, forum.staff("viewer"), post["id"], reason="scam")
    ).status_code == 201
    [item] = await queue(client, forum)
    assert item["target"] == {
        "excerpt": "buy gold cheap",
        "author_id": post["author"]["id"],
        "status": "visible",
    }
    assert (item["reasons"], item["report_count"], item["status"]) == (
        {"spam": 1, "scam": 1},
        2,
        "open",
    )
    assert (item["score"], item["priority"]) == (5.0, "medium")  # 2 (spam) + 3 (scam)

    stale = await decide(client, forum, item | {"version": item["version"] - 1}, "hide")
    assert stale.status_code == 409
    assert stale.json()["item"]["version"] == item["version"]
    hidden = await decide(client, forum, item, "hide", reason="Gold selling", notify=True)
    assert hidden.status_code == 200, hidden.text
    assert (hidden.json()["status"], hidden.json()["resolution"]) == ("resolved", "hide")
    assert hidden.json()["target"]["status"] == "hidden"
    seen = await client.get(f"/v1/threads/{post['thread_id']}/posts", headers=forum.member("p2"))
    assert "buy gold cheap" not in seen.text
    [decided] = await events_of(app, "review.decided")
    assert decided["notify"] == {
        "member_id": post["author"]["id"],
        "locale": "en",
        "message": "Your post was hidden by a moderator. Reason: Gold selling",
    }
    assert await queue(client, forum) == []
    log = await client.get(f"/v1/audit-log?target_id={item['id']}", headers=forum.staff("manager"))
    assert [e["action"] for e in log.json()["items"]] == ["review_item.decided"]

    # A report on a resolved target reopens the same item (members no longer see it).
    assert (await report(client, forum.member("p3"), post["id"])).status_code == 404
    reopen = await report(client, forum.staff("analyst"), post["id"], reason="scam")
    assert reopen.status_code == 201
    [reopened] = await queue(client, forum)
    assert (reopened["id"], reopened["status"]) == (item["id"], "open")
    # p1's report was upheld: their next one weighs more than a first report.
    other = await a_post(client, forum, "another gold ad")
    await report(client, forum.member("p1"), other["id"])
    weights = {i["target_id"]: i["score"] for i in await queue(client, forum)}
    assert weights[other["id"]] == 2.67  # spam (2) x 2 x (1 upheld + 1) / (1 + 2)


async def test_conduct_decides_who_may_report_post_and_react(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    post = await a_post(client, forum)
    await report(client, forum.member("p1"), post["id"])
    [item] = await queue(client, forum)
    muted = await decide(
        client, forum, item, "dismiss", sanction={"kind": "mute", "duration_hours": 2}
    )
    assert muted.status_code == 200, muted.text
    spammer = forum.member("spammer", "Spammer")
    assert (await reply(client, post["thread_id"], "let me speak", spammer)).status_code == 403
    myself = await report(
        client, spammer, post["author"]["id"], target_type="member", reason="other"
    )
    assert myself.status_code == 403
    victim = await a_post(client, forum, "a fair post", by="p4")
    assert (await report(client, spammer, victim["id"])).status_code == 201  # muted may report

    on_member = await report(
        client, forum.member("p1"), post["author"]["id"], target_type="member", reason="hate"
    )
    assert on_member.status_code == 201
    [item] = [i for i in await queue(client, forum) if i["target_type"] == "member"]
    assert item["target"] == {"excerpt": None, "author_id": post["author"]["id"], "status": "muted"}
    suspended = await decide(
        client, forum, item, "dismiss", sanction={"kind": "suspend", "duration_hours": 24}
    )
    assert suspended.status_code == 200
    other = await a_post(client, forum, "yet another post", by="p5")
    refused = await report(client, spammer, other["id"], reason="other")
    assert refused.status_code == 403
    assert refused.json()["member_status"] == "suspended"
    react = await client.put(f"/v1/posts/{other['id']}/reactions/👍", headers=spammer)
    assert react.status_code == 403


async def test_roles_tenancy_and_bad_reports(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    post = await a_post(client, forum)
    await report(client, forum.member("p1"), post["id"])
    [item] = await queue(client, forum)
    for headers in (forum.staff("analyst"), forum.member("p1")):
        listed = await client.get(f"/v1/communities/{forum.community_id}/queue", headers=headers)
        assert listed.status_code == 403
        assert (await client.get(f"/v1/queue/{item['id']}", headers=headers)).status_code == 403
    theirs = other_forum.staff("owner")
    assert (await client.get(f"/v1/queue/{item['id']}", headers=theirs)).status_code == 404
    assert (await decide(client, other_forum, item, "hide")).status_code == 404
    assert (await report(client, other_forum.member("x"), post["id"])).status_code == 404
    assert (await report(client, theirs, post["id"])).status_code == 404
    bad = await report(client, forum.member("p2"), post["id"], reason="vibes")
    assert bad.status_code == 422
    missing = await report(client, forum.member("p2"), "00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404


async def test_two_moderators_deciding_at_once_one_wins(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    post = await a_post(client, forum)
    await report(client, forum.member("p1"), post["id"])
    [item] = await queue(client, forum)
    answers = await asyncio.gather(
        decide(client, forum, item, "hide"), decide(client, forum, item, "approve")
    )
    assert sorted(a.status_code for a in answers) == [200, 409]


async def test_bulk_decisions_and_assignment(client: httpx.AsyncClient, forum: Forum) -> None:
    posts = [await a_post(client, forum, f"spam number {n}") for n in range(3)]
    for post in posts:
        await report(client, forum.member("p1"), post["id"])
    items = await queue(client, forum, "sort=oldest")
    assert [i["target_id"] for i in items] == [p["id"] for p in posts]
    first = await client.get(
        f"/v1/communities/{forum.community_id}/queue?limit=2", headers=forum.staff()
    )
    rest = await client.get(
        f"/v1/communities/{forum.community_id}/queue?limit=2&cursor={first.json()['next_cursor']}",
        headers=forum.staff(),
    )
    paged = [i["id"] for i in first.json()["items"] + rest.json()["items"]]
    assert sorted(paged) == sorted(i["id"] for i in items) and rest.json()["next_cursor"] is None
    manager = forum.org.key_ids["manager"]
    assigned = await client.patch(
        f"/v1/queue/{items[0]['id']}", json={"assignee_key_id": manager}, headers=forum.staff()
    )
    assert assigned.status_code == 200
    assert assigned.json()["version"] == items[0]["version"] + 1
    mine = await client.get(
        f"/v1/communities/{forum.community_id}/queue?assignee=me", headers=forum.staff("manager")
    )
    assert [i["id"] for i in mine.json()["items"]] == [items[0]["id"]]
    unknown = await client.patch(
        f"/v1/queue/{items[0]['id']}",
        json={"assignee_key_id": "00000000-0000-4000-8000-000000000000"},
        headers=forum.staff(),
    )
    assert unknown.status_code == 404
    bulk = await client.post(
        "/v1/queue/decisions",
        json={
            "action": "remove",
            "items": [
                {"id": items[0]["id"], "version": items[0]["version"]},  # stale: assigned since
                {"id": items[1]["id"], "version": items[1]["version"]},
                {"id": items[2]["id"], "version": items[2]["version"]},
            ],
        },
        headers=forum.staff(),
    )
    assert bulk.status_code == 200, bulk.text
    assert [(r["ok"], r["status"]) for r in bulk.json()["results"]] == [
        (False, 409),
        (True, 200),
        (True, 200),
    ]
    assert [i["id"] for i in await queue(client, forum)] == [items[0]["id"]]


async def test_graphql_reports_lists_and_decides_like_rest(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    post = await a_post(client, forum)
    made = await gql(
        client,
        """mutation($target: UUID!) {
            createReport(input: {targetType: post, targetId: $target, reason: scam}) { reason }
        }""",
        forum.org,
        "viewer",
        target=post["id"],
    )
    assert made["data"]["createReport"] == {"reason": "scam"}
    listed = await gql(
        client,
        """query($c: UUID!) {
            moderationQueue(communityId: $c, reason: scam) {
                items { id version reasons reportCount target { excerpt status } }
                nextCursor
            }
        }""",
        forum.org,
        "moderator",
        c=forum.community_id,
    )
    [item] = listed["data"]["moderationQueue"]["items"]
    assert item["reasons"] == {"scam": 1} and item["target"]["status"] == "visible"
    decide_query = """mutation($id: UUID!, $v: Int!) {
        decideReviewItem(id: $id, input: {action: remove, version: $v}) {
            status resolution target { status }
        }
    }"""
    decided = await gql(
        client, decide_query, forum.org, "moderator", id=item["id"], v=item["version"]
    )
    assert decided["data"]["decideReviewItem"] == {
        "status": "resolved",
        "resolution": "remove",
        "target": {"status": "removed"},
    }
    stale = await gql(
        client, decide_query, forum.org, "moderator", id=item["id"], v=item["version"]
    )
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_approving_a_report_never_brings_back_a_removed_post(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    post = await a_post(client, forum, "a post its author then deleted", by="p6")
    await report(client, forum.member("p1"), post["id"])
    deleted = await client.delete(f"/v1/posts/{post['id']}", headers=forum.member("p6", "P6"))
    assert deleted.status_code == 204
    [item] = await queue(client, forum)
    approved = await decide(client, forum, item, "approve")
    assert approved.status_code == 200
    assert approved.json()["target"]["status"] == "removed"
    thread = await client.get(f"/v1/threads/{post['thread_id']}", headers=forum.staff())
    assert thread.json()["reply_count"] == 0


async def test_an_approved_held_question_enters_the_inbox(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await client.post(
        f"/v1/communities/{forum.community_id}/automod/rules",
        json={"name": "Links", "kind": "new_member", "config": {"min_posts": 1}, "action": "hold"},
        headers=forum.staff(),
    )
    held = await client.post(
        f"/v1/communities/{forum.community_id}/threads",
        json={
            "category_id": forum.category_id,
            "kind": "question",
            "title": "How do I trade?",
            "body": "First post here.",
        },
        headers=forum.member("newbie"),
    )
    assert held.json()["status"] == "held"
    inbox_url = f"/v1/communities/{forum.community_id}/inbox"
    assert (await client.get(inbox_url, headers=forum.staff())).json()["items"] == []
    [item] = await queue(client, forum)
    assert (await decide(client, forum, item, "approve")).status_code == 200
    waiting = (await client.get(inbox_url, headers=forum.staff())).json()["items"]
    assert [i["thread"]["id"] for i in waiting] == [held.json()["id"]]


async def test_the_thread_follows_what_a_decision_shows_and_hides(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    """Hiding the accepted answer clears it; removing the newest reply points the thread at
    the one before; approving a held reply makes it the newest again."""
    thread = await start_thread(client, forum, forum.member("op"))
    answer = (await reply(client, thread["id"], "Settings, then Link.", forum.member("a"))).json()
    newest = (await reply(client, thread["id"], "buy gold cheap", forum.member("b"))).json()
    accepted = await client.post(f"/v1/posts/{answer['id']}/accept", headers=forum.staff())
    assert accepted.status_code == 200, accepted.text

    async def seen() -> dict:
        got = await client.get(f"/v1/threads/{thread['id']}", headers=forum.staff())
        return {k: got.json()[k] for k in ("last_post_id", "accepted_post_id", "reply_count")}

    async def decide_on(post_id: str, action: str, reporter: str) -> None:
        await report(client, forum.member(reporter), post_id)
        [item] = await queue(client, forum)
        assert (await decide(client, forum, item, action)).status_code == 200

    assert await seen() == {
        "last_post_id": newest["id"],
        "accepted_post_id": answer["id"],
        "reply_count": 2,
    }
    await decide_on(newest["id"], "remove", "r1")
    assert await seen() == {
        "last_post_id": answer["id"],
        "accepted_post_id": answer["id"],
        "reply_count": 1,
    }
    await decide_on(answer["id"], "hide", "r2")
    assert await seen() == {
        "last_post_id": thread["first_post_id"],
        "accepted_post_id": None,
        "reply_count": 0,
    }
    await client.post(
        f"/v1/communities/{forum.community_id}/automod/rules",
        json={
            "name": "Hold all",
            "kind": "caps",
            "config": {"min_length": 1, "max_ratio": 0},
            "action": "hold",
        },
        headers=forum.staff(),
    )
    held = (await reply(client, thread["id"], "HELLO", forum.member("c"))).json()
    assert held["status"] == "held"
    assert (await seen())["last_post_id"] == thread["first_post_id"]
    [item] = await queue(client, forum)
    assert (await decide(client, forum, item, "approve")).status_code == 200
    assert await seen() == {
        "last_post_id": held["id"],
        "accepted_post_id": None,
        "reply_count": 1,
    }
