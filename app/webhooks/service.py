"""Webhook endpoints and their delivery log: register, change, ping, redeliver, list."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, outbound, signing
from app.core.auth import Actor, Role
from app.core.db import new_id, utcnow
from app.core.errors import Conflict, NotFound
from app.core.events import PING
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.runtime import Runtime
from app.webhooks import engine
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import WebhookCreate, WebhookUpdate

ENDPOINT_ORDER = Keyset([(WebhookEndpoint.created_at, "asc"), (WebhookEndpoint.id, "asc")])
DELIVERY_ORDER = Keyset([(WebhookDelivery.created_at, "desc"), (WebhookDelivery.id, "desc")])

URL_LOC = ["body", "url"]


@dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def _audit_state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint: the URL's host only (a path or query may
    carry a token), never the signing secret."""
    return {
        "host": httpx.URL(endpoint.url).host,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
    }


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    endpoint: WebhookEndpoint,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        org_id=actor.org_id,
        target_type="webhook",
        target_id=endpoint.id,
        before=before,
        after=after,
    )


async def create_endpoint(
    session: AsyncSession, actor: Actor, data: WebhookCreate, *, policy: outbound.OutboundPolicy
) -> WebhookEndpoint:
    actor.require(Role.manager)
    endpoint = WebhookEndpoint(
        org_id=actor.org_id,
        url=await outbound.check_url(data.url, policy, loc=URL_LOC),
        description=data.description,
        events=data.events,
        secret=signing.new_secret(),
    )
    session.add(endpoint)
    await session.flush()
    await _audit(session, actor, "webhook.created", endpoint, after=_audit_state(endpoint))
    return endpoint


async def get_endpoint(
    session: AsyncSession, actor: Actor, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    actor.require(Role.manager)
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.org_id == actor.org_id
        )
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


async def list_endpoints(
    session: AsyncSession, actor: Actor, params: PageParams
) -> Window[WebhookEndpoint]:
    actor.require(Role.manager)
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.org_id == actor.org_id)
    return await paginate(session, stmt, ENDPOINT_ORDER, params)


async def update_endpoint(
    session: AsyncSession,
    actor: Actor,
    endpoint_id: uuid.UUID,
    data: WebhookUpdate,
    *,
    policy: outbound.OutboundPolicy,
) -> WebhookEndpoint:
    actor.require(Role.manager)  # before any DNS lookup on the caller's behalf
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    # DNS before the first query: on SQLite that query takes the write lock.
    url = (
        await outbound.check_url(changes["url"], policy, loc=URL_LOC) if "url" in changes else None
    )
    endpoint = await get_endpoint(session, actor, endpoint_id)
    old_state = _audit_state(endpoint)
    old_url, old_description = endpoint.url, endpoint.description
    if url is not None:
        endpoint.url = url
    if "events" in changes:
        endpoint.events = changes["events"]
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("enabled") is True and not endpoint.enabled:
        await _enable(session, endpoint)
    elif changes.get("enabled") is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = f"Disabled by {actor.name}."
    endpoint.updated_at = utcnow()
    await session.flush()
    before, after = audit.changes(old_state, _audit_state(endpoint))
    if endpoint.url != old_url and "host" not in after:
        after["url"] = "changed"  # same host, another path: only that it changed
    if endpoint.description != old_description:
        after["description"] = "changed"
    await _audit(session, actor, "webhook.updated", endpoint, before=before, after=after)
    return endpoint


async def _enable(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Re-enable and resume: pending deliveries become due now (the sweep sends them)."""
    endpoint.enabled = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    endpoint.failing_since = None
    now = utcnow()
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(next_attempt_at=now)
    )


async def delete_endpoint(session: AsyncSession, actor: Actor, endpoint_id: uuid.UUID) -> None:
    endpoint = await get_endpoint(session, actor, endpoint_id)
    state = _audit_state(endpoint)
    await session.delete(endpoint)
    await session.flush()
    await _audit(session, actor, "webhook.deleted", endpoint, before=state)


async def list_deliveries(
    session: AsyncSession,
    actor: Actor,
    endpoint_id: uuid.UUID,
    params: PageParams,
    *,
    status: str | None = None,
) -> Window[DeliveryView]:
    """Newest first, each with its attempts (one extra query for the whole page)."""
    endpoint = await get_endpoint(session, actor, endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    window = await paginate(session, stmt, DELIVERY_ORDER, params)
    attempts = await _attempts_by_delivery(session, [d.id for d in window.items])
    return Window([DeliveryView(d, attempts[d.id]) for d in window.items], window.next_cursor)


async def _attempts_by_delivery(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    grouped: dict[uuid.UUID, list[WebhookAttempt]] = defaultdict(list)
    if delivery_ids:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        for attempt in rows:
            grouped[attempt.delivery_id].append(attempt)
    return grouped


async def get_delivery(session: AsyncSession, actor: Actor, delivery_id: uuid.UUID) -> DeliveryView:
    actor.require(Role.manager)
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.org_id == actor.org_id
        )
    )
    if delivery is None:
        raise NotFound("No such webhook delivery.")
    attempts = await _attempts_by_delivery(session, [delivery.id])
    return DeliveryView(delivery, attempts[delivery.id])


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict(
            f"The endpoint is disabled ({endpoint.disabled_reason or 'no reason given'})."
            ' Enable it first with PATCH {"enabled": true}.'
        )


async def redeliver(session: AsyncSession, actor: Actor, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a message again, with the same `webhook-id`, as a new delivery with its own log."""
    original = (await get_delivery(session, actor, delivery_id)).delivery
    endpoint = await get_endpoint(session, actor, original.endpoint_id)
    _require_enabled(endpoint)
    copy = WebhookDelivery(
        id=new_id(),
        org_id=original.org_id,
        endpoint_id=original.endpoint_id,
        redelivery_of=original.id,
        message_id=original.message_id,
        event_type=original.event_type,
        payload=original.payload,
        next_attempt_at=utcnow(),
    )
    session.add(copy)
    await session.flush()
    await audit.record(
        session,
        actor,
        "webhook_delivery.redelivered",
        org_id=actor.org_id,
        target_type="webhook_delivery",
        target_id=original.id,
        after={"redelivery_id": copy.id, "endpoint_id": endpoint.id, "event_type": copy.event_type},
    )
    engine.schedule(session, copy)
    return copy


async def ping(runtime: Runtime, actor: Actor, endpoint_id: uuid.UUID) -> DeliveryView:
    """Send a `ping` now and return the delivery with the receiver's answer.

    The ping is an ordinary delivery: a failed one is retried on the usual schedule.
    """
    async with runtime.unit_of_work() as session:
        endpoint = await get_endpoint(session, actor, endpoint_id)
        _require_enabled(endpoint)
        now = utcnow()
        delivery_id = new_id()
        body = {
            "type": PING,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {"endpoint_id": str(endpoint.id), "message": "Hello from Hearth."},
        }
        session.add(
            WebhookDelivery(
                id=delivery_id,
                org_id=actor.org_id,
                endpoint_id=endpoint.id,
                message_id=f"msg_{delivery_id.hex}",
                event_type=PING,
                payload=json.dumps(body, separators=(",", ":")),
                next_attempt_at=now,
            )
        )
    await engine.attempt(runtime, delivery_id)
    async with runtime.read_session() as session:
        return await get_delivery(session, actor, delivery_id)


async def redact_payloads(session: AsyncSession, org_id: uuid.UUID, needle: str) -> int:
    """Redact stored delivery bodies (sent or pending) that mention `needle`, for erasure.
    The envelope keeps its type and timestamp, so a pending delivery still parses."""
    rows = await session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.org_id == org_id,
            WebhookDelivery.payload.contains(needle, autoescape=True),
        )
    )
    count = 0
    for delivery in rows:
        envelope = json.loads(delivery.payload)
        envelope["data"] = {"redacted": True, "reason": "personal data erased"}
        delivery.payload = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
        count += 1
    await session.flush()
    return count
