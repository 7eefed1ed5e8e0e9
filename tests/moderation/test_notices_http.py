"""What a member is told (`notify`), in the community's own wording."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.communities.models import Community
from tests.forum.conftest import Forum
from tests.moderation.test_conduct_http import member_id, sanction
from tests.moderation.test_queue_http import a_post, decide, queue, report
from tests.moderation.test_screening_http import events_of
from tests.test_graphql import gql

pytestmark = pytest.mark.both_backends


async def put_notices(client: httpx.AsyncClient, forum: Forum, role: str, **wording: str):
    return await client.put(
        f"/v1/communities/{forum.community_id}/member-notices",
        json=wording,
        headers=forum.staff(role),
    )


async def test_notices_speak_in_the_communitys_words(
    app: Any, client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    path = f"/v1/communities/{forum.community_id}/member-notices"
    default = await client.get(path, headers=forum.staff())
    assert default.json()["mute"] == "You are muted in $community $until."
    assert (await put_notices(client, forum, "moderator", hide="x")).status_code == 403
    assert (
        await client.put(
            f"/v1/communities/{other_forum.community_id}/member-notices",
            json={},
            headers=forum.staff("manager"),
        )
    ).status_code == 404
    bad = await put_notices(client, forum, "manager", hide="Hi $name")
    assert bad.status_code == 422
    assert "unknown placeholder $name" in bad.json()["errors"][0]["message"]
    await client.patch(
        f"/v1/communities/{forum.community_id}",
        json={"tone": {"sign_off": "— The Starfall crew"}},
        headers=forum.staff("manager"),
    )
    saved = await put_notices(
        client,
        forum,
        "manager",
        hide="Hey $member, we tucked your $what away.",
        warn="Consider this a friendly warning, $member.",
        mute="You're on a cool-down in $community $until.",
        reason="Why: $reason",
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["ban"] == "You are banned from $community $until."  # kept its default

    # A decision with a strike: the outcome, the ladder's warning, the reason, the sign-off.
    post = await a_post(client, forum, by="spammer")
    await report(client, forum.member("p1"), post["id"])
    [item] = await queue(client, forum)
    decided = await decide(
        client,
        forum,
        item,
        "hide",
        reason="gold ads",
        strike=True,
        sanction={"kind": "mute", "duration_hours": 2},
        notify=True,
    )
    assert decided.status_code == 200, decided.text
    [event] = await events_of(app, "review.decided")
    [_, mute] = await events_of(app, "sanction.created")
    until = mute["ends_at"][:16].replace("T", " ")
    assert event["notify"]["message"] == (
        "Hey Spammer, we tucked your post away. Consider this a friendly warning, Spammer."
        f" You're on a cool-down in Starfall until {until} UTC. Why: gold ads"
        "\n\n— The Starfall crew"
    )
    # The decision's notice tells it all: its sanctions' own events carry none.
    assert [e["notify"] for e in await events_of(app, "sanction.created")] == [None, None]

    rook = await member_id(client, forum, "rook")
    muted = await sanction(client, forum, rook, duration_hours=24, notify=True)
    assert muted.status_code == 201
    until = muted.json()["ends_at"][:16].replace("T", " ")
    [event] = [e for e in await events_of(app, "sanction.created") if e["member_id"] == rook]
    assert event["notify"] == {
        "member_id": rook,
        "locale": "en",
        "message": f"You're on a cool-down in Starfall until {until} UTC. Why: Spamming"
        "\n\n— The Starfall crew",
    }
    banned = await sanction(client, forum, rook, kind="ban", reason="Cheating")
    appeal = await client.post(
        f"/v1/sanctions/{banned.json()['id']}/appeal",
        json={"statement": "It was my brother"},
        headers=forum.member("rook", "Rook"),
    )
    decided = await client.post(
        f"/v1/appeals/{appeal.json()['id']}/decision",
        json={"outcome": "overturn", "note": "Shared account", "notify": True},
        headers=forum.staff(),
    )
    assert decided.status_code == 200
    [event] = await events_of(app, "appeal.decided")
    assert event["notify"]["message"] == (
        "Your appeal was accepted; the sanction is lifted. Why: Shared account"
        "\n\n— The Starfall crew"
    )


async def test_graphql_reads_and_sets_the_wording(client: httpx.AsyncClient, forum: Forum) -> None:
    query = """mutation($c: UUID!, $w: MemberNoticesInput!) {
        setMemberNotices(communityId: $c, wording: $w) { ban warn }
    }"""
    refused = await gql(client, query, forum.org, "manager", c=forum.community_id, w={"ban": "$x"})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "unknown placeholder $x" in refused["errors"][0]["message"]
    done = await gql(
        client, query, forum.org, "manager", c=forum.community_id, w={"ban": "Bye, $member."}
    )
    assert done["data"]["setMemberNotices"] == {
        "ban": "Bye, $member.",
        "warn": "This is a warning from the $community moderators.",
    }
    read = await gql(
        client,
        "query($c: UUID!) { memberNotices(communityId: $c) { ban } }",
        forum.org,
        "moderator",
        c=forum.community_id,
    )
    assert read["data"]["memberNotices"] == {"ban": "Bye, $member."}


async def test_a_strike_tells_of_the_ladder_and_old_wording_never_fails(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    rook = await member_id(client, forum, "rook")
    struck = await client.post(
        f"/v1/members/{rook}/strikes",
        json={"reason": "Spam", "notify": True},
        headers=forum.staff(),
    )
    assert struck.status_code == 201, struck.text
    [event] = await events_of(app, "sanction.created")
    assert event["notify"]["message"] == (
        "This is a warning from the Starfall moderators. Reason: Strike 1: Spam"
    )
    # Wording stored by a version that allowed what this one refuses reads as the default.
    async with app.state.runtime.unit_of_work() as session:
        community = await session.get_one(Community, uuid.UUID(forum.community_id))
        community.member_notices = {"warn": "Careful, $nickname.", "gone": "x"}
    wording = await client.get(
        f"/v1/communities/{forum.community_id}/member-notices", headers=forum.staff()
    )
    assert wording.json()["warn"] == "This is a warning from the $community moderators."
    again = await client.post(
        f"/v1/members/{rook}/strikes",
        json={"reason": "Spam again", "notify": True},
        headers=forum.staff(),
    )
    assert again.status_code == 201, again.text
