"""GraphQL subscription `moderationQueue(communityId)`: review items as they open and change,
over graphql-transport-ws (the key in `connection_init`; see app.core.graphql.Router)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from app.communities import service as communities
from app.core.auth import Role
from app.core.graphql import Context
from app.moderation import review
from app.moderation.graphql_review import ReviewItemType
from app.moderation.schemas_review import ReviewItemOut

Ctx = Info[Context, None]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The community's review items as they open and change (reports, automod"
        " matches, assignment, decisions), with the REST fields. Role: moderator."
    )
    async def moderation_queue(
        self, info: Ctx, community_id: uuid.UUID
    ) -> AsyncGenerator[ReviewItemType, None]:
        actor = await info.context.actor()
        actor.require(Role.moderator)
        runtime = info.context.runtime
        async with runtime.read_session() as session:
            await communities.get_community(session, actor, community_id)
        async for message in runtime.broadcast.subscribe(review.channel(community_id)):
            # The key may have been revoked (or lowered) since: it is read again each time.
            (await info.context.recheck()).require(Role.moderator)
            yield ReviewItemType.from_pydantic(ReviewItemOut.model_validate(message))
