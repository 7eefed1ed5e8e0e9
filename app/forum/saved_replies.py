"""Saved replies: canned answers with `{{variable}}` placeholders, filled in on request.

Variables: `{{member}}` (the member's display name), `{{thread}}` (the thread's title),
`{{category}}`, `{{community}}` and `{{staff}}` (the name of the key rendering it). Plain
substitution, never a template language: a saved reply cannot run code.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities_service
from app.core import audit
from app.core.auth import Actor, Role
from app.core.db import flush_or_conflict, utcnow
from app.core.errors import Conflict, NotFound, RuleViolation, missing_reference
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.text import render_markdown
from app.forum.access import ensure_community, load_thread
from app.forum.members import DELETED_MEMBER, get_member
from app.forum.models import Category, SavedReply
from app.forum.schemas import (
    SavedReplyCreate,
    SavedReplyOut,
    SavedReplyRender,
    SavedReplyRendered,
    SavedReplyUpdate,
)

SAVED_REPLY_ORDER = Keyset([(SavedReply.title, "asc"), (SavedReply.id, "asc")])

T = TypeVar("T")

VARIABLES = ("member", "thread", "category", "community", "staff")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Markdown punctuation that could turn a value into a link, image, code, emphasis or HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>!~|#&])")


def _literal(value: str) -> str:
    """A value as Markdown that reads as itself: a member named `[gold](https://…)` gets no
    link in an official reply, and a title cannot start a new block."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.split()))


def variables_in(body: str) -> list[str]:
    return sorted({m.group(1) for m in _PLACEHOLDER.finditer(body)})


def _check_variables(body: str) -> None:
    unknown = [name for name in variables_in(body) if name not in VARIABLES]
    if unknown:
        raise RuleViolation(
            f"Unknown variable(s): {', '.join(unknown)}. Known: {', '.join(VARIABLES)}.",
            errors=[{"loc": ["body", "body"], "message": "unknown variable", "type": "variable"}],
        )


def to_out(reply: SavedReply) -> SavedReplyOut:
    return SavedReplyOut(
        id=reply.id,
        community_id=reply.community_id,
        title=reply.title,
        body=reply.body,
        variables=variables_in(reply.body),
        created_at=reply.created_at,
        updated_at=reply.updated_at,
    )


def _taken(title: str) -> str:
    return f"A saved reply titled '{title}' already exists in this community."


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    reply: SavedReply,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """The audit log keeps a saved reply's title, never its body."""
    await audit.record(
        session,
        actor,
        action,
        org_id=actor.org_id,
        target_type="saved_reply",
        target_id=reply.id,
        community_id=reply.community_id,
        before=before,
        after=after,
    )


async def create_saved_reply(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, data: SavedReplyCreate
) -> SavedReply:
    await ensure_community(session, actor, community_id, staff_role=Role.moderator, members=False)
    _check_variables(data.body)
    reply = SavedReply(
        org_id=actor.org_id,
        community_id=community_id,
        title=data.title,
        body=data.body,
        created_by_key_id=actor.key_id,
    )
    session.add(reply)
    await flush_or_conflict(session, _taken(data.title))
    await _audit(session, actor, "saved_reply.created", reply, after={"title": reply.title})
    return reply


async def list_saved_replies(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, params: PageParams
) -> Window[SavedReply]:
    await ensure_community(session, actor, community_id, staff_role=Role.moderator, members=False)
    stmt = select(SavedReply).where(SavedReply.community_id == community_id)
    return await paginate(session, stmt, SAVED_REPLY_ORDER, params)


async def get_saved_reply(session: AsyncSession, actor: Actor, reply_id: uuid.UUID) -> SavedReply:
    actor.require(Role.moderator)
    reply = await session.scalar(
        select(SavedReply).where(SavedReply.id == reply_id, SavedReply.org_id == actor.org_id)
    )
    if reply is None:
        raise NotFound("No such saved reply.")
    return reply


async def update_saved_reply(
    session: AsyncSession, actor: Actor, reply_id: uuid.UUID, data: SavedReplyUpdate
) -> SavedReply:
    reply = await get_saved_reply(session, actor, reply_id)
    old_title, old_body = reply.title, reply.body
    for field, value in data.model_dump(exclude_unset=True).items():
        if field == "body":
            _check_variables(value)
        setattr(reply, field, value)
    reply.updated_at = utcnow()
    await flush_or_conflict(session, _taken(reply.title))
    before, after = audit.changes({"title": old_title}, {"title": reply.title})
    if reply.body != old_body:
        after["body"] = "changed"  # that it changed, never what it says
    await _audit(session, actor, "saved_reply.updated", reply, before=before, after=after)
    return reply


async def delete_saved_reply(session: AsyncSession, actor: Actor, reply_id: uuid.UUID) -> None:
    reply = await get_saved_reply(session, actor, reply_id)
    state = {"title": reply.title}
    await session.delete(reply)
    await session.flush()
    await _audit(session, actor, "saved_reply.deleted", reply, before=state)


async def render_saved_reply(
    session: AsyncSession, actor: Actor, reply_id: uuid.UUID, data: SavedReplyRender
) -> SavedReplyRendered:
    """The reply with its variables filled for a thread and/or member, ready to post."""
    reply = await get_saved_reply(session, actor, reply_id)
    community = await communities_service.get_community(session, actor, reply.community_id)
    values = {"community": community.name, "staff": actor.name}
    member_id = data.member_id
    if data.thread_id is not None:
        thread = await _of_community(
            load_thread(session, actor, data.thread_id), reply.community_id, "thread_id"
        )
        values["thread"] = thread.title
        values["category"] = (
            await session.scalar(select(Category.name).where(Category.id == thread.category_id))
            or ""
        )
        if member_id is None and thread.author_member is not None:
            values["member"] = thread.author_member.display_name or DELETED_MEMBER
    if member_id is not None:
        member = await _of_community(
            get_member(session, actor, member_id), reply.community_id, "member_id"
        )
        values["member"] = member.display_name or DELETED_MEMBER
    missing = [name for name in variables_in(reply.body) if name not in values]
    if missing:
        # What this saved reply says decides what it needs: a conflict with its text.
        field = "thread_id" if "thread" in missing or "category" in missing else "member_id"
        raise Conflict(
            f"This reply uses {', '.join(missing)}: give a thread_id (and/or member_id).",
            errors=[{"loc": ["body", field], "message": "needed by the reply", "type": "context"}],
        )
    body = _PLACEHOLDER.sub(lambda m: _literal(values[m.group(1)]), reply.body)
    return SavedReplyRendered(body=body, body_html=render_markdown(body))


async def _of_community(lookup: Awaitable[T], community_id: uuid.UUID, field: str) -> T:
    """The thread or member a render names, which must be of the reply's community: any
    other is not found, like an id of another organisation."""
    try:
        found = await lookup
    except NotFound:
        found = None
    if found is None or found.community_id != community_id:  # type: ignore[attr-defined]
        raise missing_reference(field, f"No such {field.removesuffix('_id')} in this community.")
    return found
