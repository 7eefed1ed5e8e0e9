"""The OpenAPI and GraphQL schemas as exported to `openapi/` (a test compares them)."""

from __future__ import annotations

import json

from app.graphql import schema
from app.main import create_app
from app.settings import Settings


def openapi_json() -> str:
    # Fixed settings: the export must not depend on the machine's environment.
    app = create_app(Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:"))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def graphql_sdl() -> str:
    return schema.as_str() + "\n"
