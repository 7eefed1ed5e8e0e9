from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from app.communities.schemas import HttpURL
from app.core.events import EVENT_TYPES
from app.core.schemas import PatchModel, RequestModel, ResponseModel

# Documented as the catalogue's names; checked by `_known_events`, whose message points at
# the catalogue instead of listing every name.
EventName = Annotated[str, WithJsonSchema({"type": "string", "enum": ["*", *EVENT_TYPES]})]


def _known_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e != "*" and e not in EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"unknown event type(s) {', '.join(unknown)}; see GET /v1/webhook-event-types"
        )
    return list(dict.fromkeys(events))


class WebhookCreate(RequestModel):
    url: HttpURL
    events: list[EventName] = Field(
        min_length=1, max_length=100, description='Event types, or `["*"]` for all of them.'
    )
    description: str = Field("", max_length=500)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return _known_events(value)


class WebhookUpdate(PatchModel):
    url: HttpURL | None = None
    events: list[EventName] | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = Field(
        None, description="Re-enabling clears the disable reason and resumes pending deliveries."
    )

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return _known_events(value)  # never null: PatchModel refuses that first


class WebhookOut(ResponseModel):
    id: uuid.UUID
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None = Field(description="Why Hearth disabled this endpoint, if it did.")
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="Start of the current run of failed attempts."
    )
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The `whsec_` signing secret. Shown only in this response.")


class AttemptOut(ResponseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    message_id: str = Field(description="The `webhook-id` header; the same on every attempt.")
    event_type: str
    payload: Any = Field(description="The body sent: `{type, timestamp, data}`.")
    status: Literal["pending", "succeeded", "failed"]
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    redelivery_of: uuid.UUID | None
    attempts: list[AttemptOut]


class EventTypeOut(BaseModel):
    type: str
    description: str
