"""GraphQL output types of the schedule domain, derived from the REST response schemas
(Strawberry's pydantic integration): the pydantic models are the one description of each
object, and `tests/test_graphql_parity.py` checks the two agree. Only what GraphQL adds is
written here: relations through DataLoaders, and JSON for maps keyed by data."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import strawberry
from sqlalchemy import select
from strawberry.dataloader import DataLoader
from strawberry.experimental import pydantic as derived
from strawberry.scalars import JSON
from strawberry.types import Info

from app.communities import channels as channel_service
from app.communities.graphql import ChannelType
from app.communities.models import Channel
from app.core.graphql import Context
from app.core.runtime import Runtime
from app.schedule.models import Delivery
from app.schedule.schemas import (
    CalendarEntry,
    Check,
    CheckResult,
    ContentOut,
    DeliveryOut,
    FeedOptions,
    PreviewOut,
    Recurrence,
)


@derived.type(model=FeedOptions, all_fields=True, name="FeedOptions")
class FeedOptionsType:
    pass


@derived.type(model=Recurrence, all_fields=True, name="Recurrence")
class RecurrenceType:
    pass


@derived.type(model=DeliveryOut, all_fields=True, name="Delivery")
class DeliveryType:
    pass


@derived.type(model=CalendarEntry, all_fields=True, name="CalendarEntry")
class CalendarEntryType:
    pass


@derived.type(model=Check, all_fields=True, name="Check")
class CheckType:
    pass


@derived.type(model=CheckResult, all_fields=True, name="CheckResult")
class CheckResultType:
    pass


@derived.type(model=PreviewOut, all_fields=True, name="Preview")
class PreviewType:
    payload: JSON = strawberry.field(description="The request body, or the item, sent.")


def _deliveries_loader(runtime: Runtime) -> DataLoader[uuid.UUID, list[DeliveryType]]:
    async def load(content_ids: Sequence[uuid.UUID]) -> list[list[DeliveryType]]:
        # One query for every item in the response; the items were read with the caller's
        # tenancy, so their rows are theirs.
        async with runtime.read_session() as session:
            rows = await session.scalars(
                select(Delivery)
                .where(Delivery.content_id.in_(content_ids))
                .order_by(Delivery.created_at, Delivery.id)
            )
            grouped: dict[uuid.UUID, list[DeliveryType]] = defaultdict(list)
            for row in rows:
                out = DeliveryOut.model_validate(row)
                grouped[row.content_id].append(DeliveryType.from_pydantic(out))
        return [grouped[cid] for cid in content_ids]

    return DataLoader(load_fn=load)


def _channels_loader(runtime: Runtime) -> DataLoader[uuid.UUID, ChannelType | None]:
    async def load(channel_ids: Sequence[uuid.UUID]) -> list[ChannelType | None]:
        async with runtime.read_session() as session:
            found = {
                channel.id: ChannelType.of(channel_service.to_out(channel))
                for channel in await session.scalars(
                    select(Channel).where(Channel.id.in_(channel_ids))
                )
            }
        return [found.get(cid) for cid in channel_ids]

    return DataLoader(load_fn=load)


@derived.type(model=ContentOut, all_fields=True, name="Content")
class ContentType:
    translations: JSON = strawberry.field(description="`{locale: {title, body}}`.")
    variants: JSON = strawberry.field(description="`{channel_id: {title?, body?}}`.")
    fields: JSON = strawberry.field(description="Free fields, as webhook channels get them.")

    @strawberry.field(description="One row per channel it was scheduled or published to.")
    async def deliveries(self, info: Info[Context, None]) -> list[DeliveryType]:
        loader = info.context.loader("deliveries_by_content", _deliveries_loader)
        return await loader.load(self.id)

    @strawberry.field(description="The channels it goes to, in the order given.")
    async def channels(self, info: Info[Context, None]) -> list[ChannelType]:
        loader = info.context.loader("channels_by_id", _channels_loader)
        found = await loader.load_many(self.channel_ids)
        return [channel for channel in found if channel is not None]


def content_of(out: ContentOut) -> ContentType:
    """The GraphQL view of a REST content body; maps keyed by data go as their JSON."""
    as_json = out.model_dump(mode="json", include={"translations", "variants", "fields"})
    # model_copy(update=) does not validate: the copy holds the plain JSON (from_pydantic
    # prefers the model's values over `extra`).
    return ContentType.from_pydantic(out.model_copy(update=as_json))


@strawberry.type
class ContentPage:
    items: list[ContentType]
    next_cursor: str | None
