"""Feed request and response models (REST; GraphQL types derive from these)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.core.schemas import Instant, RequestModel, ResponseModel

MAX_EVENTS = 100

ClientId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$"),
    Field(description="The launcher install's own stable id (not a player's identity)."),
]


class FeedEventIn(RequestModel):
    item_id: uuid.UUID
    type: Literal["impression", "click"]
    client_id: ClientId
    at: Instant | None = Field(
        None,
        description="When it happened, with its UTC offset (default: when received); within"
        " the last 48 hours.",
    )


class FeedEventsIn(RequestModel):
    events: list[FeedEventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class FeedEventsAccepted(ResponseModel):
    accepted: int = Field(description="Events of this feed's items, queued for writing.")
    ignored: int = Field(description="Events naming an item this feed does not have.")


class FeedItemOut(ResponseModel):
    id: uuid.UUID
    kind: str
    title: str
    summary: str | None
    content_html: str
    url: str | None
    image_url: str | None
    tags: list[str]
    pinned: bool
    priority: int
    published_at: datetime
    updated_at: datetime
    expires_at: datetime | None


class FeedOut(ResponseModel):
    title: str
    home_page_url: str | None
    feed_url: str
    locale: str = Field(description="The language the items are in (negotiated).")
    items: list[FeedItemOut]
    next_url: str | None
