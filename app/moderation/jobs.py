"""Background jobs of the moderation domain (joined in `app.worker`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from app.core import events
from app.core.jobs import Periodic
from app.core.runtime import Runtime
from app.moderation import sanctions


async def report_blocked(ctx: dict[str, Any], org_id: str, payload: str) -> str:
    """`automod.matched` (`payload`: its JSON) for a write automod refused: the refused
    write rolled back, so the event is written here, after it."""
    runtime: Runtime = ctx["runtime"]
    async with runtime.unit_of_work() as session:
        await events.emit(session, uuid.UUID(org_id), "automod.matched", json.loads(payload))
    return "reported"


async def expire_sanctions(ctx: dict[str, Any]) -> dict[str, int]:
    """Record the end of sanctions whose time is up (members' status follows)."""
    runtime: Runtime = ctx["runtime"]
    async with runtime.unit_of_work() as session:
        return {"expired": await sanctions.expire_due(session)}


JOBS = [report_blocked]
PERIODIC = [Periodic(expire_sanctions, lambda settings: 30)]
