"""Background jobs of the webhooks domain (joined in `app.worker`)."""

from __future__ import annotations

import uuid
from typing import Any

from app.core.jobs import Periodic
from app.core.runtime import Runtime
from app.settings import Settings
from app.webhooks import engine


def _runtime(ctx: dict[str, Any]) -> Runtime:
    return ctx["runtime"]


async def dispatch_events(ctx: dict[str, Any]) -> dict[str, int]:
    """Fan every undispatched outbox event out to the endpoints subscribed to it."""
    return await engine.dispatch(_runtime(ctx))


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    """One delivery attempt (skipped when not due or already claimed)."""
    return await engine.attempt(_runtime(ctx), uuid.UUID(delivery_id))


async def sweep_webhooks(ctx: dict[str, Any]) -> dict[str, int]:
    """Ask for a dispatch when events wait, and re-enqueue due or stuck deliveries."""
    dispatch_asked, deliveries = await engine.sweep(_runtime(ctx))
    return {"dispatch_asked": dispatch_asked, "deliveries": deliveries}


def _sweep_interval(settings: Settings) -> int:
    return settings.sweep_interval_seconds


JOBS = [dispatch_events, deliver_webhook]
PERIODIC = [Periodic(sweep_webhooks, _sweep_interval)]
