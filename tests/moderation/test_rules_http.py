"""Automod rules over HTTP: writing them, the dry run, the backtest; roles and tenancy."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.communities.models import Community
from app.moderation import backtest, rulebook
from tests.forum.conftest import Forum, start_thread
from tests.test_graphql import gql

pytestmark = pytest.mark.both_backends


async def add_rule(client: httpx.AsyncClient, forum: Forum, **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/v1/communities/{forum.community_id}/automod/rules",
        json={"name": "Rule", "action": "hold", **body},
        headers=forum.staff(),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_rule_is_written_read_changed_and_deleted(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    created = await client.post(
        f"/v1/communities/{forum.community_id}/automod/rules",
        json={
            "name": "Scams",
            "kind": "keyword",
            "config": {"terms": ["free skins", "scam*"]},
            "action": "hold",
            "message": "Held for a moderator: it looks like a scam.",
        },
        headers=forum.staff(),
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert created.headers["location"] == f"/v1/automod/rules/{rule['id']}"
    assert rule | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "community_id": forum.community_id,
        "name": "Scams",
        "kind": "keyword",
        "config": {"terms": ["free skins", "scam*"], "match": "word"},
        "action": "hold",
        "action_config": None,
        "severity": 3,
        "enabled": True,
        "exempt_roles": ["moderator"],
        "category_ids": [],
        "message": "Held for a moderator: it looks like a scam.",
        "created_at": None,
        "updated_at": None,
    }
    url = f"/v1/automod/rules/{rule['id']}"
    changed = await client.patch(
        url,
        json={"config": {"terms": ["free skins"], "match": "substring"}, "action": "timeout"},
        headers=forum.staff(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["config"] == {"terms": ["free skins"], "match": "substring"}
    assert changed.json()["action_config"] == {"minutes": 60}
    listed = await client.get(
        f"/v1/communities/{forum.community_id}/automod/rules", headers=forum.staff()
    )
    assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]
    assert (await client.delete(url, headers=forum.staff())).status_code == 204
    assert (await client.get(url, headers=forum.staff())).status_code == 404
    log = await client.get(f"/v1/audit-log?target_id={rule['id']}", headers=forum.staff("manager"))
    assert [e["action"] for e in log.json()["items"]] == [
        "automod_rule.deleted",
        "automod_rule.updated",
        "automod_rule.created",
    ]
    assert "free skins" not in log.text  # a rule's terms can quote members: not kept


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        # `loc` entries are strings, an index too (as the Problem schema says)
        ({"kind": "regex", "config": {"patterns": ["(unclosed"]}}, 422, '"patterns","0"]'),
        ({"kind": "keyword", "config": {"max": 3}}, 422, "config"),
        ({"kind": "telepathy", "config": {}}, 422, "kind"),
        ({"kind": "caps", "config": {}, "action_config": {"minutes": 5}}, 422, "action_config"),
        ({"kind": "caps", "config": {}, "severity": 6}, 422, "severity"),
        ({"kind": "link", "config": {"block_domains": ["not a domain"]}}, 422, "block_domains"),
        (
            {
                "kind": "caps",
                "config": {},
                "category_ids": ["00000000-0000-4000-8000-000000000000"],
            },
            404,
            "category_ids",
        ),
    ],
)
async def test_bad_rules_are_refused_with_the_reason(
    client: httpx.AsyncClient, forum: Forum, body: dict[str, Any], status: int, where: str
) -> None:
    refused = await client.post(
        f"/v1/communities/{forum.community_id}/automod/rules",
        json={"name": "Bad", "action": "hold", **body},
        headers=forum.staff(),
    )
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert where in refused.text


async def test_a_patch_keeps_the_kind_and_its_config_shape(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    rule = await add_rule(client, forum, kind="mentions", config={"max": 3})
    url = f"/v1/automod/rules/{rule['id']}"
    other_kind = await client.patch(url, json={"config": {"terms": ["x"]}}, headers=forum.staff())
    assert other_kind.status_code == 422
    assert other_kind.json()["type"].endswith("/rule-config-mismatch")
    assert "mentions" in other_kind.json()["detail"]
    not_timeout = await client.patch(
        url, json={"action_config": {"minutes": 5}}, headers=forum.staff()
    )
    assert not_timeout.status_code == 422
    assert (await client.get(url, headers=forum.staff())).json()["config"] == {"max": 3}


async def test_roles_and_other_organisations(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    rule = await add_rule(client, forum, kind="caps", config={})
    rules_url = f"/v1/communities/{forum.community_id}/automod/rules"
    body = {"name": "x", "kind": "caps", "config": {}, "action": "flag"}
    for headers in (forum.staff("analyst"), forum.member()):
        assert (await client.get(rules_url, headers=headers)).status_code == 403
        assert (await client.post(rules_url, json=body, headers=headers)).status_code == 403
    theirs = other_forum.staff("owner")
    url = f"/v1/automod/rules/{rule['id']}"
    assert (await client.get(url, headers=theirs)).status_code == 404
    assert (await client.patch(url, json={"enabled": False}, headers=theirs)).status_code == 404
    assert (await client.delete(url, headers=theirs)).status_code == 404
    assert (await client.post(rules_url, json=body, headers=theirs)).status_code == 404
    test = await client.post(
        f"/v1/communities/{forum.community_id}/automod/test", json={"text": "hi"}, headers=theirs
    )
    assert test.status_code == 404


async def test_the_dry_run_says_what_would_happen_and_why(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    scams = await add_rule(
        client,
        forum,
        name="Scams",
        kind="keyword",
        config={"terms": ["scam"]},
        message="Scam links are not allowed.",
        action="block",
    )
    await add_rule(client, forum, name="Invites", kind="link", config={"block_invites": True})
    await add_rule(
        client, forum, name="Off", kind="keyword", config={"terms": ["hello"]}, enabled=False
    )
    await add_rule(
        client,
        forum,
        name="General only",
        kind="mentions",
        config={"max": 0},
        category_ids=[forum.category_id],
        action="flag",
    )
    url = f"/v1/communities/{forum.community_id}/automod/test"
    text = "hello, free $ C @ M here: discord.gg/abc @ada"
    tried = await client.post(url, json={"text": text}, headers=forum.staff())
    assert tried.status_code == 200, tried.text
    assert tried.json()["decision"] == "block"
    assert tried.json()["message"] == "Scam links are not allowed."
    matches = {m["name"]: m for m in tried.json()["matches"]}
    assert set(matches) == {"Scams", "Invites"}  # disabled and category rules stay out
    assert matches["Scams"] | {"reason": None} == {
        "rule_id": scams["id"],
        "name": "Scams",
        "kind": "keyword",
        "action": "block",
        "matched": "$ C @ M",  # as written
        "reason": None,
    }
    in_category = await client.post(
        url, json={"text": "@ada hi", "category_id": forum.category_id}, headers=forum.staff()
    )
    assert in_category.json()["decision"] == "flag"
    clean = await client.post(url, json={"text": "Scunthorpe massacre"}, headers=forum.staff())
    assert clean.json() == {"decision": "allow", "matches": [], "message": None}


async def test_backtest_scans_past_posts_with_a_rule_not_yet_enabled(
    client: httpx.AsyncClient, forum: Forum, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backtest, "PAGE", 2)  # three posts: two pages, the next read ahead
    for n, body in enumerate(["Selling cheap g0ld, dm me", "How do I craft?", "GOLD for sale"]):
        await start_thread(client, forum, forum.member(f"p{n}"), title=f"Topic {n}", body=body)
    rule = await add_rule(client, forum, kind="keyword", config={"terms": ["gold"]}, enabled=False)
    url = f"/v1/automod/rules/{rule['id']}/backtest"
    found = await client.post(url, json={"days": 7}, headers=forum.staff())
    assert found.status_code == 200, found.text
    assert found.json()["scanned"] == 3
    assert found.json()["matched"] == 2
    assert [s["matched"] for s in found.json()["samples"]] == ["GOLD", "g0ld"]  # newest first
    assert found.json()["samples"][1]["excerpt"] == "Selling cheap g0ld, dm me"
    too_far = await client.post(url, json={"days": 91}, headers=forum.staff())
    assert too_far.status_code == 422
    flood = await add_rule(
        client, forum, kind="flood", config={"max_posts": 3, "window_seconds": 60}
    )
    replay = await client.post(
        f"/v1/automod/rules/{flood['id']}/backtest", json={"days": 7}, headers=forum.staff()
    )
    assert replay.status_code == 422
    assert "cannot replay" in replay.json()["detail"]


async def test_graphql_writes_and_tests_rules_like_rest(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    create = """mutation($community: UUID!, $input: RuleInput!) {
        createAutomodRule(communityId: $community, input: $input) {
            id kind config action actionConfig exemptRoles severity
        }
    }"""
    rule_input = {
        "name": "Mute spammers",
        "kind": "keyword",
        "config": {"terms": ["buy followers"]},
        "action": "timeout",
        "actionConfig": {"minutes": 30},
    }
    made = await gql(
        client, create, forum.org, "moderator", community=forum.community_id, input=rule_input
    )
    rule = made["data"]["createAutomodRule"]
    assert rule | {"id": None} == {
        "id": None,
        "kind": "keyword",
        "config": {"terms": ["buy followers"], "match": "word"},
        "action": "timeout",
        "actionConfig": {"minutes": 30},
        "exemptRoles": ["moderator"],
        "severity": 3,
    }
    wrong = await gql(
        client,
        create,
        forum.org,
        "moderator",
        community=forum.community_id,
        input={**rule_input, "config": {"max": 3}},
    )
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    tried = await gql(
        client,
        """query($community: UUID!) {
            automodTest(communityId: $community, text: "Buy Followers now") {
                decision matches { name matched }
            }
        }""",
        forum.org,
        "moderator",
        community=forum.community_id,
    )
    assert tried["data"]["automodTest"] == {
        "decision": "timeout",
        "matches": [{"name": "Mute spammers", "matched": "Buy Followers"}],
    }
    changed = await gql(
        client,
        "mutation($id: UUID!) { updateAutomodRule(id: $id, input: {enabled: false}) { enabled } }",
        forum.org,
        "moderator",
        id=rule["id"],
    )
    assert changed["data"]["updateAutomodRule"] == {"enabled": False}
    refused = await gql(
        client,
        "query($c: UUID!) { automodRules(communityId: $c) { items { id } } }",
        forum.org,
        "analyst",
        c=forum.community_id,
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_posts_arriving_together_after_a_change_compile_the_rules_once(
    app: Any, client: httpx.AsyncClient, forum: Forum, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[int] = []

    class Counted(rulebook.Compiled):
        def __init__(self, rules: Any) -> None:
            compiled.append(len(rules))
            super().__init__(rules)

    monkeypatch.setattr(rulebook, "Compiled", Counted)
    book = app.state.runtime.automod
    community = uuid.UUID(forum.community_id)

    async def version() -> int:
        async with app.state.runtime.read_session() as session:
            return await session.scalar(
                select(Community.automod_version).where(Community.id == community)
            )

    await add_rule(client, forum, kind="keyword", config={"terms": ["scam"]})
    first = await version()
    sets = await asyncio.gather(*(book.rules(community, first) for _ in range(20)))
    assert compiled == [1] and all(s is sets[0] for s in sets)
    # A writer that read an older version takes the newer rules already compiled.
    assert await book.rules(community, first - 1) is sets[0]

    await add_rule(client, forum, kind="keyword", config={"terms": ["gold"]})
    second = await version()
    sets = await asyncio.gather(*(book.rules(community, second) for _ in range(20)))
    assert compiled == [1, 2] and len(sets[0].rules) == 2
