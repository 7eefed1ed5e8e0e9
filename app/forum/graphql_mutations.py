"""GraphQL: the forum's mutations and their inputs.

Inputs convert to the REST schemas (`parse`), so both validate alike; each mutation runs in
one unit of work, and member writes pass the rate limiter. Roles are the services' own.
"""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Any

import strawberry
from pydantic import BaseModel
from strawberry.types import Info

from app.core.graphql import Context, given, parse
from app.forum import categories, inbox, posts, privacy, saved_replies, threads
from app.forum.graphql_types import (
    CategoryType,
    InboxItemType,
    InboxStatus,
    PostType,
    SavedReplyRendered,
    SavedReplyType,
    ThreadKind,
    ThreadType,
)
from app.forum.schemas import (
    CategoryCreate,
    CategoryUpdate,
    EmojiKey,
    InboxItemUpdate,
    PostCreate,
    PostUpdate,
    SavedReplyCreate,
    SavedReplyRender,
    SavedReplyUpdate,
    ThreadCreate,
    ThreadUpdate,
)

Ctx = Info[Context, None]


class ReactionIn(BaseModel):
    """The emoji as REST takes it in the path."""

    emoji: EmojiKey


def _data(obj: Any) -> dict[str, Any]:
    """What the client sent in an input, as plain data (enums as their values)."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in given(obj).items()}


@strawberry.input
class CategoryInput:
    name: str
    slug: str
    description: str | None = strawberry.UNSET
    position: int | None = strawberry.UNSET


@strawberry.input
class CategoryPatch:
    name: str | None = strawberry.UNSET
    slug: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    position: int | None = strawberry.UNSET


@strawberry.input
class ThreadInput:
    category_id: uuid.UUID
    title: str
    body: str = strawberry.field(description="Markdown: the opening post.")
    kind: ThreadKind | None = strawberry.UNSET


@strawberry.input
class ThreadPatch:
    title: str | None = strawberry.UNSET
    pinned: bool | None = strawberry.UNSET
    locked: bool | None = strawberry.UNSET
    category_id: uuid.UUID | None = strawberry.UNSET


@strawberry.input
class PostInput:
    body: str = strawberry.field(description="Markdown.")
    reply_to: uuid.UUID | None = strawberry.field(
        default=strawberry.UNSET, description="A post of the same thread."
    )


@strawberry.input
class InboxItemPatch:
    status: InboxStatus | None = strawberry.UNSET
    assignee_key_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="A staff key of your org, `me` for the calling key, null to unassign.",
    )


@strawberry.input
class SavedReplyInput:
    title: str
    body: str = strawberry.field(description="Markdown with `{{variable}}` placeholders.")


@strawberry.input
class SavedReplyPatch:
    title: str | None = strawberry.UNSET
    body: str | None = strawberry.UNSET


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add a forum category. Role: manager.")
    async def create_category(
        self, info: Ctx, community_id: uuid.UUID, input: CategoryInput
    ) -> CategoryType:
        actor = await info.context.actor()
        data = parse(CategoryCreate, _data(input))
        async with info.context.runtime.unit_of_work() as session:
            category = await categories.create_category(session, actor, community_id, data)
        return CategoryType.of_row(category)

    @strawberry.mutation(description="Rename, re-describe or reorder a category. Role: manager.")
    async def update_category(self, info: Ctx, id: uuid.UUID, input: CategoryPatch) -> CategoryType:
        actor = await info.context.actor()
        data = parse(CategoryUpdate, _data(input))
        async with info.context.runtime.unit_of_work() as session:
            category = await categories.update_category(session, actor, id, data)
        return CategoryType.of_row(category)

    @strawberry.mutation(description="Delete an empty category. Role: manager.")
    async def delete_category(self, info: Ctx, id: uuid.UUID) -> bool:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            await categories.delete_category(session, actor, id)
        return True

    @strawberry.mutation(
        description="Start a thread; `body` becomes its opening post. Members, or staff "
        "(moderator)."
    )
    async def create_thread(
        self, info: Ctx, community_id: uuid.UUID, input: ThreadInput
    ) -> ThreadType:
        actor = await info.context.actor()
        data = parse(ThreadCreate, _data(input))
        runtime = info.context.runtime
        async with runtime.unit_of_work() as session:
            thread = await threads.create_thread(
                session, actor, community_id, data, limiter=runtime.limiter, automod=runtime.automod
            )
        return ThreadType.of_row(thread)

    @strawberry.mutation(description="Rename, pin, lock or move a thread. Role: moderator.")
    async def update_thread(self, info: Ctx, id: uuid.UUID, input: ThreadPatch) -> ThreadType:
        actor = await info.context.actor()
        data = parse(ThreadUpdate, _data(input))
        async with info.context.runtime.unit_of_work() as session:
            thread = await threads.update_thread(session, actor, id, data)
        return ThreadType.of_row(thread)

    @strawberry.mutation(
        description="Reply in a thread. Refused (FORBIDDEN) when the member is muted, "
        "suspended or banned, or the thread is locked. Members, or staff (moderator)."
    )
    async def create_post(self, info: Ctx, thread_id: uuid.UUID, input: PostInput) -> PostType:
        actor = await info.context.actor()
        data = parse(PostCreate, _data(input))
        runtime = info.context.runtime
        async with runtime.unit_of_work() as session:
            post = await posts.create_post(
                session, actor, thread_id, data, limiter=runtime.limiter, automod=runtime.automod
            )
        return PostType.of_row(post)

    @strawberry.mutation(description="Edit a post's text. Its author or a moderator.")
    async def edit_post(self, info: Ctx, id: uuid.UUID, body: str) -> PostType:
        actor = await info.context.actor()
        data = parse(PostUpdate, {"body": body})
        runtime = info.context.runtime
        async with runtime.unit_of_work() as session:
            post = await posts.edit_post(
                session, actor, id, data, limiter=runtime.limiter, automod=runtime.automod
            )
        return PostType.of_row(post)

    @strawberry.mutation(description="Remove a post (soft). Its author or a moderator.")
    async def delete_post(self, info: Ctx, id: uuid.UUID) -> bool:
        actor = await info.context.actor()
        runtime = info.context.runtime
        async with runtime.unit_of_work() as session:
            await posts.delete_post(session, actor, id, limiter=runtime.limiter)
        return True

    @strawberry.mutation(description="React to a post; reacting twice changes nothing.")
    async def react(self, info: Ctx, post_id: uuid.UUID, emoji: str) -> PostType:
        return await _set_reaction(info, post_id, emoji, present=True)

    @strawberry.mutation(description="Take back a reaction; one never given changes nothing.")
    async def unreact(self, info: Ctx, post_id: uuid.UUID, emoji: str) -> PostType:
        return await _set_reaction(info, post_id, emoji, present=False)

    @strawberry.mutation(
        description="Mark a reply as the answer of its question thread (`accepted: false` "
        "withdraws it). The thread's author or a moderator."
    )
    async def accept_post(self, info: Ctx, id: uuid.UUID, accepted: bool = True) -> PostType:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            post = await posts.accept(session, actor, id, accepted=accepted)
        return PostType.of_row(post)

    @strawberry.mutation(
        description="Assign an inbox item, or mark it answered, dismissed or open again. "
        "Role: moderator."
    )
    async def update_inbox_item(
        self, info: Ctx, id: uuid.UUID, input: InboxItemPatch
    ) -> InboxItemType:
        actor = await info.context.actor()
        data = parse(InboxItemUpdate, _data(input))
        async with info.context.runtime.unit_of_work() as session:
            item = await inbox.update_item(session, actor, id, data)
        return InboxItemType.of_row(item)

    @strawberry.mutation(description="Save a canned answer. Role: moderator.")
    async def create_saved_reply(
        self, info: Ctx, community_id: uuid.UUID, input: SavedReplyInput
    ) -> SavedReplyType:
        actor = await info.context.actor()
        data = parse(SavedReplyCreate, _data(input))
        async with info.context.runtime.unit_of_work() as session:
            reply = await saved_replies.create_saved_reply(session, actor, community_id, data)
        return SavedReplyType.of_row(reply)

    @strawberry.mutation(description="Change a saved reply's title or text. Role: moderator.")
    async def update_saved_reply(
        self, info: Ctx, id: uuid.UUID, input: SavedReplyPatch
    ) -> SavedReplyType:
        actor = await info.context.actor()
        data = parse(SavedReplyUpdate, _data(input))
        async with info.context.runtime.unit_of_work() as session:
            reply = await saved_replies.update_saved_reply(session, actor, id, data)
        return SavedReplyType.of_row(reply)

    @strawberry.mutation(description="Delete a saved reply. Role: moderator.")
    async def delete_saved_reply(self, info: Ctx, id: uuid.UUID) -> bool:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            await saved_replies.delete_saved_reply(session, actor, id)
        return True

    @strawberry.mutation(
        description="Fill a saved reply in for a thread and/or member (default: the thread's "
        "author), ready to post. Role: moderator."
    )
    async def render_saved_reply(
        self,
        info: Ctx,
        id: uuid.UUID,
        thread_id: uuid.UUID | None = None,
        member_id: uuid.UUID | None = None,
    ) -> SavedReplyRendered:
        actor = await info.context.actor()
        data = parse(SavedReplyRender, {"thread_id": thread_id, "member_id": member_id})
        async with info.context.runtime.unit_of_work() as session:
            rendered = await saved_replies.render_saved_reply(session, actor, id, data)
        return SavedReplyRendered(body=rendered.body, body_html=rendered.body_html)

    @strawberry.mutation(
        description='Erase a member\'s personal data; their posts stay as "deleted member" '
        "(`deletePosts` also blanks and removes them). Role: owner."
    )
    async def erase_member(self, info: Ctx, id: uuid.UUID, delete_posts: bool = False) -> bool:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            await privacy.erase_member(session, actor, id, delete_posts=delete_posts)
        return True


async def _set_reaction(info: Ctx, post_id: uuid.UUID, emoji: str, *, present: bool) -> PostType:
    actor = await info.context.actor()
    runtime = info.context.runtime
    data = parse(ReactionIn, {"emoji": emoji})
    async with runtime.unit_of_work() as session:
        post = await posts.set_reaction(
            session, actor, post_id, data.emoji, present=present, limiter=runtime.limiter
        )
    return PostType.of_row(post)
