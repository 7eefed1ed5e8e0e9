"""Schemathesis against a served Hearth, as a user would run it: `hearth serve` on a fresh
database, an organisation and its owner key, then `schemathesis run` over every operation of
the served OpenAPI document with the settings in `tests/schemathesis.toml`.

tests/test_conformance.py runs it in CI (a fixed seed, few examples); `scripts/fuzz` runs it
long (`python -m tests.conformance --max-examples 500`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.processes import PROJECT_ROOT, free_port, hearth_env, hearth_process

CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@contextmanager
def served_hearth(database_url: str, log: Path) -> Iterator[str]:
    """`hearth migrate` then `hearth serve` on a free port; yields the base URL."""
    env = hearth_env(database_url, HEARTH_LOG_LEVEL="WARNING")
    migrated = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with hearth_process(["serve", "--port", str(port)], env, log) as server:
        deadline = time.monotonic() + 30
        while not _healthy(base_url):
            if server.poll() is not None:
                raise AssertionError(f"hearth exited early:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"hearth did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base_url


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def owner_key(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/v1/orgs",
        json={"name": "Conformance"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    response.raise_for_status()
    return str(response.json()["owner_key"])


def run_schemathesis(
    schema: str, base_url: str, key: str, *args: str, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    """`schemathesis run` with Hearth's configuration; `schema` is a URL or a file."""
    env = {
        **os.environ,
        "HEARTH_FUZZ_KEY": key,
        "HEARTH_FUZZ_ADMIN_TOKEN": ADMIN_TOKEN,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
    }
    if capture:
        env["NO_COLOR"] = "1"
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", schema]
    return subprocess.run(
        [*command, "--url", base_url, *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=capture,
        text=True,
        timeout=None if not capture else 1800,
    )


def main(argv: Sequence[str]) -> int:
    """scripts/fuzz: a long run on a fresh SQLite database (or HEARTH_FUZZ_DATABASE_URL)."""
    with tempfile.TemporaryDirectory(prefix="hearth-fuzz-") as scratch:
        database_url = os.environ.get(
            "HEARTH_FUZZ_DATABASE_URL", f"sqlite+aiosqlite:///{scratch}/fuzz.db"
        )
        log = Path(scratch) / "serve.log"
        with served_hearth(database_url, log) as base_url:
            print(f"Hearth serves on {base_url}; schemathesis runs (the server's log: {log}).")
            key = owner_key(base_url)
            schema = f"{base_url}/openapi.json"
            return run_schemathesis(schema, base_url, key, *argv, capture=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
