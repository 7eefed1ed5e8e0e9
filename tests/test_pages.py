"""The pages a person opens in a browser: a landing page at `/`, Swagger UI, ReDoc and
GraphiQL, which load every script, stylesheet and icon from Hearth itself, so a self-hosted
Hearth without internet access still shows them."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest

from app.core.static import STATIC_DIR

PAGES = ("/", "/docs", "/redoc", "/graphql")
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def references(html: str) -> list[str]:
    return _REFERENCE.findall(html)


@pytest.mark.parametrize("page", PAGES)
async def test_pages_load_only_what_hearth_serves(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    loaded = references(response.text)
    assert loaded, "a page with nothing to load is not the page we meant"
    outside = [ref for ref in loaded if not ref.startswith(("/", "data:", "#"))]
    assert outside == [], f"{page} loads from outside Hearth: {outside}"
    for ref in loaded:
        if ref.startswith("/"):
            assert (await client.get(ref)).status_code == 200, ref


async def test_the_landing_page_links_docs_graphiql_and_health(client: httpx.AsyncClient) -> None:
    links = references((await client.get("/")).text)
    assert {"/docs", "/redoc", "/graphql", "/openapi.json", "/healthz", "/readyz"} <= set(links)


async def test_graphiql_checks_the_files_it_loads(client: httpx.AsyncClient) -> None:
    """The page keeps its integrity hashes: each file Hearth serves must be the published one."""
    page = (await client.get("/graphql", headers={"Accept": "text/html"})).text
    tags = re.findall(r'(?:src|href)="(/static/[^"]+)"\s+integrity="([^"]+)"', page)
    assert len(tags) == 7
    for path, integrity in tags:
        body = (await client.get(path)).content
        assert "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode() == integrity


def test_vendored_files_are_the_recorded_versions_and_licences() -> None:
    manifest = json.loads((STATIC_DIR / "vendor" / "MANIFEST.json").read_text())
    assert {package["name"] for package in manifest} >= {"graphiql", "react", "redoc"}
    for package in manifest:
        assert package["license"] and package["version"]
        folder = STATIC_DIR / "vendor" / f"{package['name']}@{package['version']}"
        assert any(name.upper().startswith("LICEN") for name in package["files"]) or (
            package["name"] == "@graphiql/plugin-explorer"  # its tarball ships no licence file
        )
        for name, integrity in package["files"].items():
            digest = hashlib.sha384((folder / name).read_bytes()).digest()
            assert integrity == "sha384-" + base64.b64encode(digest).decode(), name
