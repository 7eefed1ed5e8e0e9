"""GraphQL: staff previews of a launcher feed, as a given player would see it. The public
path stays REST (cacheable, no authentication). Types derive from the REST schemas."""

from __future__ import annotations

from urllib.parse import urlencode

import strawberry
from strawberry.experimental import pydantic as derived
from strawberry.types import Info

from app.core.graphql import Context
from app.feeds import formats, query, service
from app.feeds.schemas import FeedItemOut, FeedOut
from app.schedule.schemas import ContentKind

Ctx = Info[Context, None]


@derived.type(model=FeedItemOut, all_fields=True, name="FeedItem")
class FeedItemType:
    pass


@derived.type(model=FeedOut, all_fields=True, name="Feed")
class FeedType:
    pass


@strawberry.type
class Query:
    @strawberry.field(
        description="What a player with these properties sees in a launcher feed now (by"
        " the channel's id or public slug), read from the database. Role: viewer."
    )
    async def feed(
        self,
        info: Ctx,
        feed: strawberry.ID,
        locale: str | None = None,
        platform: str | None = None,
        region: str | None = None,
        version: str | None = None,
        tags: list[str] | None = None,
        kinds: list[ContentKind] | None = None,
        first: int = query.DEFAULT_LIMIT,
        after: str | None = None,
    ) -> FeedType:
        actor = await info.context.actor()
        # The REST parser, so both refuse the same input with the same reasons.
        wanted = query.parse(
            urlencode(
                [
                    (name, value)
                    for name, value in (
                        ("locale", locale),
                        ("platform", platform),
                        ("region", region),
                        ("version", version),
                        ("tags", ",".join(tags or ()) or None),
                        ("kinds", ",".join(k.value for k in kinds or ()) or None),
                        ("limit", str(first)),
                        ("cursor", after),
                    )
                    if value is not None
                ]
            ),
            None,
        )
        runtime = info.context.runtime
        async with runtime.read_session() as session:
            page = await service.preview(session, actor, str(feed), wanted)
        links = formats.Links(runtime.settings.public_url or "", page, wanted, "json")
        document = FeedOut.model_validate(formats.hearth_document(page, links))
        return FeedType.from_pydantic(document)
