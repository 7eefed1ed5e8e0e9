"""REST: the staff inbox and saved replies."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from app.core.deps import CurrentActor, Session
from app.core.errors import problem_responses
from app.core.pagination import Page, paging
from app.forum import inbox, saved_replies
from app.forum.schemas import (
    InboxItemOut,
    InboxItemUpdate,
    InboxStatus,
    SavedReplyCreate,
    SavedReplyOut,
    SavedReplyRender,
    SavedReplyRendered,
    SavedReplyUpdate,
)

router = APIRouter(prefix="/v1", tags=["inbox"], responses=problem_responses(401, 403, 422))
InboxPaging = paging(inbox.INBOX_ORDER.cursor)
SavedReplyPaging = paging(saved_replies.SAVED_REPLY_ORDER.cursor)


@router.get("/communities/{community_id}/inbox", response_model=Page[InboxItemOut])
async def list_inbox(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: InboxPaging,
    item_status: Annotated[InboxStatus, Query(alias="status")] = "open",
    assignee: Annotated[
        uuid.UUID | Literal["me", "none"] | None,
        Query(description="A key id, `me` or `none` (unassigned)."),
    ] = None,
) -> Page[InboxItemOut]:
    """Member questions with no staff reply yet, most urgent first (see the README for the
    priority: age, negative sentiment, reactions). Role: moderator."""
    window = await inbox.list_inbox(
        session, actor, community_id, page, status=item_status, assignee=assignee
    )
    return Page[InboxItemOut](
        items=[inbox.to_out(i) for i in window.items], next_cursor=window.next_cursor
    )


@router.patch("/inbox/{item_id}", response_model=InboxItemOut)
async def update_inbox_item(
    item_id: uuid.UUID, data: InboxItemUpdate, session: Session, actor: CurrentActor
) -> InboxItemOut:
    """Assign an item to a staff key, or mark it answered, dismissed or open again.
    Role: moderator."""
    return inbox.to_out(await inbox.update_item(session, actor, item_id, data))


@router.post(
    "/communities/{community_id}/saved-replies",
    status_code=status.HTTP_201_CREATED,
    response_model=SavedReplyOut,
    responses=problem_responses(409),
)
async def create_saved_reply(
    community_id: uuid.UUID,
    data: SavedReplyCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> SavedReplyOut:
    """Save a canned answer; `{{member}}`, `{{thread}}`, `{{category}}`, `{{community}}` and
    `{{staff}}` are filled in when it is rendered. Role: moderator."""
    reply = await saved_replies.create_saved_reply(session, actor, community_id, data)
    response.headers["Location"] = f"/v1/saved-replies/{reply.id}"
    return saved_replies.to_out(reply)


@router.get("/communities/{community_id}/saved-replies", response_model=Page[SavedReplyOut])
async def list_saved_replies(
    community_id: uuid.UUID, session: Session, actor: CurrentActor, page: SavedReplyPaging
) -> Page[SavedReplyOut]:
    """A community's saved replies, by title. Role: moderator."""
    window = await saved_replies.list_saved_replies(session, actor, community_id, page)
    return Page[SavedReplyOut](
        items=[saved_replies.to_out(r) for r in window.items], next_cursor=window.next_cursor
    )


@router.get("/saved-replies/{reply_id}", response_model=SavedReplyOut)
async def get_saved_reply(
    reply_id: uuid.UUID, session: Session, actor: CurrentActor
) -> SavedReplyOut:
    """One saved reply. Role: moderator."""
    return saved_replies.to_out(await saved_replies.get_saved_reply(session, actor, reply_id))


@router.patch(
    "/saved-replies/{reply_id}", response_model=SavedReplyOut, responses=problem_responses(409)
)
async def update_saved_reply(
    reply_id: uuid.UUID, data: SavedReplyUpdate, session: Session, actor: CurrentActor
) -> SavedReplyOut:
    """Change a saved reply's title or text. Role: moderator."""
    reply = await saved_replies.update_saved_reply(session, actor, reply_id, data)
    return saved_replies.to_out(reply)


@router.delete("/saved-replies/{reply_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_saved_reply(
    reply_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    """Delete a saved reply. Role: moderator."""
    await saved_replies.delete_saved_reply(session, actor, reply_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/saved-replies/{reply_id}/render",
    response_model=SavedReplyRendered,
    responses=problem_responses(409),
)
async def render_saved_reply(
    reply_id: uuid.UUID, data: SavedReplyRender, session: Session, actor: CurrentActor
) -> SavedReplyRendered:
    """Fill a saved reply in for a thread and/or member, ready to post. Role: moderator."""
    return await saved_replies.render_saved_reply(session, actor, reply_id, data)
