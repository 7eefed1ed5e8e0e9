"""GET /v1/audit-log and GraphQL `auditLog`: filters, pages, CSV, roles, tenancy; and the
log is append-only (on PostgreSQL, whatever the code path)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from app.core import audit
from app.core.audit import AuditEntry
from tests.conftest import Org
from tests.test_graphql import gql

COMMUNITY = uuid.uuid4()


async def write_entries(
    app: Any, org: Org, count: int, action: str, **fields: Any
) -> list[uuid.UUID]:
    """Entries as a service writes them, one second apart, oldest first."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    for n in range(count):
        values = {
            "org_id": uuid.UUID(org.id),
            "target_type": "channel",
            "target_id": uuid.uuid4(),
            "community_id": COMMUNITY,
            **fields,
        }
        row = audit.entry(audit.SYSTEM, action, **values)
        row["at"] = start + timedelta(seconds=n)
        rows.append(row)
    async with app.state.runtime.unit_of_work() as session:
        await audit.record_all(session, rows)
    return [row["id"] for row in rows]


async def listed(client: httpx.AsyncClient, org: Org, query: str = "", role: str = "manager"):
    response = await client.get(f"/v1/audit-log?{query}", headers=org.auth(role))
    assert response.status_code == 200, response.text
    return response.json()


async def test_filters_and_pages_newest_first(
    app: Any, client: httpx.AsyncClient, org: Org
) -> None:
    ids = await write_entries(app, org, 5, action="channel.updated")
    key = uuid.UUID(org.key_ids["manager"])
    await write_entries(
        app,
        org,
        1,
        action="channel.deleted",
        target_id=uuid.UUID(int=7),
        before={"name": "#news", "enabled": True},
        reason="Duplicate",
    )
    async with app.state.runtime.unit_of_work() as session:
        await audit.record(
            session,
            audit.By("key", key, "manager key"),
            "community.paused",
            org_id=uuid.UUID(org.id),
            target_type="community",
            target_id=COMMUNITY,
            community_id=COMMUNITY,
            after={"paused": True},
        )

    updated = await listed(client, org, "action=channel.updated&limit=2")
    assert [e["id"] for e in updated["items"]] == [str(i) for i in reversed(ids[-2:])]
    rest = await listed(client, org, f"action=channel.updated&cursor={updated['next_cursor']}")
    assert [e["id"] for e in rest["items"]] == [str(i) for i in reversed(ids[:3])]
    assert rest["next_cursor"] is None

    deleted = (await listed(client, org, f"target_id={uuid.UUID(int=7)}"))["items"]
    assert deleted == [
        {
            "id": deleted[0]["id"],
            "at": "2026-11-01T00:00:00Z",
            "actor": {"type": "system", "id": None, "name": "Hearth"},
            "action": "channel.deleted",
            "community_id": str(COMMUNITY),
            "target_type": "channel",
            "target_id": str(uuid.UUID(int=7)),
            "before": {"name": "#news", "enabled": True},
            "after": None,
            "reason": "Duplicate",
        }
    ]
    by_key = (await listed(client, org, f"actor_id={key}"))["items"]
    assert [(e["action"], e["actor"]) for e in by_key] == [
        ("community.paused", {"type": "key", "id": str(key), "name": "manager key"})
    ]
    window = "since=2026-11-01T00:00:01Z&until=2026-11-01T01:00:03%2B01:00"
    assert len((await listed(client, org, f"action=channel.updated&{window}"))["items"]) == 2
    in_community = (await listed(client, org, f"community_id={COMMUNITY}&limit=100"))["items"]
    assert len(in_community) == 7


async def test_roles_tenancy_and_bad_filters(
    app: Any, client: httpx.AsyncClient, org: Org, other_org: Org
) -> None:
    await write_entries(app, org, 1, action="webhook.created")
    for role in ("moderator", "analyst", "viewer"):
        refused = await client.get("/v1/audit-log", headers=org.auth(role))
        assert refused.status_code == 403, role
    theirs = await listed(client, other_org, "action=webhook.created")
    assert theirs["items"] == []
    for query, field in (
        ("action=DROP TABLE", "action"),
        ("since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "since"),
        ("since=2026-11-02T00:00:00", "since"),  # no offset: which day would it be?
        ("cursor=nope", "cursor"),
    ):
        bad = await client.get(f"/v1/audit-log?{query}", headers=org.auth("manager"))
        assert bad.status_code == 422, query
        assert bad.headers["content-type"] == "application/problem+json"
        assert field in bad.text


async def test_csv_export_names_the_fields_and_defuses_formulas(
    app: Any, client: httpx.AsyncClient, org: Org
) -> None:
    await write_entries(app, org, 3, action="channel.updated", after={"enabled": False})
    async with app.state.runtime.unit_of_work() as session:
        await audit.record(
            session,
            audit.By("key", uuid.uuid4(), '=HYPERLINK("http://evil")'),
            "api_key.revoked",
            org_id=uuid.UUID(org.id),
            target_type="api_key",
            target_id=uuid.uuid4(),
            community_id=COMMUNITY,
        )
    response = await client.get(
        f"/v1/audit-log?limit=1&community_id={COMMUNITY}",
        headers={**org.auth("manager"), "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "id",
        "at",
        "actor_type",
        "actor_id",
        "actor_name",
        "action",
        "community_id",
        "target_type",
        "target_id",
        "before",
        "after",
        "reason",
    ]
    # The limit is a page's: an export has every matching entry.
    assert [r["action"] for r in rows] == ["api_key.revoked"] + ["channel.updated"] * 3
    assert rows[0]["actor_name"] == '\'=HYPERLINK("http://evil")'
    assert rows[1]["after"] == '{"enabled": false}'
    assert rows[1]["at"] == "2026-11-01T00:00:02Z"
    only = await client.get(
        "/v1/audit-log?action=api_key.revoked",
        headers={**org.auth("manager"), "Accept": "text/csv, application/json;q=0.5"},
    )
    assert len(list(csv.DictReader(io.StringIO(only.text)))) == 1
    refused = await client.get(
        "/v1/audit-log", headers={**org.auth("viewer"), "Accept": "text/csv"}
    )
    assert refused.status_code == 403


async def test_graphql_lists_like_rest(app: Any, client: httpx.AsyncClient, org: Org) -> None:
    await write_entries(app, org, 2, action="channel.created", after={"kind": "discord"})
    query = """query($action: String, $first: Int!) {
        auditLog(action: $action, first: $first) {
            items { action actor { type name } targetType before after at }
            nextCursor
        }
    }"""
    result = await gql(client, query, org, "manager", action="channel.created", first=1)
    assert result["data"]["auditLog"]["items"] == [
        {
            "action": "channel.created",
            "actor": {"type": "system", "name": "Hearth"},
            "targetType": "channel",
            "before": None,
            "after": {"kind": "discord"},
            "at": "2026-11-01T00:00:01Z",
        }
    ]
    assert result["data"]["auditLog"]["nextCursor"]
    refused = await gql(client, query, org, "viewer", action=None, first=1)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await gql(client, query, org, "manager", action="Nope", first=1)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.postgres_only
async def test_postgresql_refuses_to_change_or_delete_an_entry(app: Any, org: Org) -> None:
    [entry_id] = await write_entries(app, org, 1, action="channel.updated")
    for statement in (
        update(AuditEntry).where(AuditEntry.id == entry_id).values(reason="rewritten"),
        delete(AuditEntry).where(AuditEntry.id == entry_id),
        text("UPDATE audit_log SET actor_name = 'someone else'"),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with app.state.runtime.unit_of_work() as session:
                await session.execute(statement)
    async with app.state.runtime.read_session() as session:
        kept = await session.get(AuditEntry, entry_id)
    assert kept is not None and kept.reason is None
