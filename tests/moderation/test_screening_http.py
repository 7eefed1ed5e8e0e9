"""Automod on forum writes: what each action does to a post or thread, over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core import metrics
from app.core.events import OutboxEvent
from app.moderation.models import ReviewItem, Sanction
from tests.conftest import http_client, make_settings, running_app
from tests.forum.conftest import Forum, start_thread
from tests.moderation.test_rules_http import add_rule
from tests.schedule.conftest import eventually

pytestmark = pytest.mark.both_backends


async def reply(
    client: httpx.AsyncClient, thread_id: str, body: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/v1/threads/{thread_id}/posts", json={"body": body}, headers=headers)


async def bodies_seen(client: httpx.AsyncClient, thread_id: str, headers: dict[str, str]) -> list:
    listed = await client.get(f"/v1/threads/{thread_id}/posts?limit=100", headers=headers)
    assert listed.status_code == 200, listed.text
    return [p["body"] for p in listed.json()["items"]]


async def rows(app: Any, model: Any) -> list[Any]:
    async with app.state.runtime.read_session() as session:
        return list(await session.scalars(select(model)))


async def events_of(app: Any, kind: str) -> list[dict[str, Any]]:
    """The events of a kind, in the order they occurred."""
    async with app.state.runtime.read_session() as session:
        found = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == kind).order_by(OutboxEvent.occurred_at)
        )
        return [e.data for e in found]


async def test_a_held_reply_waits_for_review_and_says_why(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    rule = await add_rule(
        client, forum, name="Scams", kind="keyword", config={"terms": ["free skins"]}, severity=4
    )
    thread = await start_thread(client, forum, forum.member("op"))
    author, other = forum.member("p1"), forum.member("p2")
    held = await reply(client, thread["id"], "FREE S K I N S at my site", author)
    assert held.status_code == 201, held.text
    assert held.json()["status"] == "held"
    assert "FREE S K I N S at my site" in await bodies_seen(client, thread["id"], author)
    assert "FREE S K I N S at my site" not in await bodies_seen(client, thread["id"], other)
    fresh = await client.get(f"/v1/threads/{thread['id']}", headers=other)
    assert fresh.json()["reply_count"] == 0  # the thread did not move for anyone else

    [item] = await rows(app, ReviewItem)
    assert (item.target_type, str(item.target_id), item.status) == (
        "post",
        held.json()["id"],
        "open",
    )
    assert [(e["rule_id"], e["action"], e["matched"]) for e in item.automod] == [
        (rule["id"], "hold", "FREE S K I N S")
    ]
    assert (item.score, item.priority) == (8.0, "high")  # twice the severity
    [matched] = await events_of(app, "automod.matched")
    assert matched["decision"] == "hold" and matched["review_item_id"] == str(item.id)
    log = await client.get(
        f"/v1/audit-log?target_id={held.json()['id']}", headers=forum.staff("manager")
    )
    [entry] = log.json()["items"]
    assert entry["action"] == "post.held"
    assert entry["actor"] == {"type": "automod", "id": rule["id"], "name": "Scams"}

    clean = await reply(client, thread["id"], "Thanks, that helped!", author)
    assert clean.json()["status"] == "visible"


async def test_a_blocked_write_is_refused_with_the_rules_message(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    await add_rule(
        client,
        forum,
        name="Invites",
        kind="link",
        config={"block_invites": True},
        action="block",
        message="Invites to other servers are not allowed here.",
    )
    thread = await start_thread(client, forum, forum.member("op"))
    refused = await reply(client, thread["id"], "join us: discord.gg/abcdef", forum.member())
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == "https://hearth.dev/problems/automod-blocked"
    assert problem["detail"] == "Invites to other servers are not allowed here."
    assert await bodies_seen(client, thread["id"], forum.staff()) == ["I can't find the button."]
    # Reported by a job once the refused write has rolled back.
    [matched] = await eventually(lambda: events_of(app, "automod.matched"))
    assert matched["decision"] == "block" and matched["target_id"] is None
    new_thread = await client.post(
        f"/v1/communities/{forum.community_id}/threads",
        json={
            "category_id": forum.category_id,
            "kind": "discussion",
            "title": "Come play with us",
            "body": "discord.gg/abcdef",
        },
        headers=forum.member(),
    )
    assert new_thread.status_code == 422


async def test_a_timeout_holds_the_post_and_mutes_its_author(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    await add_rule(
        client,
        forum,
        name="Slurs",
        kind="regex",
        config={"patterns": [r"\bn00b ?sc[a@]m\b"]},
        action="timeout",
        action_config={"minutes": 30},
        message="Muted for 30 minutes: mind your language.",
    )
    thread = await start_thread(client, forum, forum.member("op"))
    muted = await reply(client, thread["id"], "you n00b scam", forum.member())
    assert muted.status_code == 201 and muted.json()["status"] == "held"
    [sanction] = await rows(app, Sanction)
    assert (sanction.kind, sanction.issued_by_type, sanction.issued_by_name) == (
        "mute",
        "automod",
        "Slurs",
    )
    assert (sanction.ends_at - sanction.starts_at).total_seconds() == 30 * 60
    again = await reply(client, thread["id"], "sorry", forum.member())
    assert again.status_code == 403
    assert again.json()["member_status"] == "muted"
    assert "mind your language" in again.json()["detail"]
    changed = await events_of(app, "member.status_changed")
    assert [c["status"] for c in changed] == ["muted"]


async def test_staff_are_exempt_unless_the_rule_says_otherwise(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await add_rule(client, forum, name="Caps", kind="caps", config={"min_length": 5}, action="hide")
    thread = await start_thread(client, forum, forum.member("op"))
    staff = await reply(client, thread["id"], "SERVERS ARE BACK UP", forum.staff())
    assert staff.json()["status"] == "visible"
    await add_rule(
        client,
        forum,
        name="Caps for all",
        kind="caps",
        config={"min_length": 5},
        action="flag",
        exempt_roles=[],
    )
    flagged = await reply(client, thread["id"], "MAINTENANCE AT NOON", forum.staff())
    assert flagged.json()["status"] == "visible"  # flagged: queued, still shown
    member = await reply(client, thread["id"], "WHY IS IT DOWN AGAIN", forum.member())
    assert member.json()["status"] == "hidden"


async def test_threads_and_edits_are_screened_too(
    app: Any, client: httpx.AsyncClient, forum: Forum
) -> None:
    await add_rule(client, forum, name="Gold", kind="keyword", config={"terms": ["g*ld seller"]})
    thread = await client.post(
        f"/v1/communities/{forum.community_id}/threads",
        json={
            "category_id": forum.category_id,
            "kind": "discussion",
            "title": "Cheap Gold Seller here",
            "body": "Message me.",
        },
        headers=forum.member(),
    )
    assert thread.status_code == 201 and thread.json()["status"] == "held"
    clean = await start_thread(client, forum, forum.member("op"))
    post = await reply(client, clean["id"], "Anyone up for a raid?", forum.member("p2"))
    edited = await client.patch(
        f"/v1/posts/{post.json()['id']}",
        json={"body": "best g0ld seller in town"},
        headers=forum.member("p2"),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "held"
    items = {(i.target_type, str(i.target_id)) for i in await rows(app, ReviewItem)}
    assert items == {("thread", thread.json()["id"]), ("post", post.json()["id"])}
    assert uuid.UUID(thread.json()["id"])


async def test_a_catastrophic_pattern_cannot_stall_a_post(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    rule = await add_rule(
        client, forum, name="Backtracker", kind="regex", config={"patterns": [r"^(a+)+$"]}
    )
    assert rule["config"]["patterns"] == [r"^(a+)+$"]
    too_long = await client.post(
        f"/v1/communities/{forum.community_id}/automod/rules",
        json={
            "name": "Huge",
            "kind": "regex",
            "config": {"patterns": ["a" * 501]},
            "action": "hold",
        },
        headers=forum.staff(),
    )
    assert too_long.status_code == 422
    thread = await start_thread(client, forum, forum.member("op"))
    started = asyncio.get_running_loop().time()
    posted = await reply(client, thread["id"], "a" * 40 + "!", forum.member())
    assert posted.status_code == 201 and posted.json()["status"] == "visible"
    assert asyncio.get_running_loop().time() - started < 2  # the search stopped at 50 ms


async def test_toxicity_rules_record_their_model_and_a_dead_scorer_is_skipped(
    app: Any, client: httpx.AsyncClient, forum: Forum, settings: Any
) -> None:
    await add_rule(client, forum, name="Toxic", kind="toxicity", config={"threshold": 0.8})
    thread = await start_thread(client, forum, forum.member("op"))
    held = await reply(client, thread["id"], "shut up you fucking idiot", forum.member())
    assert held.json()["status"] == "held"
    [item] = await rows(app, ReviewItem)
    toxicity = item.automod[0]["toxicity"]
    assert (toxicity["provider"], toxicity["model"]) == ("local", "alt-profanity-check")
    assert toxicity["version"] and toxicity["value"] >= 0.8

    # A model server that does not answer: the post goes on, the skip is counted.
    down = make_settings(settings.database_url, toxicity_url="http://127.0.0.1:9/score")
    async with running_app(down) as other, http_client(other) as other_client:
        before = metrics.AUTOMOD_TOXICITY_SKIPPED.labels(provider="http")._value.get()
        posted = await reply(other_client, thread["id"], "you fucking idiot", forum.member())
        assert posted.status_code == 201 and posted.json()["status"] == "visible"
        after = metrics.AUTOMOD_TOXICITY_SKIPPED.labels(provider="http")._value.get()
        assert after == before + 1
