"""The pages people open in a browser: a landing page, Swagger UI, ReDoc and GraphiQL.

Every script, stylesheet and icon they load is served by Hearth itself (`/static/…`), so a
self-hosted Hearth without internet access still shows them: Swagger UI from the pinned
`fastapi-swagger` package, the others from `app/static/vendor/` (scripts/vendor-assets;
versions and licences in its MANIFEST.json).
"""

from __future__ import annotations

import html
import importlib.metadata
import importlib.resources
import json

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.core.static import STATIC_DIR, STATIC_URL, VENDOR_URL

SWAGGER = f"{STATIC_URL}/swagger-ui/{importlib.metadata.version('fastapi-swagger')}"
# The vendored version, as scripts/vendor-assets recorded it.
_VENDORED = json.loads((STATIC_DIR / "vendor" / "MANIFEST.json").read_text())
_REDOC = next(package["version"] for package in _VENDORED if package["name"] == "redoc")
REDOC_JS = f"{VENDOR_URL}/redoc@{_REDOC}/bundles/redoc.standalone.js"
FAVICON = f"{SWAGGER}/favicon-32x32.png"

router = APIRouter(include_in_schema=False)

LINKS = (
    ("/docs", "API reference (Swagger UI): try every REST call"),
    ("/redoc", "API reference (ReDoc)"),
    ("/graphql", "GraphiQL: explore the GraphQL schema"),
    ("/openapi.json", "OpenAPI document"),
    ("/healthz", "health"),
    ("/readyz", "readiness (database, Redis)"),
    ("/metrics", "Prometheus metrics"),
)


@router.get("/", response_class=HTMLResponse)
async def landing() -> HTMLResponse:
    items = "\n".join(
        f'    <li><a href="{href}">{html.escape(href)}</a>: {html.escape(text)}</li>'
        for href, text in LINKS
    )
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hearth {__version__}</title>
<link rel="icon" href="{FAVICON}">
<style>body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; }}</style>
</head>
<body>
  <h1>Hearth {__version__}</h1>
  <p>The API for community managers. Send <code>Authorization: Bearer &lt;API key&gt;</code>
  with every call under <code>/v1</code>.</p>
  <ul>
{items}
  </ul>
</body>
</html>
"""
    )


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Hearth API",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=FAVICON,
        # No badge that asks the public validator about the document.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="Hearth API",
        redoc_js_url=REDOC_JS,
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )


def mount_static(app: FastAPI) -> None:
    swagger = importlib.resources.files("fastapi_swagger") / "resources"
    app.mount(SWAGGER, StaticFiles(directory=str(swagger)), name="swagger-ui")
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
