"""openapi/ holds the app's current schemas, and the OpenAPI document is valid 3.1."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_spec_validator import validate

from app.schema_export import graphql_sdl, openapi_json

OPENAPI_DIR = Path(__file__).resolve().parent.parent / "openapi"
REFRESH = "run scripts/export-schema and commit the result"


def test_openapi_json_matches_the_app() -> None:
    assert (OPENAPI_DIR / "openapi.json").read_text() == openapi_json(), REFRESH


def test_schema_graphql_matches_the_app() -> None:
    assert (OPENAPI_DIR / "schema.graphql").read_text() == graphql_sdl(), REFRESH


def test_openapi_is_valid_3_1_and_documents_problems() -> None:
    spec = json.loads(openapi_json())
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    create = spec["paths"]["/v1/communities"]["post"]["responses"]
    assert set(create) >= {"201", "401", "403", "409", "422"}
    problem = create["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert "Problem" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
