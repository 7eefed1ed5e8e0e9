"""The API does what its OpenAPI document says, as an independent fuzzer judges it.

Schemathesis (pinned in the test dependencies) runs against a served Hearth over every
operation of the document with its default checks, the stateful phase over the links between
operations, and a bounded number of examples from a fixed seed (tests/schemathesis.toml,
tests/conformance.py). Any failure fails the suite; `scripts/fuzz` runs the same for longer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conformance import owner_key, run_schemathesis, served_hearth
from tests.conftest import (
    REQUIRE_SERVICES,
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
)

SEED = "20261130"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A Hearth serving a fresh database of its own: PostgreSQL, as in production, when it
    can be reached (CI requires it), SQLite otherwise."""
    if REQUIRE_SERVICES or asyncio.run(postgres_reachable()):
        url = asyncio.run(create_postgres_database())
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/served.db"
    try:
        with served_hearth(url, tmp_path / "serve.log") as base_url:
            yield base_url, owner_key(base_url)
    finally:
        if url.startswith("postgresql"):
            asyncio.run(drop_postgres_database(url))


@pytest.mark.long(seconds=110)
def test_every_operation_conforms_to_the_document(served: tuple[str, str], tmp_path: Path) -> None:
    base_url, key = served
    spec = httpx.get(f"{base_url}/openapi.json").json()
    operations = sum(
        1
        for methods in spec["paths"].values()
        for method in methods
        if method in {"get", "put", "post", "patch", "delete"}
    )
    # First, that the step can fail: over a document that says `GET /v1/org` answers a
    # field it does not, the run fails and names the check.
    org = spec["components"]["schemas"]["OrgOut"]
    org["properties"]["plan"] = {"type": "string"}
    org["required"] = [*org.get("required", []), "plan"]
    lying = tmp_path / "openapi.json"
    lying.write_text(json.dumps(spec))
    only_get_org = ("--include-path", "/v1/org", "--include-method", "GET")
    caught = run_schemathesis(
        str(lying), base_url, key, "--seed", SEED, "--phases", "fuzzing", *only_get_org
    )
    assert caught.returncode != 0, caught.stdout[-5_000:]
    assert "Response violates schema" in caught.stdout, caught.stdout[-5_000:]

    # Then the document as served. Two runs: the stateful phase after the others takes
    # minutes, varying from run to run (it drew on everything the earlier phases had seen);
    # on its own it takes seconds.
    for phases in ("examples,coverage,fuzzing", "stateful"):
        result = run_schemathesis(
            f"{base_url}/openapi.json", base_url, key, "--seed", SEED, "--phases", phases
        )
        assert result.returncode == 0, result.stdout[-30_000:] + result.stderr[-5_000:]
        assert f"Tested: {operations}" in result.stdout or phases == "stateful", result.stdout
    assert "Scenarios:" in result.stdout, result.stdout[-3_000:]
