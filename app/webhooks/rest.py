"""REST: /v1/webhooks, /v1/webhook-deliveries, /v1/webhook-event-types."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import document_not_found, problem_responses
from app.core.events import EVENT_TYPES
from app.core.pagination import Page, paging
from app.webhooks import service
from app.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EventTypeOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=problem_responses(401, 403, 422))
EndpointPaging = paging(service.ENDPOINT_ORDER.cursor)
DeliveryPaging = paging(service.DELIVERY_ORDER.cursor)


def _delivery_out(view: service.DeliveryView) -> DeliveryOut:
    d = view.delivery
    return DeliveryOut(
        id=d.id,
        endpoint_id=d.endpoint_id,
        message_id=d.message_id,
        event_type=d.event_type,
        payload=json.loads(d.payload),
        status=d.status,  # type: ignore[arg-type]
        attempt_count=d.attempt_count,
        next_attempt_at=d.next_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        redelivery_of=d.redelivery_of,
        attempts=[AttemptOut.model_validate(a) for a in view.attempts],
    )


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
async def create_webhook(
    data: WebhookCreate,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
    response: Response,
) -> WebhookCreated:
    """Register an endpoint for events. The signing secret is shown only here. Role: manager."""
    endpoint = await service.create_endpoint(session, actor, data, policy=runtime.outbound)
    response.headers["Location"] = f"/v1/webhooks/{endpoint.id}"
    return WebhookCreated(
        **WebhookOut.model_validate(endpoint).model_dump(), secret=endpoint.secret
    )


@router.get("/webhooks", response_model=Page[WebhookOut])
async def list_webhooks(
    session: Session, actor: CurrentActor, page: EndpointPaging
) -> Page[WebhookOut]:
    """The organisation's endpoints, oldest first. Role: manager."""
    window = await service.list_endpoints(session, actor, page)
    return Page[WebhookOut](
        items=[WebhookOut.model_validate(e) for e in window.items], next_cursor=window.next_cursor
    )


@router.get("/webhooks/{endpoint_id}", response_model=WebhookOut)
async def get_webhook(endpoint_id: uuid.UUID, session: Session, actor: CurrentActor) -> WebhookOut:
    """One endpoint, with why it was disabled if it was. Role: manager."""
    return WebhookOut.model_validate(await service.get_endpoint(session, actor, endpoint_id))


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookOut)
async def update_webhook(
    endpoint_id: uuid.UUID,
    data: WebhookUpdate,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
) -> WebhookOut:
    """Change the URL, events or description; enable or disable. Role: manager."""
    endpoint = await service.update_endpoint(
        session, actor, endpoint_id, data, policy=runtime.outbound
    )
    return WebhookOut.model_validate(endpoint)


@router.delete("/webhooks/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(endpoint_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """Delete an endpoint and its delivery log. Role: manager."""
    await service.delete_endpoint(session, actor, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks/{endpoint_id}/ping", response_model=DeliveryOut, responses=problem_responses(409)
)
async def ping_webhook(
    endpoint_id: uuid.UUID, actor: CurrentActor, runtime: RuntimeDep
) -> DeliveryOut:
    """Send a `ping` event now; the answer is in the returned delivery's attempts. Role: manager."""
    return _delivery_out(await service.ping(runtime, actor, endpoint_id))


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    endpoint_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: DeliveryPaging,
    status_: Annotated[
        Literal["pending", "succeeded", "failed"] | None, Query(alias="status")
    ] = None,
) -> Page[DeliveryOut]:
    """The delivery log, newest first: attempts, status codes, next retry. Role: manager."""
    window = await service.list_deliveries(session, actor, endpoint_id, page, status=status_)
    return Page[DeliveryOut](
        items=[_delivery_out(v) for v in window.items], next_cursor=window.next_cursor
    )


@router.get("/webhook-deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(
    delivery_id: uuid.UUID, session: Session, actor: CurrentActor
) -> DeliveryOut:
    """One delivery with all its attempts. Role: manager."""
    return _delivery_out(await service.get_delivery(session, actor, delivery_id))


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=problem_responses(409),
)
async def redeliver(
    delivery_id: uuid.UUID, session: Session, actor: CurrentActor, response: Response
) -> DeliveryOut:
    """Send a message again with the same `webhook-id`, as a new delivery. Role: manager."""
    copy = await service.redeliver(session, actor, delivery_id)
    response.headers["Location"] = f"/v1/webhook-deliveries/{copy.id}"
    return _delivery_out(service.DeliveryView(copy, []))


@router.get("/webhook-event-types", response_model=list[EventTypeOut])
async def list_event_types(actor: CurrentActor) -> list[EventTypeOut]:
    """Every event type an endpoint can subscribe to. Role: viewer."""
    return [EventTypeOut(type=name, description=text) for name, text in EVENT_TYPES.items()]


document_not_found(router)
