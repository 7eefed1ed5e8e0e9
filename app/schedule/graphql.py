"""GraphQL: content, its review and publishing, previews, deliveries and the crisis pause,
over the same service calls as REST. Inputs convert to the REST schemas (`parse`), so both
validate alike; each mutation runs in one unit of work."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.experimental import pydantic as derived
from strawberry.scalars import JSON
from strawberry.types import Info

from app.communities import service as communities
from app.communities.graphql import CommunityType
from app.core.graphql import Context, page, parse, plain
from app.core.pagination import MAX_LIMIT
from app.schedule import calendar, content, planning, workflow
from app.schedule.graphql_types import (
    CalendarEntryType,
    CheckResultType,
    ContentPage,
    ContentType,
    DeliveryType,
    PreviewType,
    content_of,
)
from app.schedule.schemas import (
    CalendarEntry,
    CalendarRange,
    ContentCreate,
    ContentKind,
    ContentStatus,
    ContentUpdate,
    DeliveryOut,
    FeedOptions,
    PauseIn,
    Recurrence,
    RejectIn,
    RetractIn,
    ScheduleIn,
)

Ctx = Info[Context, None]
First = Annotated[int, strawberry.argument(description=f"At most {MAX_LIMIT}.")]


@derived.input(model=FeedOptions, all_fields=True, name="FeedOptionsInput")
class FeedOptionsInput:
    pass


@derived.input(model=Recurrence, all_fields=True, name="RecurrenceInput")
class RecurrenceInput:
    pass


@strawberry.input(description="A draft; the fields of REST's create body.")
class ContentInput:
    kind: ContentKind
    title: str
    body: str
    locale: str | None = strawberry.UNSET
    translations: JSON | None = strawberry.UNSET
    channel_ids: list[uuid.UUID] | None = strawberry.UNSET
    variants: JSON | None = strawberry.UNSET
    asset_ids: list[uuid.UUID] | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    feed: FeedOptionsInput | None = strawberry.UNSET
    fields: JSON | None = strawberry.UNSET
    recurrence: RecurrenceInput | None = strawberry.UNSET
    publish_at: datetime | None = strawberry.UNSET


@strawberry.input(description="An edit: fields left out keep their value; `version` is required.")
class ContentPatch:
    version: int
    redeliver: bool | None = strawberry.UNSET
    kind: ContentKind | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    body: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    translations: JSON | None = strawberry.UNSET
    channel_ids: list[uuid.UUID] | None = strawberry.UNSET
    variants: JSON | None = strawberry.UNSET
    asset_ids: list[uuid.UUID] | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    feed: FeedOptionsInput | None = strawberry.UNSET
    fields: JSON | None = strawberry.UNSET
    recurrence: RecurrenceInput | None = strawberry.UNSET
    publish_at: datetime | None = strawberry.UNSET


def _instants(data: dict) -> dict:
    """GraphQL hands datetimes over parsed; the REST schemas take them as JSON sends them."""
    for key in ("publish_at",):
        if isinstance(data.get(key), datetime):
            data[key] = data[key].isoformat()
    for nested in ("feed", "recurrence"):
        if isinstance(data.get(nested), dict):
            _instants_in(data[nested])
    return data


def _instants_in(data: dict) -> None:
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()


@strawberry.type
class Query:
    @strawberry.field(description="One content item. Role: viewer.")
    async def content(self, info: Ctx, id: uuid.UUID) -> ContentType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return content_of(content.to_out(await content.load(session, actor, id)))

    @strawberry.field(description="A community's content, newest first. Role: viewer.")
    async def contents(
        self,
        info: Ctx,
        community_id: uuid.UUID,
        status: ContentStatus | None = None,
        kind: ContentKind | None = None,
        channel_id: uuid.UUID | None = None,
        q: str | None = None,
        first: First = 20,
        after: str | None = None,
    ) -> ContentPage:
        actor = await info.context.actor()
        params = page(first, after)
        async with info.context.runtime.read_session() as session:
            window = await content.list_content(
                session,
                actor,
                community_id,
                params,
                status=status.value if status else None,
                kind=kind.value if kind else None,
                channel_id=channel_id,
                q=q,
            )
        items = [content_of(content.to_out(item)) for item in window.items]
        return ContentPage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(
        description="Scheduled and published items and recurring occurrences in [from, to),"
        " the first 1,000. Role: viewer."
    )
    async def calendar(
        self,
        info: Ctx,
        community_id: uuid.UUID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[CalendarEntryType]:
        actor = await info.context.actor()
        span = parse(CalendarRange, {"start": from_.isoformat(), "end": to.isoformat()})
        async with info.context.runtime.read_session() as session:
            found, _ = await calendar.entries(session, actor, community_id, span.start, span.end)
        return [
            CalendarEntryType.from_pydantic(CalendarEntry.model_validate(e, from_attributes=True))
            for e in found
        ]

    @strawberry.field(description="What each channel would receive, with its checks.")
    async def content_preview(self, info: Ctx, id: uuid.UUID) -> list[PreviewType]:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            previews = await workflow.preview(session, actor, id)
        return [PreviewType.from_pydantic(p) for p in previews]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Write a draft. Role: moderator.")
    async def create_content(
        self, info: Ctx, community_id: uuid.UUID, input: ContentInput
    ) -> ContentType:
        actor = await info.context.actor()
        data = parse(ContentCreate, _instants(plain(input)))
        async with info.context.runtime.unit_of_work() as session:
            item = await workflow.create(session, actor, community_id, data)
        return content_of(content.to_out(item))

    @strawberry.mutation(description="Edit; a stale `version` is a CONFLICT. Role: moderator.")
    async def update_content(self, info: Ctx, id: uuid.UUID, input: ContentPatch) -> ContentType:
        actor = await info.context.actor()
        data = parse(ContentUpdate, _instants(plain(input)))
        async with info.context.runtime.unit_of_work() as session:
            item = await workflow.edit(session, actor, id, data)
        return content_of(content.to_out(item))

    @strawberry.mutation(description="Delete content never published. Role: manager.")
    async def delete_content(self, info: Ctx, id: uuid.UUID) -> bool:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            await content.delete_content(session, actor, id)
        return True

    @strawberry.mutation(description="Send a draft for review. Role: moderator.")
    async def submit_content(self, info: Ctx, id: uuid.UUID) -> ContentType:
        return await _transition(info, workflow.submit, id)

    @strawberry.mutation(description="Approve content in review. Role: manager.")
    async def approve_content(self, info: Ctx, id: uuid.UUID) -> ContentType:
        return await _transition(info, workflow.approve, id)

    @strawberry.mutation(description="Back to draft with a note. Role: manager.")
    async def reject_content(self, info: Ctx, id: uuid.UUID, note: str) -> ContentType:
        data = parse(RejectIn, {"note": note})
        return await _transition(info, workflow.reject, id, data.note)

    @strawberry.mutation(description="Publish at a future time. Role: manager.")
    async def schedule_content(self, info: Ctx, id: uuid.UUID, publish_at: datetime) -> ContentType:
        data = parse(ScheduleIn, {"publish_at": publish_at.isoformat()})
        return await _transition(info, workflow.schedule, id, data.publish_at)

    @strawberry.mutation(description="Publish now; deliveries proceed. Role: manager.")
    async def publish_content(self, info: Ctx, id: uuid.UUID) -> ContentType:
        return await _transition(info, workflow.publish, id)

    @strawberry.mutation(description="Unschedule, or shelve. Role: manager.")
    async def cancel_content(self, info: Ctx, id: uuid.UUID) -> ContentType:
        return await _transition(info, workflow.cancel, id)

    @strawberry.mutation(description="Take it down everywhere. Role: manager.")
    async def retract_content(self, info: Ctx, id: uuid.UUID, reason: str) -> ContentType:
        data = parse(RetractIn, {"reason": reason})
        return await _transition(info, workflow.retract, id, data.reason)

    @strawberry.mutation(description="Preflight checks. Role: moderator.")
    async def check_content(self, info: Ctx, id: uuid.UUID) -> CheckResultType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            result = await workflow.check(session, actor, id)
        return CheckResultType.from_pydantic(result)

    @strawberry.mutation(description="Send a failed delivery again. Role: manager.")
    async def retry_delivery(self, info: Ctx, id: uuid.UUID) -> DeliveryType:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            row = await planning.retry(session, actor, id)
            out = DeliveryOut.model_validate(row)
        return DeliveryType.from_pydantic(out)

    @strawberry.mutation(description="Crisis pause: deliver nothing. Role: manager.")
    async def pause_community(self, info: Ctx, id: uuid.UUID, reason: str) -> CommunityType:
        actor = await info.context.actor()
        data = parse(PauseIn, {"reason": reason})
        async with info.context.runtime.unit_of_work() as session:
            community = await workflow.pause(session, actor, id, data.reason)
        return CommunityType.of(communities.to_out(community))

    @strawberry.mutation(
        description="Resume deliveries; overdue items return to approved unless"
        " `publishOverdue`. Role: manager."
    )
    async def resume_community(
        self, info: Ctx, id: uuid.UUID, publish_overdue: bool = False
    ) -> CommunityType:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            community = await workflow.resume(session, actor, id, publish_overdue=publish_overdue)
        return CommunityType.of(communities.to_out(community))


async def _transition(info: Ctx, action: object, id: uuid.UUID, *args: object) -> ContentType:
    actor = await info.context.actor()
    async with info.context.runtime.unit_of_work() as session:
        item = await action(session, actor, id, *args)  # type: ignore[operator]
    return content_of(content.to_out(item))
