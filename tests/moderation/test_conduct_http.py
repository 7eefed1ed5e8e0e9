"""Sanctions, the strike ladder, appeals, notes and `GET /v1/me` over HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.moderation import sanctions
from app.moderation.models import Appeal, MemberNote, Report, ReviewItem, Sanction, Strike
from tests.forum.conftest import Forum, start_thread
from tests.moderation.test_screening_http import events_of, reply
from tests.test_graphql import gql

pytestmark = pytest.mark.both_backends


async def member_id(client: httpx.AsyncClient, forum: Forum, sub: str) -> str:
    thread = await start_thread(client, forum, forum.member(sub, sub.title()), title=f"By {sub}")
    return thread["author"]["id"]


async def sanction(
    client: httpx.AsyncClient, forum: Forum, member: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/members/{member}/sanctions",
        json={"kind": "mute", "reason": "Spamming", **body},
        headers=forum.staff(),
    )


async def test_a_sanction_rules_the_members_status_until_lifted_or_ended(
    app: Any, client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    rook = await member_id(client, forum, "rook")
    muted = await sanction(client, forum, rook, duration_hours=1)
    assert muted.status_code == 201, muted.text
    body = muted.json()
    assert (body["kind"], body["active"], body["issued_by"]["type"]) == ("mute", True, "key")
    thread = await start_thread(client, forum, forum.member("op"))
    refused = await reply(client, thread["id"], "hello", forum.member("rook", "Rook"))
    assert refused.status_code == 403 and refused.json()["member_status"] == "muted"
    staff_view = await client.get(f"/v1/members/{rook}", headers=forum.staff())
    assert staff_view.json()["status"] == "muted"
    assert staff_view.json()["moderation"]["active_sanctions"] == 1

    lifted = await client.post(
        f"/v1/sanctions/{body['id']}/lift", json={"reason": "Apologised"}, headers=forum.staff()
    )
    assert lifted.status_code == 200
    assert (lifted.json()["active"], lifted.json()["lifted_reason"]) == (False, "Apologised")
    again = await client.post(
        f"/v1/sanctions/{body['id']}/lift", json={"reason": "x"}, headers=forum.staff()
    )
    assert again.status_code == 409
    assert (
        await reply(client, thread["id"], "sorry", forum.member("rook", "Rook"))
    ).status_code == 201

    # An ended sanction lifts itself: time is injected, not slept.
    timed = (await sanction(client, forum, rook, kind="suspend", duration_hours=2)).json()
    async with app.state.runtime.unit_of_work() as session:
        row = await session.get_one(Sanction, uuid.UUID(timed["id"]))
        assert await sanctions.expire_due(session, now=row.ends_at - timedelta(seconds=1)) == 0
        assert await sanctions.expire_due(session, now=row.ends_at + timedelta(seconds=1)) == 1
    assert (await client.get(f"/v1/members/{rook}", headers=forum.staff())).json()[
        "status"
    ] == "active"
    [expired] = await events_of(app, "sanction.expired")
    assert expired["id"] == timed["id"]
    active = await client.get(
        f"/v1/communities/{forum.community_id}/sanctions?active=true", headers=forum.staff()
    )
    assert active.json()["items"] == []

    warn = await sanction(client, forum, rook, kind="warn", duration_hours=1)
    assert warn.status_code == 422
    assert (await sanction(client, other_forum, rook)).status_code == 404
    assert muted.headers["Location"] == f"/v1/sanctions/{body['id']}"
    assert (await client.get(muted.headers["Location"], headers=forum.staff())).status_code == 200
    elsewhere = await client.get(muted.headers["Location"], headers=other_forum.staff())
    assert elsewhere.status_code == 404
    analyst = await client.post(
        f"/v1/members/{rook}/sanctions",
        json={"kind": "ban", "reason": "x"},
        headers=forum.staff("analyst"),
    )
    assert analyst.status_code == 403


async def test_the_strike_ladder_climbs_and_strikes_decay(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    url = f"/v1/communities/{forum.community_id}/strike-policy"
    assert (await client.get(url, headers=forum.staff())).json()["decay_days"] == 90  # default
    policy = {
        "ladder": [
            {"strikes": 1, "kind": "warn"},
            {"strikes": 2, "kind": "mute", "duration_hours": 1},
            {"strikes": 3, "kind": "ban"},
        ],
        "decay_days": 30,
    }
    assert (await client.put(url, json=policy, headers=forum.staff())).status_code == 403
    assert (await client.put(url, json=policy, headers=forum.staff("manager"))).status_code == 200
    unordered = {**policy, "ladder": [*reversed(policy["ladder"]), {"strikes": 3, "kind": "ban"}]}
    kept = await client.put(url, json=unordered, headers=forum.staff("manager"))
    assert kept.json()["ladder"] == [
        {"strikes": 1, "kind": "warn", "duration_hours": None},
        {"strikes": 2, "kind": "mute", "duration_hours": 1.0},
        {"strikes": 3, "kind": "ban", "duration_hours": None},
    ]

    rook = await member_id(client, forum, "rook")
    strikes_url = f"/v1/members/{rook}/strikes"
    first = await client.post(strikes_url, json={"reason": "Spam"}, headers=forum.staff())
    assert first.status_code == 201, first.text
    assert first.json()["sanction"]["kind"] == "warn"
    assert first.json()["sanction"]["issued_by"] == {
        "type": "ladder",
        "id": None,
        "name": "Strike ladder",
    }
    second = await client.post(strikes_url, json={"reason": "Spam again"}, headers=forum.staff())
    assert second.json()["sanction"]["kind"] == "mute"
    # The first strike is now older than decay_days: it no longer counts.
    async with app.state.runtime.unit_of_work() as session:
        strike = await session.get_one(Strike, uuid.UUID(first.json()["strike"]["id"]))
        strike.created_at -= timedelta(days=31)
    third = await client.post(strikes_url, json={"reason": "Once more"}, headers=forum.staff())
    assert third.json()["sanction"]["kind"] == "mute"  # 2 counting strikes, not 3
    listed = await client.get(strikes_url, headers=forum.staff())
    assert [s["counts"] for s in listed.json()["items"]] == [True, True, False]
    log = await client.get(f"/v1/audit-log?target_id={rook}", headers=forum.staff("manager"))
    created = [e for e in log.json()["items"] if e["action"] == "sanction.created"]
    assert {e["actor"]["id"] for e in created} == {forum.org.key_ids["moderator"]}


async def test_a_banned_member_appeals_and_an_overturn_lifts_the_ban(
    app: Any, client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    rook = await member_id(client, forum, "rook")
    await client.put(
        f"/v1/communities/{forum.community_id}/strike-policy",
        json={"ladder": [{"strikes": 1, "kind": "ban"}], "decay_days": 30},
        headers=forum.staff("manager"),
    )
    added = await client.post(
        f"/v1/members/{rook}/strikes", json={"reason": "Cheating"}, headers=forum.staff()
    )
    ban = added.json()["sanction"]
    banned = forum.member("rook", "Rook")
    me = await client.get("/v1/me", headers=banned)
    assert me.status_code == 200
    assert me.json()["member"]["status"] == "banned"
    assert [s["id"] for s in me.json()["sanctions"]] == [ban["id"]]
    appealed = await client.post(
        f"/v1/sanctions/{ban['id']}/appeal",
        json={"statement": "It was my brother on my account."},
        headers=banned,
    )
    assert appealed.status_code == 201, appealed.text
    again = await client.post(
        f"/v1/sanctions/{ban['id']}/appeal", json={"statement": "Please"}, headers=banned
    )
    assert again.status_code == 409
    stranger = await client.post(
        f"/v1/sanctions/{ban['id']}/appeal", json={"statement": "Me too"}, headers=forum.member("x")
    )
    assert stranger.status_code == 404
    listed = await client.get(
        f"/v1/communities/{forum.community_id}/appeals?status=open", headers=forum.staff()
    )
    [appeal] = listed.json()["items"]
    decided = await client.post(
        f"/v1/appeals/{appeal['id']}/decision",
        json={"outcome": "overturn", "note": "Account sharing, first time"},
        headers=forum.staff(),
    )
    assert decided.status_code == 200
    assert decided.json()["status"] == "overturned"
    twice = await client.post(
        f"/v1/appeals/{appeal['id']}/decision",
        json={"outcome": "uphold", "note": "x"},
        headers=forum.staff(),
    )
    assert twice.status_code == 409
    me = (await client.get("/v1/me", headers=banned)).json()
    assert me["member"]["status"] == "active" and me["sanctions"] == []
    assert [a["status"] for a in me["appeals"]] == ["overturned"]
    # The appeal and the sanction, each by itself: for staff, and for the member concerned.
    outcome = await client.get(appealed.headers["Location"], headers=banned)
    assert (outcome.json()["id"], outcome.json()["status"]) == (appeal["id"], "overturned")
    lifted = await client.get(f"/v1/sanctions/{ban['id']}", headers=banned)
    assert (lifted.json()["active"], lifted.json()["appeal_id"]) == (False, appeal["id"])
    for path in (appealed.headers["Location"], f"/v1/sanctions/{ban['id']}"):
        assert (await client.get(path, headers=forum.staff())).status_code == 200
        assert (await client.get(path, headers=forum.staff("viewer"))).status_code == 403
        assert (await client.get(path, headers=forum.member("x"))).status_code == 404
        assert (await client.get(path, headers=other_forum.staff())).status_code == 404
    async with app.state.runtime.read_session() as session:
        strike = (await session.scalars(select(Strike))).one()
    assert strike.voided_at is not None
    assert (await client.get("/v1/me", headers=forum.staff())).status_code == 403


async def test_notes_and_the_staff_view_of_a_member(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    rook = await member_id(client, forum, "rook")
    thread = await start_thread(client, forum, forum.member("op"))
    post = await reply(client, thread["id"], "meh", forum.member("rook", "Rook"))
    await client.post(
        "/v1/reports",
        json={"target_type": "post", "target_id": post.json()["id"], "reason": "spam"},
        headers=forum.member("p1"),
    )
    note = await client.post(
        f"/v1/members/{rook}/notes",
        json={"body": "Warned in voice chat last week."},
        headers=forum.staff(),
    )
    assert note.status_code == 201
    assert note.json()["author_name"] == "moderator key"
    listed = await client.get(f"/v1/members/{rook}/notes", headers=forum.staff())
    assert [n["body"] for n in listed.json()["items"]] == ["Warned in voice chat last week."]
    assert (
        await client.get(f"/v1/members/{rook}/notes", headers=forum.member("p1"))
    ).status_code == 403
    view = await client.get(f"/v1/members/{rook}", headers=forum.staff())
    assert view.json()["moderation"] == {
        "reports_against": 1,
        "strikes": 0,
        "active_sanctions": 0,
        "notes": 1,
    }
    [item] = (
        await client.get(f"/v1/communities/{forum.community_id}/queue", headers=forum.staff())
    ).json()["items"]
    decided = await client.post(
        f"/v1/queue/{item['id']}/decision",
        json={"action": "hide", "version": item["version"], "reason": "Spam", "strike": True},
        headers=forum.staff(),
    )
    assert decided.status_code == 200, decided.text
    [strike] = (await client.get(f"/v1/members/{rook}/strikes", headers=forum.staff())).json()[
        "items"
    ]
    assert (strike["reason"], strike["review_item_id"]) == ("Spam", item["id"])
    [warned] = (await client.get(f"/v1/members/{rook}/sanctions", headers=forum.staff())).json()[
        "items"
    ]
    assert (warned["kind"], warned["strike_id"]) == ("warn", strike["id"])  # the default ladder


async def test_graphql_sanctions_strikes_appeals_and_me(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    rook = await member_id(client, forum, "rook")
    issued = await gql(
        client,
        """mutation($m: UUID!) {
            issueSanction(memberId: $m, kind: ban, reason: "Cheating") {
                id kind active issuedBy { type }
            }
        }""",
        forum.org,
        "moderator",
        m=rook,
    )
    ban = issued["data"]["issueSanction"]
    assert (ban["kind"], ban["active"], ban["issuedBy"]) == ("ban", True, {"type": "key"})
    banned = forum.member("rook", "Rook")
    appealed = await client.post(
        "/graphql",
        json={
            "query": 'mutation($id: UUID!) { appealSanction(id: $id, statement: "Not me") '
            "{ id status } }",
            "variables": {"id": ban["id"]},
        },
        headers=banned,
    )
    appeal = appealed.json()["data"]["appealSanction"]
    assert appeal["status"] == "open"
    me = await client.post(
        "/graphql",
        json={"query": "{ me { member { status } sanctions { kind } appeals { status } } }"},
        headers=banned,
    )
    assert me.json()["data"]["me"] == {
        "member": {"status": "banned"},
        "sanctions": [{"kind": "ban"}],
        "appeals": [{"status": "open"}],
    }
    decided = await gql(
        client,
        'mutation($id: UUID!) { decideAppeal(id: $id, outcome: overturn, note: "Ok") { status } }',
        forum.org,
        "moderator",
        id=appeal["id"],
    )
    assert decided["data"]["decideAppeal"] == {"status": "overturned"}
    ladder = await gql(
        client,
        """mutation($c: UUID!) {
            setStrikePolicy(communityId: $c, decayDays: 10,
                            ladder: [{strikes: 1, kind: mute, durationHours: 2}]) {
                decayDays ladder { strikes kind durationHours }
            }
        }""",
        forum.org,
        "manager",
        c=forum.community_id,
    )
    assert ladder["data"]["setStrikePolicy"]["ladder"] == [
        {"strikes": 1, "kind": "mute", "durationHours": 2.0}
    ]
    struck = await gql(
        client,
        'mutation($m: UUID!) { addStrike(memberId: $m, reason: "Spam") { sanction { kind } } }',
        forum.org,
        "moderator",
        m=rook,
    )
    assert struck["data"]["addStrike"] == {"sanction": {"kind": "mute"}}


async def test_erasing_a_member_leaves_nothing_of_theirs_in_moderation(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    await client.post(
        f"/v1/communities/{forum.community_id}/automod/rules",
        json={"name": "Gold", "kind": "keyword", "config": {"terms": ["gold"]}, "action": "flag"},
        headers=forum.staff(),
    )
    rook = await member_id(client, forum, "rook")
    thread = await start_thread(client, forum, forum.member("op"))
    post = await reply(client, thread["id"], "selling GOLD, ask Rook", forum.member("rook", "Rook"))
    await client.post(
        "/v1/reports",
        json={
            "target_type": "post",
            "target_id": post.json()["id"],
            "reason": "scam",
            "note": "Rook scammed me yesterday",
        },
        headers=forum.member("p1"),
    )
    await client.post(
        f"/v1/members/{rook}/notes", json={"body": "Rook lives in Leeds"}, headers=forum.staff()
    )
    ban = (await sanction(client, forum, rook, kind="ban")).json()
    await client.post(
        f"/v1/sanctions/{ban['id']}/appeal",
        json={"statement": "I am Rook Smith"},
        headers=forum.member("rook", "Rook"),
    )
    erased = await client.delete(f"/v1/members/{rook}", headers=forum.staff("owner"))
    assert erased.status_code == 204, erased.text
    rows: list[str] = []
    async with app.state.runtime.read_session() as session:
        for model in (ReviewItem, Report, Appeal, MemberNote, Sanction):
            rows += [str(row.__dict__) for row in await session.scalars(select(model))]
    stored = " ".join(rows)
    for text in ("GOLD", "scammed", "Leeds", "Rook Smith"):
        assert text not in stored, text
    log = await client.get("/v1/audit-log?limit=100", headers=forum.staff("manager"))
    assert "Rook" not in log.text


async def test_a_members_export_holds_their_moderation_record(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    rook = await member_id(client, forum, "rook")
    thread = await start_thread(client, forum, forum.member("op"))
    await client.post(
        "/v1/reports",
        json={
            "target_type": "thread",
            "target_id": thread["id"],
            "reason": "other",
            "note": "Dupe",
        },
        headers=forum.member("rook", "Rook"),
    )
    ban = (await sanction(client, forum, rook, kind="ban", reason="Cheating")).json()
    await client.post(
        f"/v1/sanctions/{ban['id']}/appeal",
        json={"statement": "Not me"},
        headers=forum.member("rook", "Rook"),
    )
    export = await client.get(f"/v1/members/{rook}/export", headers=forum.staff("manager"))
    assert export.status_code == 200, export.text
    record = export.json()["moderation"]
    assert [r["note"] for r in record["reports_filed"]] == ["Dupe"]
    assert [(s["kind"], s["reason"]) for s in record["sanctions"]] == [("ban", "Cheating")]
    assert [a["statement"] for a in record["appeals"]] == ["Not me"]
    assert record["strikes"] == []
