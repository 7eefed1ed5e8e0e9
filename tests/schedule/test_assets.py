"""Assets: uploads typed from their bytes, deduplicated, served publicly with a year of
caching, kept while published content uses them; in the database or a shared directory."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from app.settings import Settings
from tests.conftest import Org, http_client, make_settings, running_app, seed_org
from tests.schedule.conftest import Studio, act, draft, eventually, make_studio


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), color: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


async def upload(
    client: httpx.AsyncClient,
    studio: Studio,
    data: bytes,
    name: str = "banner.png",
    role: str = "moderator",
    content_type: str = "image/png",
) -> httpx.Response:
    return await client.post(
        f"/v1/communities/{studio.community_id}/assets",
        files={"file": (name, data, content_type)},
        headers=studio.auth(role),
    )


@pytest.mark.both_backends
async def test_upload_dedupe_and_public_bytes(client: httpx.AsyncClient, studio: Studio) -> None:
    png = image_bytes("PNG")
    created = await upload(client, studio, png, content_type="application/octet-stream")
    assert created.status_code == 201, created.text
    asset = created.json()
    assert created.headers["location"] == f"/v1/assets/{asset['id']}"
    assert asset["content_type"] == "image/png"  # from the bytes, not the client's claim
    assert (asset["width"], asset["height"], asset["bytes"]) == (64, 48, len(png))
    assert asset["sha256"] == hashlib.sha256(png).hexdigest()
    again = await upload(client, studio, png, name="same.png")
    assert again.status_code == 200 and again.json()["id"] == asset["id"]

    public = await client.get(asset["url"])  # no credential
    assert public.status_code == 200
    assert public.content == png
    assert public.headers["content-type"] == "image/png"
    assert public.headers["etag"] == f'"{asset["sha256"]}"'
    assert "max-age=31536000" in public.headers["cache-control"]
    cached = await client.get(asset["url"], headers={"If-None-Match": public.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""
    listed = await client.get(
        f"/v1/communities/{studio.community_id}/assets", headers=studio.auth("viewer")
    )
    assert [a["id"] for a in listed.json()["items"]] == [asset["id"]]


async def test_formats(client: httpx.AsyncClient, studio: Studio) -> None:
    bmp = await upload(client, studio, image_bytes("BMP"), name="old.bmp")
    assert bmp.status_code == 201
    assert bmp.json()["content_type"] == "image/png" and bmp.json()["filename"] == "old.png"
    served = await client.get(bmp.json()["url"])
    assert Image.open(io.BytesIO(served.content)).format == "PNG"
    jpeg = await upload(client, studio, image_bytes("JPEG"), name="photo.jpg")
    assert jpeg.json()["content_type"] == "image/jpeg"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = await upload(client, studio, svg, name="x.svg", content_type="image/svg+xml")
    assert refused.status_code == 415
    assert "not an image" in refused.json()["detail"]
    text = await upload(client, studio, b"hello", name="x.png")
    assert text.status_code == 415


async def test_size_limit_roles_and_tenancy(
    client: httpx.AsyncClient, studio: Studio, other_org: Org
) -> None:
    assert (await upload(client, studio, image_bytes("PNG"), role="analyst")).status_code == 403
    asset = (await upload(client, studio, image_bytes("PNG"))).json()
    assert (
        await client.get(f"/v1/assets/{asset['id']}", headers=other_org.auth())
    ).status_code == 404
    assert (
        await client.delete(f"/v1/assets/{asset['id']}", headers=studio.auth("moderator"))
    ).status_code == 403


async def test_uploads_have_their_own_limit(settings: Settings, org: Org) -> None:
    small = make_settings(settings.database_url, max_upload_bytes=4096)
    async with running_app(small) as app, http_client(app) as client:
        studio = await make_studio(client, await seed_org(app, "Limits"))
        noise = Image.effect_noise((200, 200), 80)
        out = io.BytesIO()
        noise.save(out, format="PNG")
        too_big = await upload(client, studio, out.getvalue())
        assert too_big.status_code == 413
        fits = await upload(client, studio, image_bytes("PNG", (8, 8)))
        assert fits.status_code == 201
    # The JSON body limit still holds everywhere else.
    assert settings.max_body_bytes < settings.max_upload_bytes


@pytest.mark.both_backends
async def test_an_asset_stays_while_published_content_uses_it(
    client: httpx.AsyncClient, studio: Studio
) -> None:
    asset = (await upload(client, studio, image_bytes("PNG"))).json()
    banner = (await upload(client, studio, image_bytes("PNG", color="blue"))).json()
    item = await draft(
        client,
        studio,
        channel_ids=[studio.channels["launcher_feed"]],
        asset_ids=[asset["id"]],
        feed={"image_asset_id": banner["id"]},
    )
    other = await draft(client, studio, asset_ids=[asset["id"]])
    await act(client, studio, item, "publish")

    async def published() -> bool:
        got = await client.get(f"/v1/content/{item['id']}", headers=studio.auth())
        return got.json()["status"] == "published"

    await eventually(published)
    for used in (asset, banner):
        refused = await client.delete(f"/v1/assets/{used['id']}", headers=studio.auth())
        assert refused.status_code == 409
        assert refused.json()["content_ids"] == [item["id"]]
    await act(client, studio, item, "retract", reason="Old art")
    deleted = await client.delete(f"/v1/assets/{asset['id']}", headers=studio.auth())
    assert deleted.status_code == 204
    assert (await client.get(asset["url"])).status_code == 404
    draft_now = await client.get(f"/v1/content/{other['id']}", headers=studio.auth())
    assert draft_now.json()["asset_ids"] == []  # the draft lost it, nothing else


async def test_a_directory_shared_by_replicas(settings: Settings, tmp_path: Path) -> None:
    shared = tmp_path / "assets"
    replicas = [make_settings(settings.database_url, asset_dir=str(shared)) for _ in range(2)]
    png = image_bytes("PNG")
    async with (
        running_app(replicas[0]) as one,
        running_app(replicas[1]) as two,
        http_client(one) as first,
        http_client(two) as second,
    ):
        studio = await make_studio(first, await seed_org(one, "Replicas"))
        asset: dict[str, Any] = (await upload(first, studio, png)).json()
        digest = asset["sha256"]
        assert (shared / digest[:2] / digest).read_bytes() == png
        served = await second.get(asset["url"])
        assert served.status_code == 200 and served.content == png
        await first.delete(f"/v1/assets/{asset['id']}", headers=studio.auth())
        assert not (shared / digest[:2] / digest).exists()
