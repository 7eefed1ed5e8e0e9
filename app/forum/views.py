"""Forum rows → response schemas: one place that decides what a thread or post looks like."""

from __future__ import annotations

from typing import Any

from app.forum.access import author_of
from app.forum.models import Category, Post, Thread
from app.forum.schemas import CategoryOut, PostOut, SentimentOut, ThreadOut


def category_out(category: Category) -> CategoryOut:
    return CategoryOut.model_validate(category)


def thread_out(thread: Thread) -> ThreadOut:
    return ThreadOut(
        id=thread.id,
        community_id=thread.community_id,
        category_id=thread.category_id,
        kind=thread.kind,  # type: ignore[arg-type]
        title=thread.title,
        author=author_of(thread),
        status=thread.status,  # type: ignore[arg-type]
        pinned=thread.pinned,
        locked=thread.locked,
        first_post_id=thread.first_post_id,
        last_post_id=thread.last_post_id,
        accepted_post_id=thread.accepted_post_id,
        reply_count=thread.reply_count,
        reaction_count=thread.reaction_count,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
        last_posted_at=thread.last_posted_at,
    )


def post_out(post: Post) -> PostOut:
    return PostOut(
        id=post.id,
        thread_id=post.thread_id,
        author=author_of(post),
        body=post.body,
        body_html=post.body_html,
        reply_to=post.reply_to_id,
        status=post.status,  # type: ignore[arg-type]
        is_official=post.is_official,
        is_answer=post.is_answer,
        sentiment=SentimentOut(score=post.sentiment_score, label=post.sentiment_label),  # type: ignore[arg-type]
        reactions=post.reactions or {},
        created_at=post.created_at,
        edited_at=post.edited_at,
    )


def event_payload(obj: Thread | Post) -> dict[str, Any]:
    """Webhook payloads show what staff see (every status), with the community for routing."""
    out = thread_out(obj) if isinstance(obj, Thread) else post_out(obj)
    return {**out.model_dump(mode="json"), "community_id": str(obj.community_id)}
