"""Content over HTTP: drafts, validation, lists and filters, versions, deletion, tenancy."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Org
from tests.schedule.conftest import Studio, act, draft, draft_body, make_studio


@pytest.mark.both_backends
async def test_a_draft_is_stored_with_its_defaults_and_rendered_body(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    forum = studio.channels["forum"]
    response = await client.post(
        f"/v1/communities/{studio.community_id}/content",
        json=draft_body(
            studio,
            translations={"de": {"title": "Staffel 3", "body": "Neue Schiffe."}},
            variants={forum: {"title": "Season 3: all the details"}},
            tags=["season-3", "season-3", "ships"],
            fields={"what_changed": "Everything"},
            feed={"pinned": True, "priority": 5, "regions": ["DE"], "min_version": "1.4.0"},
        ),
        headers=studio.auth("moderator"),
    )
    assert response.status_code == 201, response.text
    item = response.json()
    assert response.headers["location"] == f"/v1/content/{item['id']}"
    assert item["status"] == "draft"
    assert item["version"] == 1
    assert item["locale"] == "en"  # the community's default
    assert item["tags"] == ["season-3", "ships"]
    assert "<strong>missions</strong>" in item["body_html"]
    assert item["variants"] == {forum: {"title": "Season 3: all the details", "body": None}}
    assert item["feed"]["pinned"] is True and item["feed"]["regions"] == ["DE"]
    assert item["created_by"] == studio.org.key_ids["moderator"]
    assert item["approved_by"] is None and item["publish_at"] is None
    fetched = await client.get(f"/v1/content/{item['id']}", headers=studio.auth("viewer"))
    assert fetched.json() == item


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"kind": "press_release"}, ["body", "kind"]),
        ({"title": "   "}, ["body", "title"]),
        ({"fields": {"new_date": "next week"}}, ["body", "fields"]),
        ({"recurrence": {"rrule": "FREQ=SOMETIMES", "timezone": "Europe/London"}}, None),
        ({"recurrence": {"rrule": "FREQ=WEEKLY", "timezone": "Mars/Olympus"}}, None),
        ({"feed": {"regions": ["Germany"]}}, None),
        ({"publish_at": "2027-01-01T10:00:00"}, ["body", "publish_at"]),  # no offset
        ({"publish_at": "9999-12-31T23:59:59-14:00"}, ["body", "publish_at"]),  # past 9999
    ],
)
async def test_invalid_drafts_are_422_naming_the_field(
    client: httpx.AsyncClient, studio: Studio, change: dict, loc: list | None
) -> None:
    response = await client.post(
        f"/v1/communities/{studio.community_id}/content",
        json=draft_body(studio, **change),
        headers=studio.auth("moderator"),
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"]
    if loc:
        assert problem["errors"][0]["loc"][: len(loc)] == loc


async def test_references_outside_the_community_are_404_naming_the_field(
    client: httpx.AsyncClient, studio: Studio, other_org: Org
) -> None:
    rival = await make_studio(client, other_org, slug="rival")
    base = f"/v1/communities/{studio.community_id}/content"
    for body, field in [
        (draft_body(studio, channel_ids=[rival.channels["forum"]]), "channel_ids"),
        (draft_body(studio, variants={str(uuid.uuid4()): {"title": "x"}}), "variants"),
        (draft_body(studio, asset_ids=[str(uuid.uuid4())]), "asset_ids"),
    ]:
        response = await client.post(base, json=body, headers=studio.auth("moderator"))
        assert response.status_code == 404, response.text
        assert response.json()["errors"][0]["loc"] == ["body", field]
    # Another org's community, and its content, are not found at all.
    mine = await draft(client, studio)
    assert (
        await client.post(
            f"/v1/communities/{rival.community_id}/content",
            json=draft_body(rival),
            headers=studio.auth("moderator"),
        )
    ).status_code == 404
    assert (
        await client.get(f"/v1/content/{mine['id']}", headers=rival.auth("owner"))
    ).status_code == 404


async def test_roles(client: httpx.AsyncClient, studio: Studio) -> None:
    base = f"/v1/communities/{studio.community_id}/content"
    assert (
        await client.post(base, json=draft_body(studio), headers=studio.auth("analyst"))
    ).status_code == 403
    item = await draft(client, studio)
    delete = await client.delete(f"/v1/content/{item['id']}", headers=studio.auth("moderator"))
    assert delete.status_code == 403
    assert (await client.get(base, headers=studio.auth("viewer"))).status_code == 200


@pytest.mark.both_backends
async def test_lists_filter_by_status_kind_channel_and_text_and_page(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    forum, feed = studio.channels["forum"], studio.channels["launcher_feed"]
    patch = await draft(client, studio, kind="patch_notes", title="Patch 1.4.2", channel_ids=[feed])
    event = await draft(client, studio, kind="event", title="Community night", channel_ids=[forum])
    news = await draft(client, studio, title="100% more ships_and_more", channel_ids=[forum, feed])
    await act(client, studio, event, "submit", "moderator")
    base = f"/v1/communities/{studio.community_id}/content"

    async def ids(query: str) -> list[str]:
        response = await client.get(f"{base}?{query}", headers=studio.auth("viewer"))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids("") == [news["id"], event["id"], patch["id"]]  # newest first
    assert await ids("status=in_review") == [event["id"]]
    assert await ids("kind=patch_notes") == [patch["id"]]
    assert await ids(f"channel_id={forum}") == [news["id"], event["id"]]
    assert await ids("q=patch%201.4") == [patch["id"]]
    assert await ids("q=100%25") == [news["id"]]  # % and _ are literal, not wildcards
    assert await ids("q=s_a") == [news["id"]]
    first = (await client.get(f"{base}?limit=2", headers=studio.auth("viewer"))).json()
    second = (
        await client.get(f"{base}?limit=2&cursor={first['next_cursor']}", headers=studio.auth())
    ).json()
    assert [i["id"] for i in first["items"] + second["items"]] == [
        news["id"],
        event["id"],
        patch["id"],
    ]
    assert second["next_cursor"] is None


@pytest.mark.both_backends
async def test_edits_carry_the_version_and_a_stale_one_is_409(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    url = f"/v1/content/{item['id']}"
    edited = await client.patch(
        url,
        json={"version": 1, "body": "Now with _more_ ships.", "tags": ["ships"]},
        headers=studio.auth("moderator"),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert "<em>more</em>" in edited.json()["body_html"]
    assert edited.json()["title"] == item["title"]  # omitted fields keep their value
    stale = await client.patch(
        url, json={"version": 1, "title": "Lost update"}, headers=studio.auth("moderator")
    )
    assert stale.status_code == 409
    assert stale.json()["version"] == 2
    assert (await client.get(url, headers=studio.auth())).json()["title"] == item["title"]
    nulled = await client.patch(
        url, json={"version": 2, "title": None}, headers=studio.auth("moderator")
    )
    assert nulled.status_code == 422
    cleared = await client.patch(
        url, json={"version": 2, "publish_at": None}, headers=studio.auth("moderator")
    )
    assert cleared.status_code == 200
    # Dropping a channel drops its variant.
    forum = studio.channels["forum"]
    with_variant = await client.patch(
        url,
        json={"version": 3, "variants": {forum: {"body": "Forum only"}}},
        headers=studio.auth("moderator"),
    )
    assert with_variant.json()["variants"] == {forum: {"title": None, "body": "Forum only"}}
    dropped = await client.patch(
        url,
        json={"version": 4, "channel_ids": [studio.channels["launcher_feed"]]},
        headers=studio.auth("moderator"),
    )
    assert dropped.json()["variants"] == {}


async def test_only_unpublished_content_is_deleted(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    item = await draft(client, studio)
    url = f"/v1/content/{item['id']}"
    assert (await client.delete(url, headers=studio.auth())).status_code == 204
    assert (await client.get(url, headers=studio.auth())).status_code == 404
    assert (await client.delete(url, headers=studio.auth())).status_code == 404
