"""REST: posts, reactions and accepted answers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import WithJsonSchema

from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import problem_responses
from app.core.pagination import Page, paging
from app.forum import posts
from app.forum.schemas import EmojiKey, PostCreate, PostOut, PostUpdate, ReactionsOut
from app.forum.views import post_out

router = APIRouter(prefix="/v1", tags=["forum"], responses=problem_responses(401, 403, 422))
PostPaging = paging(posts.POST_ORDER.cursor)
# Made canonical on the way in; the document lists every accepted spelling.
Emoji = Annotated[
    EmojiKey,
    Path(description="A shortcode (`thumbsup`, `+1`) or an emoji itself (URL-encoded)."),
    WithJsonSchema({"$ref": "#/components/schemas/Emoji"}),
]


@router.post(
    "/threads/{thread_id}/posts",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    responses=problem_responses(429),
)
async def create_post(
    thread_id: uuid.UUID,
    data: PostCreate,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
    response: Response,
) -> PostOut:
    """Reply in a thread. 403 when the member is muted, suspended or banned, or the thread is
    locked. Members, or staff (moderator; staff posts are official)."""
    post = await posts.create_post(
        session, actor, thread_id, data, limiter=runtime.limiter, automod=runtime.automod
    )
    response.headers["Location"] = f"/v1/posts/{post.id}"
    return post_out(post)


@router.get("/threads/{thread_id}/posts", response_model=Page[PostOut])
async def list_posts(
    thread_id: uuid.UUID, session: Session, actor: CurrentActor, page: PostPaging
) -> Page[PostOut]:
    """A thread's posts, oldest first. Members see visible posts and their own."""
    window = await posts.list_posts(session, actor, thread_id, page)
    return Page[PostOut](items=[post_out(p) for p in window.items], next_cursor=window.next_cursor)


@router.get("/posts/{post_id}", response_model=PostOut)
async def get_post(post_id: uuid.UUID, session: Session, actor: CurrentActor) -> PostOut:
    """One post. Members and staff."""
    return post_out(await posts.get_post(session, actor, post_id))


@router.patch("/posts/{post_id}", response_model=PostOut)
async def edit_post(
    post_id: uuid.UUID,
    data: PostUpdate,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
) -> PostOut:
    """Edit a post's text; `edited_at` records when. Its author or a moderator."""
    return post_out(
        await posts.edit_post(
            session, actor, post_id, data, limiter=runtime.limiter, automod=runtime.automod
        )
    )


@router.delete("/posts/{post_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_post(
    post_id: uuid.UUID, session: Session, actor: CurrentActor, runtime: RuntimeDep
) -> Response:
    """Remove a post (soft: moderators still see it). Its author or a moderator."""
    await posts.delete_post(session, actor, post_id, limiter=runtime.limiter)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/posts/{post_id}/reactions/{emoji}",
    response_model=ReactionsOut,
    responses=problem_responses(429),
)
async def add_reaction(
    post_id: uuid.UUID, emoji: Emoji, session: Session, actor: CurrentActor, runtime: RuntimeDep
) -> ReactionsOut:
    """React to a post; reacting twice with the same emoji changes nothing."""
    post = await posts.set_reaction(
        session, actor, post_id, emoji, present=True, limiter=runtime.limiter
    )
    return ReactionsOut(post_id=post.id, reactions=post.reactions)


@router.delete(
    "/posts/{post_id}/reactions/{emoji}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(429),
)
async def remove_reaction(
    post_id: uuid.UUID, emoji: Emoji, session: Session, actor: CurrentActor, runtime: RuntimeDep
) -> Response:
    """Take back your reaction; taking back one you never gave changes nothing."""
    await posts.set_reaction(session, actor, post_id, emoji, present=False, limiter=runtime.limiter)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/posts/{post_id}/accept", response_model=PostOut, responses=problem_responses(409))
async def accept_post(post_id: uuid.UUID, session: Session, actor: CurrentActor) -> PostOut:
    """Mark a reply as the answer of its question thread. The thread's author or a moderator."""
    return post_out(await posts.accept(session, actor, post_id))


@router.delete("/posts/{post_id}/accept", response_model=PostOut, responses=problem_responses(409))
async def unaccept_post(post_id: uuid.UUID, session: Session, actor: CurrentActor) -> PostOut:
    """Withdraw the answer mark. The thread's author or a moderator."""
    return post_out(await posts.accept(session, actor, post_id, accepted=False))
