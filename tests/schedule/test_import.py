"""Bulk import: JSON or CSV, a verdict per row, nothing half-written, dry runs; and the
`hearth import-content` command with its progress bar."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.processes import PROJECT_ROOT, hearth_env
from tests.schedule.conftest import Studio


async def post_import(
    client: httpx.AsyncClient, studio: Studio, body: bytes, media: str, query: str = ""
) -> httpx.Response:
    return await client.post(
        f"/v1/communities/{studio.community_id}/content/import{query}",
        content=body,
        headers={**studio.auth(), "Content-Type": media},
    )


async def count(client: httpx.AsyncClient, studio: Studio) -> int:
    listed = await client.get(
        f"/v1/communities/{studio.community_id}/content?limit=100", headers=studio.auth()
    )
    return len(listed.json()["items"])


@pytest.mark.both_backends
async def test_json_import_reports_every_row(client: httpx.AsyncClient, studio: Studio) -> None:
    feed = studio.channels["launcher_feed"]
    items = [
        {"kind": "patch_notes", "title": "Patch 1.1", "body": "Fixes.", "channel_ids": [feed]},
        {"kind": "rumour", "title": "x", "body": "y"},
        {
            "kind": "event",
            "title": "Meetup",
            "body": "Come!",
            "channel_ids": [str(uuid.uuid4())],
        },
        "not an object",
        {"kind": "event", "title": "Stream", "body": "Live.", "publish_at": "2030-05-01T18:00:00Z"},
    ]
    body = json.dumps({"items": items}).encode()
    dry = await post_import(client, studio, body, "application/json", "?dry_run=true")
    assert dry.status_code == 200, dry.text
    assert [r["ok"] for r in dry.json()["results"]] == [True, False, False, False, True]
    assert dry.json()["created"] == 0 and dry.json()["failed"] == 3
    assert await count(client, studio) == 0  # a dry run creates nothing

    real = await post_import(client, studio, body, "application/json")
    result = real.json()
    assert (result["created"], result["failed"]) == (2, 3)
    rows = {r["row"]: r for r in result["results"]}
    assert rows[2]["errors"][0]["loc"] == ["kind"]
    assert rows[3]["errors"][0]["loc"] == ["channel_ids"]  # no such channel: nothing written
    assert rows[4]["ok"] is False
    created = await client.get(f"/v1/content/{rows[5]['id']}", headers=studio.auth())
    assert created.json()["status"] == "draft"  # imported items are drafts
    assert created.json()["publish_at"] == "2030-05-01T18:00:00Z"  # the planned time, kept
    assert await count(client, studio) == 2


async def test_csv_import(client: httpx.AsyncClient, studio: Studio) -> None:
    forum, feed = studio.channels["forum"], studio.channels["launcher_feed"]
    csv = (
        "kind,title,body,locale,channel_ids,publish_at,tags\n"
        f'announcement,"Season 3, at last","Ships, maps.",en,{forum} {feed},,season-3 news\n'
        "highlight,Fan art,Look!,de,,2030-01-01T10:00:00Z,\n"
        "announcement,Too,many,cells,,,,extra\n"
    ).encode()
    response = await post_import(client, studio, csv, "text/csv")
    assert response.status_code == 200, response.text
    first, second, third = response.json()["results"]
    assert first["ok"] and second["ok"] and not third["ok"]
    item = (await client.get(f"/v1/content/{first['id']}", headers=studio.auth())).json()
    assert item["title"] == "Season 3, at last"
    assert item["channel_ids"] == [forum, feed]
    assert item["tags"] == ["season-3", "news"]
    assert (await client.get(f"/v1/content/{second['id']}", headers=studio.auth())).json()[
        "locale"
    ] == "de"


@pytest.mark.parametrize(
    ("body", "media", "status"),
    [
        (b"{not json", "application/json", 422),
        (b'{"rows": []}', "application/json", 422),
        (b"name,title\nx,y\n", "text/csv", 422),
        (b"\xff\xfe", "text/csv", 422),
        (json.dumps({"items": [{}] * 1001}).encode(), "application/json", 422),
        (b"kind,title,body\n", "text/plain", 415),
    ],
)
async def test_unreadable_files_are_refused_whole(
    client: httpx.AsyncClient, studio: Studio, body: bytes, media: str, status: int
) -> None:
    response = await post_import(client, studio, body, media)
    assert response.status_code == status, response.text
    assert await count(client, studio) == 0


async def test_roles(client: httpx.AsyncClient, studio: Studio) -> None:
    body = json.dumps({"items": []}).encode()
    response = await client.post(
        f"/v1/communities/{studio.community_id}/content/import",
        content=body,
        headers={**studio.auth("moderator"), "Content-Type": "application/json"},
    )
    assert response.status_code == 403


async def test_the_cli_imports_with_a_progress_bar(
    settings: Settings, client: httpx.AsyncClient, studio: Studio, tmp_path: Path
) -> None:
    rows = [{"kind": "event", "title": f"Event {n}", "body": "Details."} for n in range(30)]
    rows.append({"kind": "event", "title": "", "body": "No title."})
    file = tmp_path / "plan.json"
    file.write_text(json.dumps({"items": rows}))
    command = [sys.executable, "-m", "app.cli", "import-content", str(file)]
    env = hearth_env(settings.database_url, COLUMNS="100")
    done = await asyncio.to_thread(
        subprocess.run,
        [*command, "--community", "starfall"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr  # one row failed
    assert "Importing into starfall" in done.stdout
    assert "100%" in done.stdout
    assert "30 of 31 rows created." in done.stdout
    assert "row 31: title:" in done.stdout
    assert await count(client, studio) == 30
    missing = await asyncio.to_thread(
        subprocess.run,
        [*command, "--community", "nowhere"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "No community 'nowhere'" in missing.stderr
