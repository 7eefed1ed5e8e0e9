"""The review workflow: every transition, who may make it, the events, and 409s naming the
current status."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Org
from tests.schedule.conftest import Studio, act, draft, emitted, eventually, make_studio


def later(minutes: int = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def status_of(client: httpx.AsyncClient, studio: Studio, item: dict[str, Any]) -> str:
    response = await client.get(f"/v1/content/{item['id']}", headers=studio.auth("viewer"))
    return response.json()["status"]


@pytest.mark.both_backends
async def test_review_round_trip_with_events(
    app: Any, client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    submitted = await act(client, studio, item, "submit", "moderator")
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"
    rejected = await act(client, studio, item, "reject", note="Say which ships.")
    assert rejected.json()["status"] == "draft"
    assert rejected.json()["review_note"] == "Say which ships."
    await act(client, studio, item, "submit", "moderator")
    approved = await act(client, studio, item, "approve")
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == studio.org.key_ids["manager"]
    assert approved.json()["review_note"] is None
    scheduled = await act(client, studio, item, "schedule", publish_at=later())
    assert scheduled.json()["status"] == "scheduled"
    cancelled = await act(client, studio, item, "cancel")
    assert cancelled.json()["status"] == "approved"
    deliveries = await client.get(f"/v1/content/{item['id']}/deliveries", headers=studio.auth())
    assert {d["status"] for d in deliveries.json()} == {"skipped"}
    for kind in ("content.created", "content.submitted", "content.approved", "content.scheduled"):
        assert [e["id"] for e in await emitted(app, kind)] == [item["id"]] * (
            2 if kind == "content.submitted" else 1
        ), kind
    rejections = await emitted(app, "content.rejected")
    assert rejections[0]["note"] == "Say which ships."


@pytest.mark.parametrize(
    ("action", "role"),
    [("submit", "analyst"), ("approve", "moderator"), ("publish", "moderator")],
)
async def test_each_transition_needs_its_role(
    client: httpx.AsyncClient, studio: Studio, action: str, role: str
) -> None:
    item = await draft(client, studio)
    response = await act(client, studio, item, action, role)
    assert response.status_code == 403, response.text


async def test_illegal_transitions_are_409_naming_the_current_status(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    for action, body in [
        ("reject", {"note": "no"}),
        ("retract", {"reason": "oops"}),
    ]:
        response = await act(client, studio, item, action, **body)
        assert response.status_code == 409, (action, response.text)
        assert response.json()["current_status"] == "draft"
        assert "draft" in response.json()["detail"]
    await act(client, studio, item, "submit", "moderator")
    again = await act(client, studio, item, "submit", "moderator")
    assert again.status_code == 409 and again.json()["current_status"] == "in_review"


async def test_schedule_needs_a_future_time(client: httpx.AsyncClient, studio: Studio) -> None:
    item = await draft(client, studio)
    past = await act(client, studio, item, "schedule", publish_at=later(-5))
    assert past.status_code == 422
    assert past.json()["errors"][0]["loc"] == ["body", "publish_at"]
    naive = await act(client, studio, item, "schedule", publish_at="2030-01-01T10:00:00")
    assert naive.status_code == 422
    assert await status_of(client, studio, item) == "draft"


@pytest.mark.both_backends
async def test_require_approval_means_four_eyes_and_edits_go_back_to_draft(
    client: httpx.AsyncClient, org: Org
) -> None:
    studio = await make_studio(client, org, require_approval=True)
    community = await client.get(f"/v1/communities/{studio.community_id}", headers=org.auth())
    assert community.json()["require_approval"] is True
    mine = await draft(client, studio, role="manager")
    # Not approved yet: a manager cannot schedule or publish it directly.
    direct = await act(client, studio, mine, "publish")
    assert direct.status_code == 409 and direct.json()["current_status"] == "draft"
    await act(client, studio, mine, "submit", "manager")
    own = await act(client, studio, mine, "approve", "manager")
    assert own.status_code == 403
    approved = await act(client, studio, mine, "approve", "owner")
    assert approved.status_code == 200
    scheduled = await act(client, studio, mine, "schedule", publish_at=later())
    assert scheduled.json()["status"] == "scheduled"
    edited = await client.patch(
        f"/v1/content/{mine['id']}",
        json={"version": scheduled.json()["version"], "title": "Season 3 starts Saturday"},
        headers=studio.auth("moderator"),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "draft"
    assert edited.json()["approved_by"] is None
    rows = await client.get(f"/v1/content/{mine['id']}/deliveries", headers=studio.auth())
    assert {d["status"] for d in rows.json()} == {"skipped"}


async def test_without_require_approval_scheduling_a_draft_approves_it(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    scheduled = await act(client, studio, item, "schedule", publish_at=later())
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["approved_by"] == studio.org.key_ids["manager"]
    rows = (await client.get(f"/v1/content/{item['id']}/deliveries", headers=studio.auth())).json()
    assert sorted(r["channel_id"] for r in rows) == sorted(
        [studio.channels["forum"], studio.channels["launcher_feed"]]
    )
    assert {r["status"] for r in rows} == {"pending"}
    assert {r["next_attempt_at"] for r in rows} == {scheduled.json()["publish_at"]}
    deleted = await client.delete(f"/v1/content/{item['id']}", headers=studio.auth())
    assert deleted.status_code == 204


async def test_cancel_shelves_unscheduled_content(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    cancelled = await act(client, studio, item, "cancel")
    assert cancelled.json()["status"] == "cancelled"
    edited = await client.patch(
        f"/v1/content/{item['id']}",
        json={"version": cancelled.json()["version"], "body": "Back on."},
        headers=studio.auth("moderator"),
    )
    assert edited.status_code == 200
    again = await act(client, studio, item, "cancel")
    assert again.status_code == 409 and again.json()["current_status"] == "cancelled"


@pytest.mark.both_backends
async def test_publish_to_forum_and_feed_then_retract(
    app: Any, client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    published = await act(client, studio, item, "publish")
    assert published.status_code == 202, published.text
    assert published.json()["status"] == "publishing"

    async def settled() -> bool:
        return await status_of(client, studio, item) == "published"

    await eventually(settled)
    rows = {
        r["channel_id"]: r
        for r in (
            await client.get(f"/v1/content/{item['id']}/deliveries", headers=studio.auth())
        ).json()
    }
    forum_row = rows[studio.channels["forum"]]
    assert forum_row["status"] == "delivered" and forum_row["attempts"] == 1
    thread = await client.get(
        f"/v1/threads/{forum_row['external_id']}", headers=studio.auth("viewer")
    )
    assert thread.status_code == 200
    assert thread.json()["title"] == item["title"]
    assert thread.json()["pinned"] is True  # announcements are pinned
    assert rows[studio.channels["launcher_feed"]]["status"] == "delivered"
    events = await emitted(app, "content.published")
    assert [e["id"] for e in events] == [item["id"]]
    assert events[0]["status"] == "published"
    assert (
        await client.delete(f"/v1/content/{item['id']}", headers=studio.auth())
    ).status_code == 409

    retracted = await act(client, studio, item, "retract", reason="Wrong date")
    assert retracted.json()["status"] == "retracted"
    assert retracted.json()["retract_reason"] == "Wrong date"

    async def taken_down() -> bool:
        rows = (
            await client.get(f"/v1/content/{item['id']}/deliveries", headers=studio.auth())
        ).json()
        return {r["status"] for r in rows} == {"retracted"}

    await eventually(taken_down)
    hidden = await client.get(
        f"/v1/threads/{forum_row['external_id']}", headers=studio.auth("viewer")
    )
    assert hidden.json()["status"] == "hidden"
    assert [e["id"] for e in await emitted(app, "content.retracted")] == [item["id"]]


async def test_a_scheduled_item_keeps_a_future_time(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    scheduled = await act(client, studio, item, "schedule", publish_at=later())
    for publish_at in (None, later(-5)):
        edited = await client.patch(
            f"/v1/content/{item['id']}",
            json={"version": scheduled.json()["version"], "publish_at": publish_at},
            headers=studio.auth("moderator"),
        )
        assert edited.status_code == 422, edited.text
        assert edited.json()["errors"][0]["loc"] == ["body", "publish_at"]
    assert await status_of(client, studio, item) == "scheduled"


async def test_a_deleted_channel_is_a_check_error_not_a_crash(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    await client.delete(f"/v1/channels/{studio.channels['forum']}", headers=studio.auth())
    published = await act(client, studio, item, "publish")
    assert published.status_code == 422
    assert "channel.missing" in {c["code"] for c in published.json()["checks"]}


async def test_resume_leaves_a_running_series_scheduled(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    weekly = await draft(
        client, studio, recurrence={"rrule": "FREQ=WEEKLY", "timezone": "Europe/London"}
    )
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    await act(client, studio, weekly, "schedule", publish_at=soon)
    cid = studio.community_id
    await client.post(f"/v1/communities/{cid}/pause", json={"reason": "x"}, headers=studio.auth())
    await asyncio.sleep(1.2)  # the series' start is now in the past
    await client.post(f"/v1/communities/{cid}/resume", headers=studio.auth())
    assert await status_of(client, studio, weekly) == "scheduled"
