"""The inbox: members' questions that still need a staff reply, most urgent first.

Priority is a moment, `rank_at`, and the inbox is ordered by it, earliest first:

    rank_at = asked_at - 24 h * negativity - 1 h * min(reactions, 24)

where negativity is how negative the question reads (0 for neutral or positive, up to 1)
and reactions are those on the question's opening post ("me too"). So a question waits in
line by its age, a very negative one counts as if it had waited a day longer, and each
reaction moves it up an hour. Everything ages at the same pace, so the order never needs
recomputing as time passes, and the list pages with a stable cursor.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core import audit
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import NotFound, missing_reference
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.statements import Prebuilt
from app.core.text import NEGATIVE_FROM, POSITIVE_FROM
from app.forum.access import ensure_community
from app.forum.models import InboxItem, Thread
from app.forum.schemas import InboxItemOut, InboxItemUpdate, SentimentOut
from app.forum.views import thread_out
from app.orgs import service as orgs_service

INBOX_ORDER = Keyset([(InboxItem.rank_at, "asc"), (InboxItem.id, "asc")])

NEGATIVITY_WEIGHT = timedelta(hours=24)
REACTION_WEIGHT = timedelta(hours=1)
MAX_REACTIONS_COUNTED = 24

Assignee = uuid.UUID | Literal["me", "none"] | None


def rank_at(asked_at: datetime, sentiment_score: float, reactions: int) -> datetime:
    negativity = max(0.0, -sentiment_score)
    return (
        asked_at
        - NEGATIVITY_WEIGHT * negativity
        - REACTION_WEIGHT * min(reactions, MAX_REACTIONS_COUNTED)
    )


def wants(thread: Thread) -> bool:
    """Whether the thread belongs in the staff inbox: a question a member asked, in view."""
    return (
        thread.kind == "question"
        and thread.author_member_id is not None
        and thread.status == "visible"
    )


def open_item(session: AsyncSession, thread: Thread, sentiment_score: float) -> InboxItem:
    item = InboxItem(
        org_id=thread.org_id,
        community_id=thread.community_id,
        thread_id=thread.id,
        sentiment_score=sentiment_score,
        rank_at=rank_at(thread.created_at, sentiment_score, 0),
    )
    session.add(item)
    return item


_items = InboxItem.__table__.c
RESOLVE_FOR_THREAD = Prebuilt(
    update(InboxItem.__table__)
    .where(_items.thread_id == bindparam("answered_thread"), _items.status == "open")
    .values(
        status="answered",
        resolved_at=bindparam("now"),
        resolved_by_key_id=bindparam("resolver"),
        updated_at=bindparam("now"),
    )
)


def resolve_params(thread_id: uuid.UUID, by_key_id: uuid.UUID | None) -> dict[str, Any]:
    """A staff reply or an accepted answer takes the question out of the inbox."""
    return {"answered_thread": thread_id, "resolver": by_key_id, "now": utcnow()}


async def resolve_for_thread(
    session: AsyncSession, thread_id: uuid.UUID, *, by_key_id: uuid.UUID | None
) -> None:
    await session.execute(RESOLVE_FOR_THREAD.statement, resolve_params(thread_id, by_key_id))


async def rerank(
    session: AsyncSession, thread: Thread, *, sentiment_score: float, reactions: int
) -> None:
    """The question's text or reactions changed: move it in line."""
    await session.execute(
        update(InboxItem)
        .where(InboxItem.thread_id == thread.id)
        .values(
            sentiment_score=sentiment_score,
            rank_at=rank_at(thread.created_at, sentiment_score, reactions),
        )
    )


def _label(score: float) -> Literal["positive", "neutral", "negative"]:
    if score >= POSITIVE_FROM:
        return "positive"
    return "negative" if score <= NEGATIVE_FROM else "neutral"


def to_out(item: InboxItem) -> InboxItemOut:
    return InboxItemOut(
        id=item.id,
        community_id=item.community_id,
        thread=thread_out(item.thread),
        status=item.status,  # type: ignore[arg-type]
        assignee_key_id=item.assignee_key_id,
        sentiment=SentimentOut(score=item.sentiment_score, label=_label(item.sentiment_score)),
        waiting_since=item.thread.created_at,
        rank_at=item.rank_at,
        resolved_at=item.resolved_at,
    )


def _with_thread():  # type: ignore[no-untyped-def]
    return joinedload(InboxItem.thread).joinedload(Thread.author_member)


async def list_inbox(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    params: PageParams,
    *,
    status: str = "open",
    assignee: Assignee = None,
) -> Window[InboxItem]:
    await ensure_community(session, actor, community_id, staff_role=Role.moderator, members=False)
    stmt = (
        select(InboxItem)
        .join(InboxItem.thread)
        .where(
            InboxItem.community_id == community_id,
            InboxItem.status == status,
            Thread.status == "visible",  # a removed question needs no answer
        )
        .options(_with_thread())
    )
    if assignee == "me":
        stmt = stmt.where(InboxItem.assignee_key_id == actor.key_id)
    elif assignee == "none":
        stmt = stmt.where(InboxItem.assignee_key_id.is_(None))
    elif assignee is not None:
        stmt = stmt.where(InboxItem.assignee_key_id == assignee)
    return await paginate(session, stmt, INBOX_ORDER, params)


async def update_item(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, data: InboxItemUpdate
) -> InboxItem:
    actor.require(Role.moderator)
    item = await session.scalar(
        select(InboxItem)
        .where(InboxItem.id == item_id, InboxItem.org_id == actor.org_id)
        .options(_with_thread())
    )
    if item is None:
        raise NotFound("No such inbox item.")
    old_state = {"status": item.status, "assignee_key_id": item.assignee_key_id}
    changes = data.model_dump(exclude_unset=True)
    if "assignee_key_id" in changes:
        key_id = changes["assignee_key_id"]
        if key_id == "me":
            key_id = actor.key_id
        if (
            key_id is not None
            and await orgs_service.find_active_key(session, actor.org_id, key_id) is None
        ):
            raise missing_reference(
                "assignee_key_id", "The assignee must be an active API key of your organisation."
            )
        item.assignee_key_id = key_id
    if changes.get("status") is not None and changes["status"] != item.status:
        item.status = changes["status"]
        resolved = item.status != "open"
        item.resolved_at = utcnow() if resolved else None
        item.resolved_by_key_id = actor.key_id if resolved else None
    item.updated_at = utcnow()
    await session.flush()
    before, after = audit.changes(
        old_state, {"status": item.status, "assignee_key_id": item.assignee_key_id}
    )
    await audit.record(
        session,
        actor,
        "inbox_item.updated",
        org_id=actor.org_id,
        target_type="inbox_item",
        target_id=item.id,
        community_id=item.community_id,
        before=before,
        after=after,
    )
    return item
