"""Forum categories: the sections a community's threads live in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.auth import Actor, Role
from app.core.db import flush_or_conflict, utcnow
from app.core.errors import Conflict, NotFound, missing_reference
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.forum.access import ensure_community
from app.forum.models import Category, Thread
from app.forum.schemas import CategoryCreate, CategoryUpdate

CATEGORY_ORDER = Keyset([(Category.position, "asc"), (Category.name, "asc"), (Category.id, "asc")])


def _taken(slug: str) -> str:
    return f"A category with the slug '{slug}' already exists in this community."


def _audit_state(category: Category) -> dict[str, Any]:
    """What the audit log keeps of a category (its description only as "changed")."""
    return {"name": category.name, "slug": category.slug, "position": category.position}


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    category: Category,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        org_id=actor.org_id,
        target_type="category",
        target_id=category.id,
        community_id=category.community_id,
        before=before,
        after=after,
    )


async def create_category(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, data: CategoryCreate
) -> Category:
    await ensure_community(session, actor, community_id, staff_role=Role.manager, members=False)
    category = Category(
        org_id=actor.org_id,
        community_id=community_id,
        name=data.name,
        slug=data.slug,
        description=data.description,
        position=data.position,
    )
    session.add(category)
    await flush_or_conflict(session, _taken(data.slug))
    await _audit(session, actor, "category.created", category, after=_audit_state(category))
    return category


async def list_categories(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, params: PageParams
) -> Window[Category]:
    """A community's categories in display order: `position`, then name."""
    await ensure_community(session, actor, community_id)
    stmt = select(Category).where(Category.community_id == community_id)
    return await paginate(session, stmt, CATEGORY_ORDER, params)


async def get_category(session: AsyncSession, actor: Actor, category_id: uuid.UUID) -> Category:
    stmt = select(Category).where(Category.id == category_id, Category.org_id == actor.org_id)
    if actor.is_member:
        stmt = stmt.where(Category.community_id == actor.community_id)
    else:
        actor.require(Role.viewer)
    category = await session.scalar(stmt)
    if category is None:
        raise NotFound("No such category.")
    return category


async def update_category(
    session: AsyncSession, actor: Actor, category_id: uuid.UUID, data: CategoryUpdate
) -> Category:
    actor.require(Role.manager)
    category = await get_category(session, actor, category_id)
    old_state, old_description = _audit_state(category), category.description
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(category, field, value)
    category.updated_at = utcnow()
    await flush_or_conflict(session, _taken(category.slug))
    before, after = audit.changes(old_state, _audit_state(category))
    if category.description != old_description:
        after["description"] = "changed"
    await _audit(session, actor, "category.updated", category, before=before, after=after)
    return category


async def delete_category(session: AsyncSession, actor: Actor, category_id: uuid.UUID) -> None:
    actor.require(Role.manager)
    category = await get_category(session, actor, category_id)
    in_use = await session.scalar(
        select(Thread.id).where(Thread.category_id == category.id).limit(1)
    )
    if in_use is not None:
        raise Conflict("The category still has threads; move them to another category first.")
    state = _audit_state(category)
    await session.delete(category)
    await session.flush()
    await _audit(session, actor, "category.deleted", category, before=state)


async def category_in_community(
    session: AsyncSession, community_id: uuid.UUID, category_id: uuid.UUID
) -> Category:
    """The category a thread is filed under; must belong to the thread's community."""
    category = await session.scalar(
        select(Category).where(Category.id == category_id, Category.community_id == community_id)
    )
    if category is None:
        raise missing_reference("category_id", "No such category in this community.")
    return category


async def category_ids(session: AsyncSession, community_id: uuid.UUID) -> set[uuid.UUID]:
    """The ids of a community's categories (e.g. to check where a forum channel posts)."""
    return set(
        await session.scalars(select(Category.id).where(Category.community_id == community_id))
    )
