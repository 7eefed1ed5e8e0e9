"""GraphQL DataLoaders of the forum: one batched query per relation, whatever the list size.

Each loader belongs to one request (and so to one caller): it reads through its own short
session, scoped to the caller's org and, for members, to their community and what they may
see (`access.readable`). Ids come from rows the caller could already read; the scope
is kept anyway, so a loader never widens what a caller sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from app.core.auth import Actor
from app.core.graphql import Context
from app.core.runtime import Runtime
from app.forum import members
from app.forum.access import readable
from app.forum.models import Category, Post, Thread

Loader = DataLoader[uuid.UUID, Any]


async def loader(
    info: Info[Context, None], name: str, factory: Callable[[Runtime, Actor], Loader]
) -> Loader:
    """The request's loader called `name`, made for the request's caller on first use."""
    actor = await info.context.actor()
    return info.context.loader(name, lambda runtime: factory(runtime, actor))


def _by_id(runtime: Runtime, query: Callable[[list[uuid.UUID]], Any]) -> Loader:
    """Rows by id in one query; None where there is none the caller may see."""

    async def load(ids: Sequence[uuid.UUID]) -> list[Any]:
        async with runtime.read_session() as session:
            found = {row.id: row for row in await session.scalars(query(list(ids)))}
        return [found.get(key) for key in ids]

    return DataLoader(load_fn=load)


def posts_by_id(runtime: Runtime, actor: Actor) -> Loader:
    """Posts, with their authors joined in the same query."""
    return _by_id(
        runtime,
        lambda ids: (
            select(Post)
            .where(Post.id.in_(ids), *readable(Post, actor))
            .options(joinedload(Post.author_member))
        ),
    )


def threads_by_id(runtime: Runtime, actor: Actor) -> Loader:
    """Threads, with their authors joined in the same query."""
    return _by_id(
        runtime,
        lambda ids: (
            select(Thread)
            .where(Thread.id.in_(ids), *readable(Thread, actor))
            .options(joinedload(Thread.author_member))
        ),
    )


def categories_by_id(runtime: Runtime, actor: Actor) -> Loader:
    return _by_id(
        runtime,
        lambda ids: select(Category).where(Category.id.in_(ids), *readable(Category, actor)),
    )


def post_counts(runtime: Runtime, actor: Actor) -> DataLoader[uuid.UUID, int]:
    """Members' post counts (staff views: the members were read through a moderator check)."""

    async def load(ids: Sequence[uuid.UUID]) -> list[int]:
        async with runtime.read_session() as session:
            counts = await members.post_counts(session, list(ids))
        return [counts.get(key, 0) for key in ids]

    return DataLoader(load_fn=load)
