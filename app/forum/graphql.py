"""GraphQL: the forum, over the same service calls as REST (members and staff alike).

Queries read through short sessions of their own; each mutation runs in one unit of work.
Member writes pass the rate limiter, as over REST. Types live in `graphql_types`, the
DataLoaders behind relations in `graphql_loaders`, the mutations in `graphql_mutations`.
"""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from pydantic import Field
from strawberry.scalars import JSON
from strawberry.types import Info

from app.core.graphql import Context, page, parse
from app.core.pagination import MAX_LIMIT, PageParams
from app.core.schemas import RequestModel
from app.forum import categories, inbox, members, posts, privacy, saved_replies, threads
from app.forum.graphql_mutations import Mutation
from app.forum.graphql_types import (
    CategoryType,
    First,
    InboxItemType,
    InboxPage,
    InboxStatus,
    MemberPage,
    MemberStatus,
    MemberType,
    PostType,
    SavedReplyPage,
    SavedReplyType,
    ThreadKind,
    ThreadPage,
    ThreadSort,
    ThreadType,
)

__all__ = ["Mutation", "Query"]


class ThreadFilter(RequestModel):
    category: str | None = Field(None, max_length=64)


class MemberFilter(RequestModel):
    q: str | None = Field(None, max_length=100)


class InboxFilter(RequestModel):
    assignee: inbox.Assignee = None


# Fields of `Community` (mixed into the type in app/communities/graphql.py) ----------------


async def _categories(root: Any, info: Info[Context, None]) -> list[CategoryType]:
    actor = await info.context.actor()
    async with info.context.runtime.read_session() as session:
        # A community has a handful; the first MAX_LIMIT in display order.
        window = await categories.list_categories(
            session, actor, root.id, PageParams(limit=MAX_LIMIT)
        )
    return [CategoryType.of_row(c) for c in window.items]


async def _threads(
    root: Any,
    info: Info[Context, None],
    first: First = 20,
    after: str | None = None,
    sort: ThreadSort = ThreadSort.latest,
    category: str | None = None,
    kind: ThreadKind | None = None,
) -> ThreadPage:
    actor = await info.context.actor()
    params = page(first, after)
    ref = parse(ThreadFilter, {"category": category}).category
    async with info.context.runtime.read_session() as session:
        window = await threads.list_threads(
            session,
            actor,
            root.id,
            params,
            sort=sort.value,  # type: ignore[arg-type]
            category=ref,
            kind=kind.value if kind else None,
        )
    return ThreadPage(
        items=[ThreadType.of_row(t) for t in window.items], next_cursor=window.next_cursor
    )


async def _inbox(
    root: Any,
    info: Info[Context, None],
    first: First = 20,
    after: str | None = None,
    status: InboxStatus = InboxStatus.open,
    assignee: str | None = None,
) -> InboxPage:
    actor = await info.context.actor()
    params = page(first, after)
    who = parse(InboxFilter, {"assignee": assignee}).assignee
    async with info.context.runtime.read_session() as session:
        window = await inbox.list_inbox(
            session, actor, root.id, params, status=status.value, assignee=who
        )
    items = [InboxItemType.of_row(i) for i in window.items]
    return InboxPage(items=items, next_cursor=window.next_cursor)


async def _saved_replies(
    root: Any, info: Info[Context, None], first: First = 20, after: str | None = None
) -> SavedReplyPage:
    actor = await info.context.actor()
    params = page(first, after)
    async with info.context.runtime.read_session() as session:
        window = await saved_replies.list_saved_replies(session, actor, root.id, params)
    items = [SavedReplyType.of_row(r) for r in window.items]
    return SavedReplyPage(items=items, next_cursor=window.next_cursor)


community_categories = strawberry.field(
    resolver=_categories,
    description="Forum categories in display order. Members of the community and staff.",
)
community_threads = strawberry.field(
    resolver=_threads,
    description="Threads; `category` is an id or slug. Members see visible threads and "
    "their own; staff see all.",
)
community_inbox = strawberry.field(
    resolver=_inbox,
    description="Questions waiting for a staff reply, most urgent first; `assignee` is a key "
    "id, `me` or `none`. Role: moderator.",
)
community_saved_replies = strawberry.field(
    resolver=_saved_replies, description="Saved replies, by title. Role: moderator."
)


# Queries -------------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="One thread. Members and staff.")
    async def thread(self, info: Info[Context, None], id: uuid.UUID) -> ThreadType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return ThreadType.of_row(await threads.get_thread(session, actor, id))

    @strawberry.field(description="One post. Members and staff.")
    async def post(self, info: Info[Context, None], id: uuid.UUID) -> PostType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return PostType.of_row(await posts.get_post(session, actor, id))

    @strawberry.field(description="One forum category. Members and staff.")
    async def category(self, info: Info[Context, None], id: uuid.UUID) -> CategoryType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return CategoryType.of_row(await categories.get_category(session, actor, id))

    @strawberry.field(description="One member with their status. Role: moderator.")
    async def member(self, info: Info[Context, None], id: uuid.UUID) -> MemberType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return MemberType.of_row(await members.get_member(session, actor, id))

    @strawberry.field(
        description="Everything held about a member (data protection export), the same "
        "document as GET /v1/members/{id}/export. Role: manager."
    )
    async def member_export(self, info: Info[Context, None], id: uuid.UUID) -> JSON:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            export = await privacy.export_member(session, actor, id)
        return export.model_dump(mode="json")

    @strawberry.field(
        description="A community's members, first joined first; `q` matches part of a "
        "display name or external id. Role: moderator."
    )
    async def members(
        self,
        info: Info[Context, None],
        community_id: uuid.UUID,
        q: str | None = None,
        status: MemberStatus | None = None,
        first: First = 20,
        after: str | None = None,
    ) -> MemberPage:
        actor = await info.context.actor()
        params = page(first, after)
        text = parse(MemberFilter, {"q": q}).q
        async with info.context.runtime.read_session() as session:
            window = await members.list_members(
                session,
                actor,
                community_id,
                params,
                q=text or None,
                status=status.value if status else None,
            )
        items = [MemberType.of_row(m) for m in window.items]
        return MemberPage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(description="One saved reply. Role: moderator.")
    async def saved_reply(self, info: Info[Context, None], id: uuid.UUID) -> SavedReplyType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return SavedReplyType.of_row(await saved_replies.get_saved_reply(session, actor, id))
