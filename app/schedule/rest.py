"""REST: content, its review and publishing, previews, deliveries and the crisis pause."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from app.communities import service as communities
from app.communities.schemas import CommunityOut
from app.core.deps import CurrentActor, Session
from app.core.errors import document_not_found, problem_responses
from app.core.pagination import Page, paging
from app.core.schemas import NO_NUL_PATTERN
from app.schedule import content, planning, workflow
from app.schedule.content import to_out
from app.schedule.schemas import (
    CheckResult,
    ContentCreate,
    ContentKind,
    ContentOut,
    ContentStatus,
    ContentUpdate,
    DeliveryOut,
    PauseIn,
    PreviewOut,
    RejectIn,
    ResumeIn,
    RetractIn,
    ScheduleIn,
)

router = APIRouter(prefix="/v1", tags=["schedule"], responses=problem_responses(401, 403, 422))
ContentPaging = paging(content.CONTENT_ORDER.cursor)
# Transitions answer 409 naming the current status when the item is not in one they start from.
TRANSITION = problem_responses(404, 409)


@router.post(
    "/communities/{community_id}/content",
    status_code=status.HTTP_201_CREATED,
    response_model=ContentOut,
)
async def create_content(
    community_id: uuid.UUID,
    data: ContentCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> ContentOut:
    """Write a draft for any of the community's channels. Role: moderator."""
    item = await workflow.create(session, actor, community_id, data)
    response.headers["Location"] = f"/v1/content/{item.id}"
    return to_out(item)


@router.get("/communities/{community_id}/content", response_model=Page[ContentOut])
async def list_content(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: ContentPaging,
    status_: Annotated[ContentStatus | None, Query(alias="status")] = None,
    kind: ContentKind | None = None,
    channel_id: uuid.UUID | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL_PATTERN, description="Text in title or body."),
    ] = None,
) -> Page[ContentOut]:
    """The community's content, newest first. Role: viewer."""
    window = await content.list_content(
        session,
        actor,
        community_id,
        page,
        status=status_.value if status_ else None,
        kind=kind.value if kind else None,
        channel_id=channel_id,
        q=q,
    )
    return Page[ContentOut](
        items=[to_out(item) for item in window.items], next_cursor=window.next_cursor
    )


@router.get("/content/{content_id}", response_model=ContentOut)
async def get_content(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> ContentOut:
    """One content item. Role: viewer."""
    return to_out(await content.load(session, actor, content_id))


@router.patch("/content/{content_id}", response_model=ContentOut, responses=TRANSITION)
async def update_content(
    content_id: uuid.UUID, data: ContentUpdate, session: Session, actor: CurrentActor
) -> ContentOut:
    """Edit; carries the `version` you read (stale: 409). Under `require_approval`, reviewed
    content returns to draft. Role: moderator (manager for `redeliver`)."""
    return to_out(await workflow.edit(session, actor, content_id, data))


@router.delete(
    "/content/{content_id}", status_code=status.HTTP_204_NO_CONTENT, responses=TRANSITION
)
async def delete_content(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """Delete content that was never published. Role: manager."""
    await content.delete_content(session, actor, content_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/content/{content_id}/submit", response_model=ContentOut, responses=TRANSITION)
async def submit(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> ContentOut:
    """Send a draft for review. Role: moderator."""
    return to_out(await workflow.submit(session, actor, content_id))


@router.post("/content/{content_id}/approve", response_model=ContentOut, responses=TRANSITION)
async def approve(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> ContentOut:
    """Approve content in review (under `require_approval`, not by its author's key).
    Role: manager."""
    return to_out(await workflow.approve(session, actor, content_id))


@router.post("/content/{content_id}/reject", response_model=ContentOut, responses=TRANSITION)
async def reject(
    content_id: uuid.UUID, data: RejectIn, session: Session, actor: CurrentActor
) -> ContentOut:
    """Send it back to draft with a note. Role: manager."""
    return to_out(await workflow.reject(session, actor, content_id, data.note))


@router.post("/content/{content_id}/schedule", response_model=ContentOut, responses=TRANSITION)
async def schedule(
    content_id: uuid.UUID, data: ScheduleIn, session: Session, actor: CurrentActor
) -> ContentOut:
    """Publish at a future time; preflight errors refuse it (422 with `checks`).
    Role: manager."""
    return to_out(await workflow.schedule(session, actor, content_id, data.publish_at))


@router.post(
    "/content/{content_id}/publish",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ContentOut,
    responses=TRANSITION,
)
async def publish(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> ContentOut:
    """Publish now; deliveries proceed in the background (see `/deliveries`).
    Role: manager."""
    return to_out(await workflow.publish(session, actor, content_id))


@router.post("/content/{content_id}/cancel", response_model=ContentOut, responses=TRANSITION)
async def cancel(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> ContentOut:
    """Unschedule (back to `approved`); content not yet scheduled is shelved (`cancelled`).
    Role: manager."""
    return to_out(await workflow.cancel(session, actor, content_id))


@router.post("/content/{content_id}/retract", response_model=ContentOut, responses=TRANSITION)
async def retract(
    content_id: uuid.UUID, data: RetractIn, session: Session, actor: CurrentActor
) -> ContentOut:
    """Take it down everywhere it went. Role: manager."""
    return to_out(await workflow.retract(session, actor, content_id, data.reason))


@router.post("/content/{content_id}/check", response_model=CheckResult, responses=TRANSITION)
async def check(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> CheckResult:
    """Preflight: tone, each channel's platform rules, the unwelcome-news kit.
    Role: moderator."""
    return await workflow.check(session, actor, content_id)


@router.get("/content/{content_id}/preview", response_model=list[PreviewOut])
async def preview(content_id: uuid.UUID, session: Session, actor: CurrentActor) -> list[PreviewOut]:
    """What each channel would receive, with its checks. Role: viewer."""
    return await workflow.preview(session, actor, content_id)


@router.get("/content/{content_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    content_id: uuid.UUID, session: Session, actor: CurrentActor
) -> list[DeliveryOut]:
    """One row per channel: status, attempts, last error, the message id. Role: viewer."""
    rows = await planning.deliveries_of(session, actor, content_id)
    return [DeliveryOut.model_validate(row) for row in rows]


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryOut, responses=TRANSITION)
async def retry_delivery(
    delivery_id: uuid.UUID, session: Session, actor: CurrentActor
) -> DeliveryOut:
    """Send a failed delivery again now (a delivered one is a 409). Role: manager."""
    return DeliveryOut.model_validate(await planning.retry(session, actor, delivery_id))


@router.post("/communities/{community_id}/pause", response_model=CommunityOut, responses=TRANSITION)
async def pause(
    community_id: uuid.UUID, data: PauseIn, session: Session, actor: CurrentActor
) -> CommunityOut:
    """Crisis pause: nothing of the community is delivered until resumed. Role: manager."""
    return communities.to_out(await workflow.pause(session, actor, community_id, data.reason))


@router.post(
    "/communities/{community_id}/resume", response_model=CommunityOut, responses=TRANSITION
)
async def resume(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    data: Annotated[ResumeIn | None, Body()] = None,
) -> CommunityOut:
    """Deliveries resume; scheduled items that fell due return to `approved` unless
    `publish_overdue`. Role: manager."""
    overdue = data.publish_overdue if data else False
    community = await workflow.resume(session, actor, community_id, publish_overdue=overdue)
    return communities.to_out(community)


document_not_found(router)
