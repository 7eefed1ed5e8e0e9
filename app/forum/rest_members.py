"""REST: /v1/communities/{id}/members and /v1/members/{id} (staff views, export, erasure)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.core.deps import CurrentActor, Session
from app.core.errors import problem_responses
from app.core.pagination import Page, paging
from app.core.schemas import NO_NUL_PATTERN
from app.forum import members, privacy
from app.forum.schemas import MemberExport, MemberModeration, MemberOut, MemberStatus
from app.moderation import appeals

router = APIRouter(prefix="/v1", tags=["members"], responses=problem_responses(401, 403, 422))
MemberPaging = paging(members.MEMBER_ORDER.cursor)


@router.get("/communities/{community_id}/members", response_model=Page[MemberOut])
async def list_members(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: MemberPaging,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=NO_NUL_PATTERN,
            description="Part of a display name or external id.",
        ),
    ] = None,
    member_status: Annotated[
        MemberStatus | None, Query(alias="status", description="Current status (lapsed = active).")
    ] = None,
) -> Page[MemberOut]:
    """A community's members, first joined first. Role: moderator."""
    window = await members.list_members(
        session, actor, community_id, page, q=q or None, status=member_status
    )
    counts = await members.post_counts(session, [m.id for m in window.items])
    return Page[MemberOut](
        items=[members.to_out(m, counts.get(m.id, 0)) for m in window.items],
        next_cursor=window.next_cursor,
    )


@router.get("/members/{member_id}", response_model=MemberOut)
async def get_member(member_id: uuid.UUID, session: Session, actor: CurrentActor) -> MemberOut:
    """One member with their status, post count and moderation counts (reports against
    them, live strikes, active sanctions, notes). Role: moderator."""
    member = await members.get_member(session, actor, member_id)
    counts = await members.post_counts(session, [member.id])
    moderation = MemberModeration(**await appeals.moderation_counts(session, member))
    return members.to_out(member, counts.get(member.id, 0)).model_copy(
        update={"moderation": moderation}
    )


@router.get("/members/{member_id}/export", response_model=MemberExport)
async def export_member(
    member_id: uuid.UUID, session: Session, actor: CurrentActor
) -> MemberExport:
    """Everything held about a member, for a data protection request. Role: manager."""
    return await privacy.export_member(session, actor, member_id)


@router.delete("/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def erase_member(
    member_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    delete_posts: Annotated[
        bool, Query(description="Also blank and remove the member's posts.")
    ] = False,
) -> Response:
    """Erase a member's personal data; their posts stay as "deleted member". Role: owner."""
    await privacy.erase_member(session, actor, member_id, delete_posts=delete_posts)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
