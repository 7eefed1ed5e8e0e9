"""GraphQL types of the forum, written by hand from the REST schemas (same fields, camelCase).

Relations (a thread's category and posts, a post's thread and the post it answers) resolve
through the request's DataLoaders; authors come with the row that names them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.core.graphql import Context, page
from app.core.pagination import MAX_LIMIT
from app.forum import graphql_loaders as loaders
from app.forum import inbox, members, posts, saved_replies
from app.forum.models import Category, InboxItem, Member, Post, SavedReply, Thread
from app.forum.schemas import (
    AuthorOut,
    InboxItemOut,
    MemberOut,
    PostOut,
    SentimentOut,
    ThreadOut,
)
from app.forum.views import category_out, post_out, thread_out

First = Annotated[int, strawberry.argument(description=f"At most {MAX_LIMIT}.")]


@strawberry.enum
class ThreadKind(StrEnum):
    discussion = "discussion"
    question = "question"
    feedback = "feedback"
    bug = "bug"


@strawberry.enum(description="Members see only `visible` threads and posts, and their own.")
class PostStatus(StrEnum):
    visible = "visible"
    held = "held"
    hidden = "hidden"
    removed = "removed"


@strawberry.enum
class MemberStatus(StrEnum):
    active = "active"
    muted = "muted"
    suspended = "suspended"
    banned = "banned"


@strawberry.enum
class InboxStatus(StrEnum):
    open = "open"
    answered = "answered"
    dismissed = "dismissed"


@strawberry.enum
class SentimentLabel(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


@strawberry.enum(description="Pinned threads come first in each sort.")
class ThreadSort(StrEnum):
    latest = "latest"
    active = "active"
    top = "top"


@strawberry.type
class Author:
    id: uuid.UUID | None = strawberry.field(description="The member's id, or the staff key's id.")
    display_name: str
    is_staff: bool

    @classmethod
    def of(cls, out: AuthorOut) -> Author:
        return cls(id=out.id, display_name=out.display_name, is_staff=out.is_staff)


@strawberry.type
class Sentiment:
    score: float = strawberry.field(description="VADER compound score, -1 to 1.")
    label: SentimentLabel

    @classmethod
    def of(cls, out: SentimentOut) -> Sentiment:
        return cls(score=out.score, label=SentimentLabel(out.label))


@strawberry.type
class ReactionCount:
    emoji: str
    count: int


@strawberry.type(name="Member")
class MemberType:
    id: uuid.UUID
    community_id: uuid.UUID
    external_id: str | None = strawberry.field(description="`sub` of the member's token.")
    display_name: str
    status: MemberStatus = strawberry.field(description="The current status (lapsed = active).")
    status_until: datetime | None
    status_reason: str | None
    joined_at: datetime
    last_seen_at: datetime
    erased: bool

    @classmethod
    def of_row(cls, member: Member) -> MemberType:
        out: MemberOut = members.to_out(member)
        return cls(
            id=out.id,
            community_id=out.community_id,
            external_id=out.external_id,
            display_name=out.display_name,
            status=MemberStatus(out.status),
            status_until=out.status_until,
            status_reason=out.status_reason,
            joined_at=out.joined_at,
            last_seen_at=out.last_seen_at,
            erased=out.erased,
        )

    @strawberry.field(description="Posts not removed.")
    async def post_count(self, info: Info[Context, None]) -> int:
        return await (await loaders.loader(info, "post_counts", loaders.post_counts)).load(self.id)


@strawberry.type(name="Category")
class CategoryType:
    id: uuid.UUID
    community_id: uuid.UUID
    name: str
    slug: str
    description: str
    position: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of_row(cls, category: Category) -> CategoryType:
        return cls(**category_out(category).model_dump())


@strawberry.type(name="Thread")
class ThreadType:
    id: uuid.UUID
    community_id: uuid.UUID
    category_id: uuid.UUID
    kind: ThreadKind
    title: str
    author: Author
    status: PostStatus
    pinned: bool
    locked: bool
    first_post_id: uuid.UUID | None
    last_post_id: uuid.UUID | None
    accepted_post_id: uuid.UUID | None
    reply_count: int
    reaction_count: int
    created_at: datetime
    updated_at: datetime
    last_posted_at: datetime

    @classmethod
    def of(cls, out: ThreadOut) -> ThreadType:
        fields = out.model_dump(exclude={"author", "kind", "status"})
        return cls(
            **fields,
            author=Author.of(out.author),
            kind=ThreadKind(out.kind),
            status=PostStatus(out.status),
        )

    @classmethod
    def of_row(cls, thread: Thread) -> ThreadType:
        return cls.of(thread_out(thread))

    @strawberry.field
    async def category(self, info: Info[Context, None]) -> CategoryType | None:
        row = await (await loaders.loader(info, "categories", loaders.categories_by_id)).load(
            self.category_id
        )
        return CategoryType.of_row(row) if row else None

    @strawberry.field(description="The opening post.")
    async def first_post(self, info: Info[Context, None]) -> PostType | None:
        return await _post(info, self.first_post_id)

    @strawberry.field(description="The latest post, if the caller may see it.")
    async def last_post(self, info: Info[Context, None]) -> PostType | None:
        return await _post(info, self.last_post_id)

    @strawberry.field(description="The accepted answer of a question thread.")
    async def accepted_post(self, info: Info[Context, None]) -> PostType | None:
        return await _post(info, self.accepted_post_id)

    @strawberry.field(description="The thread's posts, oldest first (the opening post first).")
    async def posts(
        self, info: Info[Context, None], first: First = 20, after: str | None = None
    ) -> PostPage:
        actor = await info.context.actor()
        params = page(first, after)
        async with info.context.runtime.read_session() as session:
            window = await posts.list_posts(session, actor, self.id, params)
            items = [PostType.of_row(p) for p in window.items]
        return PostPage(items=items, next_cursor=window.next_cursor)


@strawberry.type(name="Post")
class PostType:
    id: uuid.UUID
    thread_id: uuid.UUID
    author: Author
    body: str
    body_html: str = strawberry.field(description="Sanitized HTML, rendered once from `body`.")
    reply_to_id: uuid.UUID | None = strawberry.field(
        description="The id of the post this one answers (REST: `reply_to`)."
    )
    status: PostStatus
    is_official: bool
    is_answer: bool
    sentiment: Sentiment
    reactions: list[ReactionCount] = strawberry.field(
        description="Each emoji given, with how often: most given first, then by emoji."
    )
    created_at: datetime
    edited_at: datetime | None

    @classmethod
    def of(cls, out: PostOut) -> PostType:
        return cls(
            id=out.id,
            thread_id=out.thread_id,
            author=Author.of(out.author),
            body=out.body,
            body_html=out.body_html,
            reply_to_id=out.reply_to,
            status=PostStatus(out.status),
            is_official=out.is_official,
            is_answer=out.is_answer,
            sentiment=Sentiment.of(out.sentiment),
            reactions=[
                ReactionCount(emoji=emoji, count=count)
                for emoji, count in sorted(out.reactions.items(), key=lambda r: (-r[1], r[0]))
            ],
            created_at=out.created_at,
            edited_at=out.edited_at,
        )

    @classmethod
    def of_row(cls, post: Post) -> PostType:
        return cls.of(post_out(post))

    @strawberry.field
    async def thread(self, info: Info[Context, None]) -> ThreadType | None:
        row = await (await loaders.loader(info, "threads", loaders.threads_by_id)).load(
            self.thread_id
        )
        return ThreadType.of_row(row) if row else None

    @strawberry.field(description="The post this one answers, if the caller may see it.")
    async def reply_to(self, info: Info[Context, None]) -> PostType | None:
        return await _post(info, self.reply_to_id)


async def _post(info: Info[Context, None], post_id: uuid.UUID | None) -> PostType | None:
    if post_id is None:
        return None
    row = await (await loaders.loader(info, "posts", loaders.posts_by_id)).load(post_id)
    return PostType.of_row(row) if row else None


@strawberry.type(name="InboxItem")
class InboxItemType:
    id: uuid.UUID
    community_id: uuid.UUID
    thread: ThreadType
    status: InboxStatus
    assignee_key_id: uuid.UUID | None
    sentiment: Sentiment = strawberry.field(description="Of the question's opening post.")
    waiting_since: datetime
    rank_at: datetime = strawberry.field(description="Priority as a moment: the inbox order.")
    resolved_at: datetime | None

    @classmethod
    def of_row(cls, item: InboxItem) -> InboxItemType:
        out: InboxItemOut = inbox.to_out(item)
        return cls(
            id=out.id,
            community_id=out.community_id,
            thread=ThreadType.of(out.thread),
            status=InboxStatus(out.status),
            assignee_key_id=out.assignee_key_id,
            sentiment=Sentiment.of(out.sentiment),
            waiting_since=out.waiting_since,
            rank_at=out.rank_at,
            resolved_at=out.resolved_at,
        )


@strawberry.type(name="SavedReply")
class SavedReplyType:
    id: uuid.UUID
    community_id: uuid.UUID
    title: str
    body: str
    variables: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of_row(cls, reply: SavedReply) -> SavedReplyType:
        return cls(**saved_replies.to_out(reply).model_dump())


@strawberry.type
class SavedReplyRendered:
    body: str
    body_html: str


@strawberry.type
class ThreadPage:
    items: list[ThreadType]
    next_cursor: str | None


@strawberry.type
class PostPage:
    items: list[PostType]
    next_cursor: str | None


@strawberry.type
class InboxPage:
    items: list[InboxItemType]
    next_cursor: str | None


@strawberry.type
class MemberPage:
    items: list[MemberType]
    next_cursor: str | None


@strawberry.type
class SavedReplyPage:
    items: list[SavedReplyType]
    next_cursor: str | None
