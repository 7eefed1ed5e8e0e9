"""REST schemas of the forum: members, categories, threads, posts, inbox, saved replies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from app.core.emoji import canonical_emoji
from app.core.schemas import PatchModel, RequestModel, ResponseModel, Text

MemberStatus = Literal["active", "muted", "suspended", "banned"]
ThreadKind = Literal["discussion", "question", "feedback", "bug"]
PostStatus = Literal["visible", "held", "hidden", "removed"]
InboxStatus = Literal["open", "answered", "dismissed"]
ThreadSort = Literal["latest", "active", "top"]

MAX_BODY_CHARS = 20_000


# markdown-it's link-label scan is quadratic in unclosed `[`: 20,000 of them take most of a
# second of CPU. No real post needs this many.
MAX_BRACKETS = 500


def _renderable(value: str) -> str:
    if value.count("[") > MAX_BRACKETS:
        raise ValueError(f"has more than {MAX_BRACKETS} '[' characters")
    return value


Body = Annotated[
    Text(MAX_BODY_CHARS),
    AfterValidator(_renderable),
    Field(description="Markdown, stored as written and rendered once to sanitized HTML."),
]
Title = Text(200, min_length=3)
CategorySlug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"),
    Field(description="Lowercase letters, digits and hyphens (1 to 64)."),
]


def _canonical_emoji(value: str) -> str:
    key = canonical_emoji(value)
    if key is None:
        raise ValueError("not an emoji: send a shortcode (`thumbsup`, `+1`, `tada`) or one emoji")
    return key


# A reaction as sent (a shortcode or an emoji), validated into its canonical character.
EmojiKey = Annotated[str, AfterValidator(_canonical_emoji)]


# Members ---------------------------------------------------------------------------------


class AuthorOut(ResponseModel):
    id: uuid.UUID | None = Field(description="The member's id, or the staff key's id.")
    display_name: str
    is_staff: bool


class MemberModeration(ResponseModel):
    """What moderators see of a member beside their profile."""

    reports_against: int = Field(description="Reports of the member, their posts and threads.")
    strikes: int = Field(description="Strikes that count toward the ladder now.")
    active_sanctions: int
    notes: int = Field(description="Staff notes on the member.")


class MemberOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    external_id: str | None = Field(description="`sub` of the member's token; null once erased.")
    display_name: str
    status: MemberStatus
    status_until: datetime | None
    status_reason: str | None
    joined_at: datetime
    last_seen_at: datetime
    post_count: int
    erased: bool
    moderation: MemberModeration | None = Field(
        None, description="On `GET /v1/members/{id}` (staff): counts for moderators; null in lists."
    )


# Categories ------------------------------------------------------------------------------


class CategoryCreate(RequestModel):
    name: Text(64)
    slug: CategorySlug
    description: str = Field("", max_length=2000)
    position: int = Field(0, ge=0, le=10_000, description="Lists are ordered by it, then name.")


class CategoryUpdate(PatchModel):
    name: Text(64) | None = None
    slug: CategorySlug | None = None
    description: str | None = Field(None, max_length=2000)
    position: int | None = Field(None, ge=0, le=10_000)


class CategoryOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    name: str
    slug: str
    description: str
    position: int
    created_at: datetime
    updated_at: datetime


# Threads ---------------------------------------------------------------------------------


class ThreadCreate(RequestModel):
    category_id: uuid.UUID
    kind: ThreadKind = "discussion"
    title: Title
    body: Body


class ThreadUpdate(PatchModel):
    title: Title | None = None
    pinned: bool | None = None
    locked: bool | None = None
    category_id: uuid.UUID | None = None


class ThreadOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    category_id: uuid.UUID
    kind: ThreadKind
    title: str
    author: AuthorOut
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


# Posts -----------------------------------------------------------------------------------


class PostCreate(RequestModel):
    body: Body
    reply_to: uuid.UUID | None = Field(None, description="A post of the same thread.")


class PostUpdate(RequestModel):
    body: Body


class SentimentOut(ResponseModel):
    score: float = Field(description="VADER compound score, -1 (negative) to 1 (positive).")
    label: Literal["positive", "neutral", "negative"]


class PostOut(ResponseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    author: AuthorOut
    body: str
    body_html: str
    reply_to: uuid.UUID | None
    status: PostStatus
    is_official: bool
    is_answer: bool
    sentiment: SentimentOut
    reactions: dict[str, int]
    created_at: datetime
    edited_at: datetime | None


class ReactionsOut(ResponseModel):
    post_id: uuid.UUID
    reactions: dict[str, int]


# Inbox and saved replies -----------------------------------------------------------------


class InboxItemOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    thread: ThreadOut
    status: InboxStatus
    assignee_key_id: uuid.UUID | None
    sentiment: SentimentOut
    waiting_since: datetime
    rank_at: datetime = Field(description="Priority as a moment: the inbox is ordered by it.")
    resolved_at: datetime | None


class InboxItemUpdate(PatchModel):
    nullable = frozenset({"assignee_key_id"})

    status: InboxStatus | None = None
    assignee_key_id: uuid.UUID | Literal["me"] | None = Field(
        None, description="A staff key of your org, `me` for the calling key, null to unassign."
    )


class SavedReplyCreate(RequestModel):
    title: Text(100)
    body: Annotated[
        Text(MAX_BODY_CHARS),
        Field(description="Markdown with `{{variable}}` placeholders (see the README)."),
    ]


class SavedReplyUpdate(PatchModel):
    title: Text(100) | None = None
    body: Text(MAX_BODY_CHARS) | None = None


class SavedReplyOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    title: str
    body: str
    variables: list[str]
    created_at: datetime
    updated_at: datetime


class SavedReplyRender(RequestModel):
    thread_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = Field(None, description="Defaults to the thread's author.")


class SavedReplyRendered(ResponseModel):
    body: str
    body_html: str


# Data protection -------------------------------------------------------------------------


class MemberExport(ResponseModel):
    exported_at: datetime
    member: MemberOut
    threads: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    reactions: list[dict[str, Any]]
    moderation: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="Reports the member filed, sanctions and strikes they received, their appeals.",
    )
