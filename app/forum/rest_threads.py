"""REST: forum categories and threads."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import problem_responses
from app.core.pagination import Page, paging
from app.core.schemas import NO_NUL_PATTERN
from app.forum import categories, threads
from app.forum.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    ThreadCreate,
    ThreadKind,
    ThreadOut,
    ThreadSort,
    ThreadUpdate,
)
from app.forum.views import category_out, thread_out

router = APIRouter(prefix="/v1", tags=["forum"], responses=problem_responses(401, 403, 422))
CategoryPaging = paging(categories.CATEGORY_ORDER.cursor)
ThreadPaging = paging(threads.THREAD_CURSOR)


@router.post(
    "/communities/{community_id}/categories",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryOut,
    responses=problem_responses(409),
)
async def create_category(
    community_id: uuid.UUID,
    data: CategoryCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> CategoryOut:
    """Add a forum category. Role: manager."""
    category = await categories.create_category(session, actor, community_id, data)
    response.headers["Location"] = f"/v1/categories/{category.id}"
    return category_out(category)


@router.get("/communities/{community_id}/categories", response_model=Page[CategoryOut])
async def list_categories(
    community_id: uuid.UUID, session: Session, actor: CurrentActor, page: CategoryPaging
) -> Page[CategoryOut]:
    """Categories in display order (`position`, then name). Members and staff."""
    window = await categories.list_categories(session, actor, community_id, page)
    return Page[CategoryOut](
        items=[category_out(c) for c in window.items], next_cursor=window.next_cursor
    )


@router.get("/categories/{category_id}", response_model=CategoryOut)
async def get_category(
    category_id: uuid.UUID, session: Session, actor: CurrentActor
) -> CategoryOut:
    """One category. Members and staff."""
    return category_out(await categories.get_category(session, actor, category_id))


@router.patch(
    "/categories/{category_id}", response_model=CategoryOut, responses=problem_responses(409)
)
async def update_category(
    category_id: uuid.UUID, data: CategoryUpdate, session: Session, actor: CurrentActor
) -> CategoryOut:
    """Rename, re-describe or reorder a category. Role: manager."""
    return category_out(await categories.update_category(session, actor, category_id, data))


@router.delete(
    "/categories/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409),
)
async def delete_category(
    category_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    """Delete an empty category (409 while it has threads). Role: manager."""
    await categories.delete_category(session, actor, category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/communities/{community_id}/threads",
    status_code=status.HTTP_201_CREATED,
    response_model=ThreadOut,
    responses=problem_responses(429),
)
async def create_thread(
    community_id: uuid.UUID,
    data: ThreadCreate,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
    response: Response,
) -> ThreadOut:
    """Start a thread; `body` becomes its opening post. Members, or staff (moderator)."""
    thread = await threads.create_thread(
        session, actor, community_id, data, limiter=runtime.limiter, automod=runtime.automod
    )
    response.headers["Location"] = f"/v1/threads/{thread.id}"
    return thread_out(thread)


@router.get("/communities/{community_id}/threads", response_model=Page[ThreadOut])
async def list_threads(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: ThreadPaging,
    category: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=NO_NUL_PATTERN,
            description="A category id or slug (404 when the community has no such category).",
        ),
    ] = None,
    kind: ThreadKind | None = None,
    sort: Annotated[
        ThreadSort,
        Query(
            description="`latest` (newest first), `active` (latest post first) or `top` "
            "(most replies and reactions); pinned threads come first in each."
        ),
    ] = "latest",
) -> Page[ThreadOut]:
    """A community's threads. Members see visible threads and their own; staff see all."""
    window = await threads.list_threads(
        session, actor, community_id, page, sort=sort, category=category, kind=kind
    )
    return Page[ThreadOut](
        items=[thread_out(t) for t in window.items], next_cursor=window.next_cursor
    )


@router.get("/threads/{thread_id}", response_model=ThreadOut)
async def get_thread(thread_id: uuid.UUID, session: Session, actor: CurrentActor) -> ThreadOut:
    """One thread. Members and staff."""
    return thread_out(await threads.get_thread(session, actor, thread_id))


@router.patch("/threads/{thread_id}", response_model=ThreadOut)
async def update_thread(
    thread_id: uuid.UUID, data: ThreadUpdate, session: Session, actor: CurrentActor
) -> ThreadOut:
    """Rename, pin, lock or move a thread to another category. Role: moderator."""
    return thread_out(await threads.update_thread(session, actor, thread_id, data))
