"""Staff writes leave audit entries, written by the services beside each change: who did it
(the API key), what (action, target), the states before and after, and never a secret."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import Org
from tests.receiver import Receiver


async def entries_of(client: httpx.AsyncClient, org: Org, target_id: str) -> list[dict]:
    response = await client.get(
        "/v1/audit-log", params={"target_id": target_id}, headers=org.auth("manager")
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]  # newest first


def actions(entries: list[dict]) -> list[str]:
    return [entry["action"] for entry in entries]


@pytest.mark.both_backends
async def test_staff_writes_are_logged_with_their_key_and_without_secrets(
    client: httpx.AsyncClient, org: Org, receiver: Receiver
) -> None:
    owner, manager = org.auth("owner"), org.auth("manager")
    owner_id, manager_id = org.key_ids["owner"], org.key_ids["manager"]

    # The organisation itself was created by Hearth (the admin path), not by a key.
    (created_org,) = await entries_of(client, org, org.id)
    assert created_org["action"] == "org.created" and created_org["actor"]["type"] == "system"

    key = await client.post("/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=owner)
    assert key.status_code == 201, key.text
    key_id, token = key.json()["id"], key.json()["key"]
    assert (await client.delete(f"/v1/api-keys/{key_id}", headers=owner)).status_code == 204

    community = await client.post(
        "/v1/communities", json={"slug": "starfall", "name": "Starfall"}, headers=manager
    )
    assert community.status_code == 201, community.text
    community_id = community.json()["id"]
    updated = await client.patch(
        f"/v1/communities/{community_id}",
        json={"name": "Starfall Online", "description": "A private note about launch day"},
        headers=manager,
    )
    assert updated.status_code == 200, updated.text

    hook_url = receiver.url("/api/webhooks/123/CHANNEL-TOKEN")
    new_hook_url = receiver.url("/api/webhooks/456/OTHER-TOKEN")
    channel = await client.post(
        f"/v1/communities/{community_id}/channels",
        json={"name": "news", "kind": "discord", "config": {"webhook_url": hook_url}},
        headers=manager,
    )
    assert channel.status_code == 201, channel.text
    channel_path = f"/v1/channels/{channel.json()['id']}"
    changed = await client.patch(
        channel_path,
        json={"name": "announcements", "config": {"webhook_url": new_hook_url}},
        headers=manager,
    )
    assert changed.status_code == 200, changed.text
    assert (await client.delete(channel_path, headers=manager)).status_code == 204

    webhook = await client.post(
        "/v1/webhooks", json={"url": receiver.url("/crm"), "events": ["*"]}, headers=manager
    )
    assert webhook.status_code == 201, webhook.text
    category = await client.post(
        f"/v1/communities/{community_id}/categories",
        json={"name": "Bug reports", "slug": "bugs"},
        headers=manager,
    )
    assert category.status_code == 201, category.text

    key_log = await entries_of(client, org, key_id)
    assert actions(key_log) == ["api_key.revoked", "api_key.created"]
    assert {(e["actor"]["type"], e["actor"]["id"]) for e in key_log} == {("key", owner_id)}
    assert key_log[1]["after"] == {"name": "ci", "role": "viewer"}

    community_log = await entries_of(client, org, community_id)
    assert actions(community_log) == ["community.updated", "community.created"]
    assert community_log[0]["before"] == {"name": "Starfall"}
    assert community_log[0]["after"] == {"name": "Starfall Online", "description": "changed"}

    channel_log = await entries_of(client, org, channel.json()["id"])
    assert actions(channel_log) == ["channel.deleted", "channel.updated", "channel.created"]
    assert channel_log[2]["after"] == {"name": "news", "kind": "discord", "enabled": True}
    assert channel_log[1]["before"] == {"name": "news"}
    assert channel_log[1]["after"] == {"name": "announcements", "config": ["webhook_url"]}

    (webhook_created,) = await entries_of(client, org, webhook.json()["id"])
    assert webhook_created["action"] == "webhook.created"
    assert webhook_created["after"] == {"host": "127.0.0.1", "events": ["*"], "enabled": True}
    (category_created,) = await entries_of(client, org, category.json()["id"])
    assert category_created["action"] == "category.created"

    logged = [*community_log, *channel_log, category_created]
    assert {e["community_id"] for e in logged} == {community_id}
    staff = [*community_log, *channel_log, webhook_created, category_created]
    assert {(e["actor"]["type"], e["actor"]["id"]) for e in staff} == {("key", manager_id)}
    everything = json.dumps([*key_log, *staff])
    for secret in (
        token,
        webhook.json()["secret"],
        "CHANNEL-TOKEN",
        "OTHER-TOKEN",
        "A private note",
    ):
        assert secret not in everything
