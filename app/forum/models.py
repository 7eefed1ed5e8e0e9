"""Forum tables: members, categories, threads, posts, reactions, the inbox, saved replies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, new_id, utcnow

MEMBER_STATUSES = ("active", "muted", "suspended", "banned")
THREAD_KINDS = ("discussion", "question", "feedback", "bug")
POST_STATUSES = ("visible", "held", "hidden", "removed")
INBOX_STATUSES = ("open", "answered", "dismissed")
SENTIMENT_LABELS = ("positive", "neutral", "negative")


class Member(Base):
    """Someone from the community, known by the id the org's own system gives them (`sub`)."""

    __tablename__ = "members"
    __table_args__ = (
        # NULL after erasure, so the same person coming back starts as a new member.
        UniqueConstraint("community_id", "external_id"),
        CheckConstraint(f"status IN {MEMBER_STATUSES}", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    external_id: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # A status with an end date lapses by itself: after `status_until` the member is active.
    status_until: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(Text)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None]


class Category(Base):
    __tablename__ = "forum_categories"
    __table_args__ = (UniqueConstraint("community_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Thread(Base):
    """A topic. Its opening text is its first post; counters are kept for the list sorts."""

    __tablename__ = "forum_threads"
    __table_args__ = (
        CheckConstraint(f"kind IN {THREAD_KINDS}", name="kind"),
        CheckConstraint(f"status IN {POST_STATUSES}", name="status"),
        # One index per sort: pinned threads first, then the sort key, then id.
        Index("ix_forum_threads_latest", "community_id", "pinned", "created_at", "id"),
        Index("ix_forum_threads_active", "community_id", "pinned", "last_posted_at", "id"),
        Index("ix_forum_threads_top", "community_id", "pinned", "score", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        # NO ACTION, checked at the end of the statement: deleting a community cascades to
        # its threads and categories together; deleting a used category alone is refused.
        ForeignKey("forum_categories.id"),
        index=True,
    )
    author_member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    author_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    # The staff key's name when staff wrote it (keys can be revoked; the byline stays).
    author_name: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="visible")
    pinned: Mapped[bool] = mapped_column(default=False)
    locked: Mapped[bool] = mapped_column(default=False)
    # Posts are not foreign keys here: a thread and its first post are written together.
    first_post_id: Mapped[uuid.UUID | None]
    last_post_id: Mapped[uuid.UUID | None]
    accepted_post_id: Mapped[uuid.UUID | None]
    reply_count: Mapped[int] = mapped_column(default=0)
    reaction_count: Mapped[int] = mapped_column(default=0)
    score: Mapped[int] = mapped_column(default=0)  # replies + reactions: the "top" sort
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_posted_at: Mapped[datetime] = mapped_column(default=utcnow)

    author_member: Mapped[Member | None] = relationship(lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")


class Post(Base):
    __tablename__ = "forum_posts"
    __table_args__ = (
        CheckConstraint(f"status IN {POST_STATUSES}", name="status"),
        CheckConstraint(f"sentiment_label IN {SENTIMENT_LABELS}", name="sentiment_label"),
        Index("ix_forum_posts_thread_order", "thread_id", "created_at", "id"),
        # Automod's flood and new-member rules read a member's latest posts.
        Index("ix_forum_posts_author_time", "author_member_id", "created_at"),
        # KPIs and alerts read sentiment over time per community.
        Index(
            "ix_forum_posts_community_sentiment", "community_id", "created_at", "sentiment_score"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    thread_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"))
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        # Indexed: deleting posts sets their replies' reply_to_id to NULL by this key.
        ForeignKey("forum_posts.id", ondelete="SET NULL"),
        index=True,
    )
    author_member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    author_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    author_name: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="visible")
    is_official: Mapped[bool] = mapped_column(default=False)
    is_answer: Mapped[bool] = mapped_column(default=False)
    sentiment_score: Mapped[float] = mapped_column(Float)
    sentiment_label: Mapped[str] = mapped_column(String(8))
    # {emoji: count}, rewritten from `forum_reactions` under a row lock at each change, so a
    # page of posts is one query.
    reactions: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]

    author_member: Mapped[Member | None] = relationship(lazy="raise")


class Reaction(Base):
    """One emoji from one member or one staff key on one post."""

    __tablename__ = "forum_reactions"
    __table_args__ = (
        UniqueConstraint("post_id", "emoji", "member_id"),
        UniqueConstraint("post_id", "emoji", "key_id"),
        CheckConstraint("(member_id IS NULL) <> (key_id IS NULL)", name="one_reactor"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"))
    emoji: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxItem(Base):
    """A member's question that waits for a staff reply."""

    __tablename__ = "forum_inbox_items"
    __table_args__ = (
        CheckConstraint(f"status IN {INBOX_STATUSES}", name="status"),
        Index("ix_forum_inbox_items_queue", "community_id", "status", "rank_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    thread_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("forum_threads.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    # The priority, as a moment: when the question was asked, moved earlier for negative
    # sentiment and for reactions. Everything ages at the same pace, so ordering by it
    # stays correct over time and pages with a stable cursor (see `inbox.rank_at`).
    rank_at: Mapped[datetime]
    sentiment_score: Mapped[float] = mapped_column(Float)  # of the question's opening post
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )

    thread: Mapped[Thread] = relationship(lazy="raise")


class SavedReply(Base):
    __tablename__ = "forum_saved_replies"
    __table_args__ = (UniqueConstraint("community_id", "title"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
