"""GraphQL: communities and channels, over the same service calls as REST.

A community also carries the forum's fields (categories, threads, inbox, saved replies),
resolved by `app.forum.graphql`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from app.communities import channels, service
from app.communities.models import Channel
from app.communities.platforms import ChannelKind
from app.communities.schemas import (
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    CommunityCreate,
    CommunityOut,
    CommunityUpdate,
    MemberSecretIn,
)
from app.core.errors import ValidationFailed
from app.core.graphql import Context, given, page, parse
from app.core.pagination import MAX_LIMIT
from app.core.runtime import Runtime
from app.forum import graphql as forum_graphql

ChannelKindGQL = strawberry.enum(ChannelKind, name="ChannelKind")


@strawberry.type
class Tone:
    voice: str
    formality: str = strawberry.field(description="casual, neutral or formal")
    emoji: str = strawberry.field(description="none, some or lots")
    banned_phrases: list[str]
    preferred_terms: JSON = strawberry.field(description="{avoid: use}")
    sign_off: str


@strawberry.type(name="Channel")
class ChannelType:
    id: uuid.UUID
    community_id: uuid.UUID
    name: str
    kind: ChannelKindGQL
    config: JSON = strawberry.field(description="Secrets removed; token-bearing URLs masked.")
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, out: ChannelOut) -> ChannelType:
        return cls(
            id=out.id,
            community_id=out.community_id,
            name=out.name,
            kind=out.kind,
            config=out.config,
            enabled=out.enabled,
            created_at=out.created_at,
            updated_at=out.updated_at,
        )


def _channels_loader(runtime: Runtime) -> DataLoader[uuid.UUID, list[ChannelType]]:
    async def load(community_ids: list[uuid.UUID]) -> list[list[ChannelType]]:
        # One query for every community in the response; callers already own these ids.
        async with runtime.read_session() as session:
            rows = await session.scalars(
                select(Channel)
                .where(Channel.community_id.in_(community_ids))
                .order_by(Channel.created_at, Channel.id)
            )
            grouped: dict[uuid.UUID, list[ChannelType]] = defaultdict(list)
            for channel in rows:
                grouped[channel.community_id].append(ChannelType.of(channels.to_out(channel)))
        return [grouped[cid] for cid in community_ids]

    return DataLoader(load_fn=load)


@strawberry.type(name="Community")
class CommunityType:
    id: uuid.UUID
    slug: str
    name: str
    description: str
    default_locale: str
    locales: list[str]
    require_approval: bool = strawberry.field(
        description="Content needs another key's approval before it goes out."
    )
    paused_at: datetime | None = strawberry.field(
        description="Set while deliveries are paused (crisis)."
    )
    pause_reason: str | None
    created_at: datetime
    updated_at: datetime
    # Settings: staff only (a member token gets FORBIDDEN on these fields).
    tone_settings: strawberry.Private[Tone]
    member_secret_set: strawberry.Private[bool]

    @classmethod
    def of(cls, out: CommunityOut) -> CommunityType:
        return cls(
            id=out.id,
            slug=out.slug,
            name=out.name,
            description=out.description,
            default_locale=out.default_locale,
            locales=out.locales,
            require_approval=out.require_approval,
            paused_at=out.paused_at,
            pause_reason=out.pause_reason,
            tone_settings=Tone(**out.tone.model_dump()),
            member_secret_set=out.has_member_secret,
            created_at=out.created_at,
            updated_at=out.updated_at,
        )

    @strawberry.field(
        description="How the community is written to. Staff only (FORBIDDEN for members)."
    )
    async def tone(self, info: Info[Context, None]) -> Tone | None:
        service.require_settings_access(await info.context.actor())
        return self.tone_settings

    @strawberry.field(
        description="Whether member tokens are accepted. Staff only (FORBIDDEN for members)."
    )
    async def has_member_secret(self, info: Info[Context, None]) -> bool | None:
        service.require_settings_access(await info.context.actor())
        return self.member_secret_set

    @strawberry.field(
        description="The community's channels, oldest first. Staff only (FORBIDDEN for members)."
    )
    async def channels(self, info: Info[Context, None]) -> list[ChannelType] | None:
        service.require_settings_access(await info.context.actor())
        return await info.context.loader("channels_by_community", _channels_loader).load(self.id)

    # The forum, in this community.
    categories = forum_graphql.community_categories
    threads = forum_graphql.community_threads
    inbox = forum_graphql.community_inbox
    saved_replies = forum_graphql.community_saved_replies


@strawberry.type
class CommunityPage:
    items: list[CommunityType]
    next_cursor: str | None


@strawberry.input
class ToneInput:
    voice: str | None = strawberry.UNSET
    formality: str | None = strawberry.UNSET
    emoji: str | None = strawberry.UNSET
    banned_phrases: list[str] | None = strawberry.UNSET
    preferred_terms: JSON | None = strawberry.UNSET
    sign_off: str | None = strawberry.UNSET


@strawberry.input
class CommunityInput:
    slug: str
    name: str
    description: str | None = strawberry.UNSET
    default_locale: str | None = strawberry.UNSET
    locales: list[str] | None = strawberry.UNSET
    tone: ToneInput | None = strawberry.UNSET
    require_approval: bool | None = strawberry.UNSET


@strawberry.input
class CommunityPatch:
    slug: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    default_locale: str | None = strawberry.UNSET
    locales: list[str] | None = strawberry.UNSET
    tone: ToneInput | None = strawberry.UNSET
    require_approval: bool | None = strawberry.UNSET


@strawberry.input
class ChannelInput:
    name: str
    kind: ChannelKindGQL
    config: JSON | None = strawberry.UNSET


@strawberry.input
class ChannelPatch:
    name: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    config: JSON | None = strawberry.UNSET


@strawberry.type
class ChannelCreatedPayload:
    channel: ChannelType
    signing_secret: str | None = strawberry.field(
        description="`webhook` channels: the signing secret, shown only here."
    )


@strawberry.type(name="ChannelTestResult")
class ChannelTestResultType:
    ok: bool
    status_code: int | None
    response_body: str | None
    error: str | None
    duration_ms: float
    sent_text: str


def _with_tone(data: dict[str, Any]) -> dict[str, Any]:
    if isinstance(data.get("tone"), ToneInput):
        data["tone"] = given(data["tone"])
    return data


@strawberry.type
class Query:
    @strawberry.field(description="The organisation's communities, oldest first.")
    async def communities(
        self,
        info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description=f"At most {MAX_LIMIT}.")] = 20,
        after: str | None = None,
    ) -> CommunityPage:
        actor = await info.context.actor()
        params = page(first, after)
        async with info.context.runtime.read_session() as session:
            window = await service.list_communities(session, actor, params)
        items = [CommunityType.of(service.to_out(c)) for c in window.items]
        return CommunityPage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(
        description="One community, by id or by slug. Staff: any of the org's; a member "
        "token: the member's own community."
    )
    async def community(
        self, info: Info[Context, None], id: uuid.UUID | None = None, slug: str | None = None
    ) -> CommunityType:
        actor = await info.context.actor()
        if (id is None) == (slug is None):
            raise ValidationFailed("Give either the community's `id` or its `slug`.")
        async with info.context.runtime.read_session() as session:
            community = await service.get_visible_community(
                session, actor, community_id=id, slug=slug
            )
        return CommunityType.of(service.to_out(community))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a community. Role: manager.")
    async def create_community(
        self, info: Info[Context, None], input: CommunityInput
    ) -> CommunityType:
        actor = await info.context.actor()
        data = parse(CommunityCreate, _with_tone(given(input)))
        async with info.context.runtime.unit_of_work() as session:
            community = await service.create_community(session, actor, data)
        return CommunityType.of(service.to_out(community))

    @strawberry.mutation(
        description="Change a community; omitted fields keep their value. Role: manager."
    )
    async def update_community(
        self, info: Info[Context, None], id: uuid.UUID, input: CommunityPatch
    ) -> CommunityType:
        actor = await info.context.actor()
        data = parse(CommunityUpdate, _with_tone(given(input)))
        async with info.context.runtime.unit_of_work() as session:
            community = await service.update_community(session, actor, id, data)
        return CommunityType.of(service.to_out(community))

    @strawberry.mutation(description="Delete a community and everything in it. Role: owner.")
    async def delete_community(self, info: Info[Context, None], id: uuid.UUID) -> bool:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            await service.delete_community(session, actor, id)
        return True

    @strawberry.mutation(
        description="Set the HS256 secret member JWTs are signed with. Role: owner."
    )
    async def set_member_secret(
        self, info: Info[Context, None], id: uuid.UUID, secret: str
    ) -> bool:
        actor = await info.context.actor()
        data = parse(MemberSecretIn, {"secret": secret})
        async with info.context.runtime.unit_of_work() as session:
            await service.set_member_secret(session, actor, id, data.secret)
        return True

    @strawberry.mutation(description="Add a channel; `config` depends on `kind`. Role: manager.")
    async def create_channel(
        self, info: Info[Context, None], community_id: uuid.UUID, input: ChannelInput
    ) -> ChannelCreatedPayload:
        actor = await info.context.actor()
        raw = given(input)
        raw.setdefault("config", {})
        data = parse(ChannelCreate, raw)
        runtime = info.context.runtime
        async with runtime.unit_of_work() as session:
            channel, secret = await channels.create_channel(
                session, actor, community_id, data, policy=runtime.outbound
            )
        return ChannelCreatedPayload(
            channel=ChannelType.of(channels.to_out(channel)), signing_secret=secret
        )

    @strawberry.mutation(
        description="Rename, enable/disable or reconfigure a channel. Role: manager."
    )
    async def update_channel(
        self, info: Info[Context, None], id: uuid.UUID, input: ChannelPatch
    ) -> ChannelType:
        actor = await info.context.actor()
        data = parse(ChannelUpdate, given(input))
        runtime = info.context.runtime
        async with runtime.unit_of_work() as session:
            channel = await channels.update_channel(
                session, actor, id, data, policy=runtime.outbound
            )
        return ChannelType.of(channels.to_out(channel))

    @strawberry.mutation(description="Delete a channel. Role: manager.")
    async def delete_channel(self, info: Info[Context, None], id: uuid.UUID) -> bool:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            await channels.delete_channel(session, actor, id)
        return True

    @strawberry.mutation(description="Send a test message now. Role: manager.")
    async def test_channel(
        self, info: Info[Context, None], id: uuid.UUID, text: str | None = None
    ) -> ChannelTestResultType:
        actor = await info.context.actor()
        result, sent = await channels.test_channel(info.context.runtime, actor, id, text)
        return ChannelTestResultType(
            ok=result.ok,
            status_code=result.status_code,
            response_body=result.response_body,
            error=result.error,
            duration_ms=result.duration_ms,
            sent_text=sent,
        )
