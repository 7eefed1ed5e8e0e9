"""Migrations run both ways on both engines, and the models match them (no drift)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import fresh_database, run_alembic


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_upgrade_downgrade_upgrade_without_drift(backend: str, tmp_path) -> None:
    async with fresh_database(backend, tmp_path) as url:
        await asyncio.to_thread(run_alembic, url, "upgrade")
        assert {
            "organisations",
            "api_keys",
            "communities",
            "channels",
            "outbox_events",
            "webhook_endpoints",
            "webhook_deliveries",
            "webhook_attempts",
        } <= await table_names(url)
        await asyncio.to_thread(run_alembic, url, "downgrade", "base")
        assert await table_names(url) <= {"alembic_version"}
        await asyncio.to_thread(run_alembic, url, "upgrade")
        # `alembic check` raises when the models and the migrated schema differ.
        await asyncio.to_thread(run_alembic, url, "check")
