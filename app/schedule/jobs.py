"""Background jobs of the schedule domain (joined in `app.worker`)."""

from __future__ import annotations

import uuid
from typing import Any

from app.core.jobs import Periodic
from app.core.runtime import Runtime
from app.schedule import engine, recurrence
from app.settings import Settings


def _runtime(ctx: dict[str, Any]) -> Runtime:
    return ctx["runtime"]


async def deliver_content(ctx: dict[str, Any], delivery_id: str) -> str:
    """Perform a delivery row's due action (send, edit, take down), if it is due."""
    return await engine.attempt(_runtime(ctx), uuid.UUID(delivery_id))


async def sweep_deliveries(ctx: dict[str, Any]) -> dict[str, int]:
    """Queue deliveries due soon, and those whose worker died mid-send."""
    return {"queued": await engine.sweep(_runtime(ctx))}


async def materialize_series(ctx: dict[str, Any]) -> dict[str, int]:
    """Turn the occurrences of recurring content due within a day into scheduled copies."""
    async with _runtime(ctx).unit_of_work() as session:
        return {"created": await recurrence.materialize_all(session)}


def _sweep_interval(settings: Settings) -> int:
    return settings.sweep_interval_seconds


JOBS = [deliver_content]
PERIODIC = [
    Periodic(sweep_deliveries, _sweep_interval),
    Periodic(materialize_series, lambda settings: 60),
]
