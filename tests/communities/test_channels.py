"""Channels over HTTP: per-kind configuration, write-only secrets, real test sends."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import Org
from tests.receiver import Receiver, Reply


@pytest.fixture
async def community(client: httpx.AsyncClient, org: Org) -> dict:
    response = await client.post(
        "/v1/communities",
        json={"slug": "starfall", "name": "Starfall"},
        headers=org.auth("manager"),
    )
    return response.json()


async def add_channel(
    client: httpx.AsyncClient, org: Org, community: dict, **payload
) -> httpx.Response:
    if payload.get("kind") == "forum":
        # A forum channel names the category it posts in; channels do not check that it
        # exists (content preflight does), so any id serves here.
        payload.setdefault("config", {"category_id": str(uuid.uuid4())})
    return await client.post(
        f"/v1/communities/{community['id']}/channels", json=payload, headers=org.auth("manager")
    )


@pytest.mark.both_backends
async def test_each_kind_is_created_with_its_config(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    discord = await add_channel(
        client,
        org,
        community,
        name="discord-news",
        kind="discord",
        config={
            "webhook_url": receiver.url("/api/webhooks/123/SECRET-TOKEN"),
            "username": "Starfall",
        },
    )
    assert discord.status_code == 201
    assert discord.headers["location"] == f"/v1/channels/{discord.json()['id']}"
    slack = await add_channel(
        client,
        org,
        community,
        name="slack-team",
        kind="slack",
        config={"webhook_url": receiver.url("/services/T1/B2/SLACKTOKEN")},
    )
    assert slack.status_code == 201
    hook = await add_channel(
        client, org, community, name="tool", kind="webhook", config={"url": receiver.url("/tool")}
    )
    assert hook.status_code == 201
    assert hook.json()["signing_secret"].startswith("whsec_")
    forum = await add_channel(client, org, community, name="forum", kind="forum")
    feed = await add_channel(client, org, community, name="news", kind="launcher_feed", config={})
    assert forum.status_code == feed.status_code == 201
    assert forum.json()["config"] == {"category_id": forum.json()["config"]["category_id"]}
    no_category = await add_channel(client, org, community, name="f2", kind="forum", config={})
    assert no_category.status_code == 422
    assert no_category.json()["errors"][0]["loc"] == ["body", "config", "category_id"]
    listed = await client.get(
        f"/v1/communities/{community['id']}/channels", headers=org.auth("viewer")
    )
    kinds = [c["kind"] for c in listed.json()["items"]]
    assert kinds == ["discord", "slack", "webhook", "forum", "launcher_feed"]


async def test_secrets_are_never_returned(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    discord = await add_channel(
        client,
        org,
        community,
        name="discord",
        kind="discord",
        config={"webhook_url": receiver.url("/api/webhooks/123/SECRET-TOKEN")},
    )
    hook = await add_channel(
        client, org, community, name="tool", kind="webhook", config={"url": receiver.url("/t")}
    )
    assert "SECRET-TOKEN" not in discord.text
    assert discord.json()["config"]["webhook_url"].endswith("/api/webhooks/123/****")
    secret = hook.json()["signing_secret"]
    for path in (
        f"/v1/channels/{discord.json()['id']}",
        f"/v1/channels/{hook.json()['id']}",
        f"/v1/communities/{community['id']}/channels",
    ):
        text = (await client.get(path, headers=org.auth("viewer"))).text
        assert "SECRET-TOKEN" not in text and secret not in text
    assert "secret" not in hook.json()["config"]


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"name": "x", "kind": "carrier-pigeon"}, ["body", "kind"]),
        ({"name": "x", "kind": "discord", "config": {}}, ["body", "config", "webhook_url"]),
        ({"name": "x", "kind": "discord", "config": {"webhook_url": "ftp://example.com/x"}}, None),
        (
            {
                "name": "x",
                "kind": "webhook",
                "config": {"url": "https://example.com", "secret": "plain"},
            },
            None,
        ),
        ({"name": "x", "kind": "forum", "config": {"unexpected": 1}}, None),
        ({"name": "", "kind": "forum"}, None),
    ],
)
async def test_bad_channel_input_is_422(
    client: httpx.AsyncClient, org: Org, community: dict, payload: dict, loc: list | None
) -> None:
    response = await add_channel(client, org, community, **payload)
    assert response.status_code == 422, response.text
    if loc:
        assert loc in [e["loc"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/x",
        "http://[::ffff:127.0.0.2]/x",
        "http://127.0.0.2:9/x",
        "http://0.0.0.0/x",
    ],
)
async def test_private_addresses_are_refused(
    client: httpx.AsyncClient, org: Org, community: dict, url: str
) -> None:
    response = await add_channel(
        client, org, community, name="x", kind="slack", config={"webhook_url": url}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "https://hearth.dev/problems/unsafe-url"
    assert body["errors"][0]["loc"] == ["body", "config", "webhook_url"]


@pytest.mark.both_backends
async def test_duplicate_channel_name_is_409(
    client: httpx.AsyncClient, org: Org, community: dict
) -> None:
    assert (
        await add_channel(client, org, community, name="forum", kind="forum")
    ).status_code == 201
    assert (
        await add_channel(client, org, community, name="forum", kind="launcher_feed")
    ).status_code == 409


async def test_roles_and_tenancy(
    client: httpx.AsyncClient, org: Org, other_org: Org, community: dict
) -> None:
    channel = (await add_channel(client, org, community, name="forum", kind="forum")).json()
    cid, path = community["id"], f"/v1/channels/{channel['id']}"
    for role in ("moderator", "analyst", "viewer"):
        create = await client.post(
            f"/v1/communities/{cid}/channels",
            json={"name": "n", "kind": "launcher_feed"},
            headers=org.auth(role),
        )
        assert create.status_code == 403
        assert (
            await client.patch(path, json={"name": "n"}, headers=org.auth(role))
        ).status_code == 403
        assert (await client.delete(path, headers=org.auth(role))).status_code == 403
        assert (await client.post(f"{path}/test", headers=org.auth(role))).status_code == 403
        assert (await client.get(path, headers=org.auth(role))).status_code == 200
    for method, url, payload in [
        ("GET", path, None),
        ("PATCH", path, {"name": "n"}),
        ("DELETE", path, None),
        ("POST", f"{path}/test", None),
        ("GET", f"/v1/communities/{cid}/channels", None),
        ("POST", f"/v1/communities/{cid}/channels", {"name": "n", "kind": "launcher_feed"}),
    ]:
        assert (
            await client.request(method, url, json=payload, headers=other_org.auth())
        ).status_code == 404
        assert (await client.request(method, url, json=payload)).status_code == 401
    assert (await client.get(path, headers=org.auth("viewer"))).json()["name"] == "forum"


@pytest.mark.both_backends
async def test_patch_keeps_secrets_it_was_not_given(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    created = (
        await add_channel(
            client,
            org,
            community,
            name="discord",
            kind="discord",
            config={"webhook_url": receiver.url("/api/webhooks/1/TOKEN")},
        )
    ).json()
    path = f"/v1/channels/{created['id']}"
    # A GET → PATCH round trip with the masked URL keeps the real one.
    renamed = await client.patch(
        path,
        json={"name": "announcements", "config": {**created["config"], "username": "Bot"}},
        headers=org.auth("manager"),
    )
    assert renamed.status_code == 200
    assert renamed.json()["config"]["username"] == "Bot"
    receiver.script("/api/webhooks/1/TOKEN", Reply(200, b'{"id": "1"}'))
    sent = await client.post(f"{path}/test", json={"text": "hi"}, headers=org.auth("manager"))
    assert sent.json()["ok"] is True
    assert receiver.received("/api/webhooks/1/TOKEN")
    bad = await client.patch(
        path, json={"config": {"webhook_url": "not a url"}}, headers=org.auth("manager")
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"][:3] == ["body", "config", "webhook_url"]
    disabled = await client.patch(path, json={"enabled": False}, headers=org.auth("manager"))
    assert disabled.json()["enabled"] is False


@pytest.mark.both_backends
async def test_manager_deletes_a_channel(
    client: httpx.AsyncClient, org: Org, community: dict
) -> None:
    channel = (await add_channel(client, org, community, name="forum", kind="forum")).json()
    path = f"/v1/channels/{channel['id']}"
    assert (await client.delete(path, headers=org.auth("manager"))).status_code == 204
    assert (await client.get(path, headers=org.auth("viewer"))).status_code == 404
    assert (await client.delete(path, headers=org.auth("manager"))).status_code == 404
    listed = await client.get(f"/v1/communities/{community['id']}/channels", headers=org.auth())
    assert listed.json()["items"] == []


async def test_discord_test_send_reaches_the_receiver(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    channel = (
        await add_channel(
            client,
            org,
            community,
            name="discord",
            kind="discord",
            config={"webhook_url": receiver.url("/api/webhooks/9/TOKEN"), "username": "Starfall"},
        )
    ).json()
    receiver.script(
        "/api/webhooks/9/TOKEN", Reply(200, b'{"id": "1234", "content": "Patch 1.2 is live"}')
    )
    response = await client.post(
        f"/v1/channels/{channel['id']}/test",
        json={"text": "Patch 1.2 is live"},
        headers=org.auth("manager"),
    )
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True and result["status_code"] == 200
    assert '"id": "1234"' in result["response_body"]
    request = receiver.received("/api/webhooks/9/TOKEN")[0]
    assert request.query == "wait=true"
    sent = json.loads(request.body)
    assert sent == {
        "content": "Patch 1.2 is live",
        "allowed_mentions": {"parse": []},
        "username": "Starfall",
    }
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"


async def test_slack_test_send_and_a_failing_receiver(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    channel = (
        await add_channel(
            client,
            org,
            community,
            name="slack",
            kind="slack",
            config={"webhook_url": receiver.url("/services/T/B/X")},
        )
    ).json()
    receiver.script("/services/T/B/X", Reply(500, b"internal_error"))
    response = await client.post(f"/v1/channels/{channel['id']}/test", headers=org.auth("manager"))
    result = response.json()
    assert response.status_code == 200
    assert result["ok"] is False and result["status_code"] == 500
    assert result["response_body"] == "internal_error"
    body = json.loads(receiver.received("/services/T/B/X")[0].body)
    assert body == {"text": result["sent_text"]}
    assert "Starfall" in result["sent_text"]


async def test_webhook_channel_signs_its_test_message(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    created = (
        await add_channel(
            client,
            org,
            community,
            name="tool",
            kind="webhook",
            config={"url": receiver.url("/tool")},
        )
    ).json()
    response = await client.post(
        f"/v1/channels/{created['id']}/test", json={"text": "ping"}, headers=org.auth("manager")
    )
    assert response.json()["ok"] is True
    request = receiver.received("/tool")[0]
    payload = Webhook(created["signing_secret"]).verify(request.body, request.headers)
    assert payload["type"] == "channel.test"
    assert payload["data"]["text"] == "ping"
    assert payload["data"]["channel_id"] == created["id"]


async def test_unreachable_receiver_is_reported_not_raised(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    channel = (
        await add_channel(
            client,
            org,
            community,
            name="slack",
            kind="slack",
            config={"webhook_url": "http://127.0.0.1:9/services/closed"},
        )
    ).json()
    result = (
        await client.post(f"/v1/channels/{channel['id']}/test", headers=org.auth("manager"))
    ).json()
    assert result["ok"] is False and result["status_code"] is None
    assert "Could not reach" in result["error"]


async def test_text_over_the_platform_limit_is_refused(
    client: httpx.AsyncClient, org: Org, community: dict, receiver: Receiver
) -> None:
    channel = (
        await add_channel(
            client,
            org,
            community,
            name="discord",
            kind="discord",
            config={"webhook_url": receiver.url("/api/webhooks/1/T")},
        )
    ).json()
    response = await client.post(
        f"/v1/channels/{channel['id']}/test", json={"text": "x" * 2001}, headers=org.auth("manager")
    )
    assert response.status_code == 409  # fits another channel: a conflict with this one
    assert "2000" in response.json()["detail"]
    assert receiver.received() == []
    ok = await client.post(
        f"/v1/channels/{channel['id']}/test", json={"text": "x" * 2000}, headers=org.auth("manager")
    )
    assert ok.json()["ok"] is True


async def test_internal_channels_have_nothing_to_send_to(
    client: httpx.AsyncClient, org: Org, community: dict
) -> None:
    forum = (await add_channel(client, org, community, name="forum", kind="forum")).json()
    response = await client.post(f"/v1/channels/{forum['id']}/test", headers=org.auth("manager"))
    assert response.status_code == 409  # what the channel is, not what was asked
    assert "forum" in response.json()["detail"]


async def test_platform_profiles(client: httpx.AsyncClient, org: Org) -> None:
    assert (await client.get("/v1/platform-profiles")).status_code == 401
    profiles = {
        p["kind"]: p
        for p in (await client.get("/v1/platform-profiles", headers=org.auth("viewer"))).json()
    }
    assert set(profiles) == {"forum", "launcher_feed", "discord", "slack", "webhook"}
    assert profiles["discord"]["max_length"] == 2000
    assert profiles["discord"]["sources"][0].startswith("https://discord.com/developers/docs")
    assert profiles["slack"]["recommended_length"] == 4000
    assert profiles["forum"]["delivery"] == "internal"


@pytest.mark.both_backends
async def test_a_feed_slug_names_one_feed_on_the_whole_server(
    client: httpx.AsyncClient, org: Org, other_org: Org, community: dict
) -> None:
    feed = await add_channel(
        client, org, community, name="news", kind="launcher_feed", config={"public_slug": "news"}
    )
    assert feed.status_code == 201, feed.text
    rival = await client.post(
        "/v1/communities", json={"slug": "rival", "name": "Rival"}, headers=other_org.auth()
    )
    taken = await client.post(
        f"/v1/communities/{rival.json()['id']}/channels",
        json={"name": "news", "kind": "launcher_feed", "config": {"public_slug": "news"}},
        headers=other_org.auth(),
    )
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["loc"] == ["body", "config", "public_slug"]
    bad = await client.post(
        f"/v1/communities/{rival.json()['id']}/channels",
        json={"name": "news", "kind": "launcher_feed", "config": {"public_slug": "No Spaces"}},
        headers=other_org.auth(),
    )
    assert bad.status_code == 422
    renamed = await client.patch(
        f"/v1/channels/{feed.json()['id']}",
        json={"config": {"public_slug": "starfall-news"}},
        headers=org.auth("manager"),
    )
    assert renamed.status_code == 200 and renamed.json()["config"] == {
        "public_slug": "starfall-news"
    }
    freed = await client.post(
        f"/v1/communities/{rival.json()['id']}/channels",
        json={"name": "news", "kind": "launcher_feed", "config": {"public_slug": "news"}},
        headers=other_org.auth(),
    )
    assert freed.status_code == 201
