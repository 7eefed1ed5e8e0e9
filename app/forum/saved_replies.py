"""Saved replies: canned answers with `{{variable}}` placeholders, filled in on request.

Variables: `{{member}}` (the member's display name), `{{thread}}` (the thread's title),
`{{category}}`, `{{community}}` and `{{staff}}` (the name of the key rendering it). Plain
substitution, never a template language: a saved reply cannot run code.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities_service
from app.core.auth import Actor, Role
from app.core.db import flush_or_conflict, utcnow
from app.core.errors import NotFound, RuleViolation, null_not_allowed
from app.core.pagination import PageParams, Window, paginate
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
    return reply


async def list_saved_replies(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, params: PageParams
) -> Window[SavedReply]:
    await ensure_community(session, actor, community_id, staff_role=Role.moderator, members=False)
    stmt = select(SavedReply).where(SavedReply.community_id == community_id)
    keys = [(SavedReply.title, "asc"), (SavedReply.id, "asc")]
    return await paginate(session, stmt, keys, params)  # type: ignore[arg-type]


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
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise null_not_allowed(field)
        if field == "body":
            _check_variables(value)
        setattr(reply, field, value)
    reply.updated_at = utcnow()
    await flush_or_conflict(session, _taken(reply.title))
    return reply


async def delete_saved_reply(session: AsyncSession, actor: Actor, reply_id: uuid.UUID) -> None:
    reply = await get_saved_reply(session, actor, reply_id)
    await session.delete(reply)
    await session.flush()


async def render_saved_reply(
    session: AsyncSession, actor: Actor, reply_id: uuid.UUID, data: SavedReplyRender
) -> SavedReplyRendered:
    """The reply with its variables filled for a thread and/or member, ready to post."""
    reply = await get_saved_reply(session, actor, reply_id)
    community = await communities_service.get_community(session, actor, reply.community_id)
    values = {"community": community.name, "staff": actor.name}
    member_id = data.member_id
    if data.thread_id is not None:
        thread = await load_thread(session, actor, data.thread_id)
        if thread.community_id != reply.community_id:
            raise _context_error("thread_id", "The thread is in another community.")
        values["thread"] = thread.title
        values["category"] = (
            await session.scalar(select(Category.name).where(Category.id == thread.category_id))
            or ""
        )
        if member_id is None and thread.author_member is not None:
            values["member"] = thread.author_member.display_name or DELETED_MEMBER
    if member_id is not None:
        member = await get_member(session, actor, member_id)
        if member.community_id != reply.community_id:
            raise _context_error("member_id", "The member is in another community.")
        values["member"] = member.display_name or DELETED_MEMBER
    missing = [name for name in variables_in(reply.body) if name not in values]
    if missing:
        raise _context_error(
            "thread_id" if "thread" in missing or "category" in missing else "member_id",
            f"Rendering needs {', '.join(missing)}: give a thread_id (and/or member_id).",
        )
    body = _PLACEHOLDER.sub(lambda m: _literal(values[m.group(1)]), reply.body)
    return SavedReplyRendered(body=body, body_html=render_markdown(body))


def _context_error(field: str, detail: str) -> RuleViolation:
    return RuleViolation(
        detail, errors=[{"loc": ["body", field], "message": detail, "type": "context"}]
    )
