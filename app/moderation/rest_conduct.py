"""REST: sanctions, strikes and the ladder, staff notes, appeals, and `GET /v1/me`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.core.deps import CurrentActor, Session
from app.core.errors import document_not_found, problem_responses
from app.core.pagination import Page, paging
from app.moderation import appeals, notices, sanctions, strikes
from app.moderation.schemas_conduct import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AppealStatus,
    LiftIn,
    MeOut,
    NoteIn,
    NoteOut,
    SanctionIn,
    SanctionOut,
    StrikeAdded,
    StrikeIn,
    StrikeOut,
    StrikePolicy,
)
from app.moderation.schemas_notices import MemberNotices
from app.moderation.schemas_review import SanctionKind

router = APIRouter(
    prefix="/v1", tags=["moderation"], responses=problem_responses(401, 403, 404, 422)
)
SanctionPaging = paging(sanctions.ORDER.cursor)
StrikePaging = paging(strikes.ORDER.cursor)
NotePaging = paging(appeals.NOTE_ORDER.cursor)
AppealPaging = paging(appeals.ORDER.cursor)


@router.post(
    "/members/{member_id}/sanctions",
    status_code=status.HTTP_201_CREATED,
    response_model=SanctionOut,
)
async def issue_sanction(
    member_id: uuid.UUID,
    data: SanctionIn,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> SanctionOut:
    """Warn, mute, suspend or ban a member (for `duration_hours`, or until lifted). Their
    status follows the most severe active sanction. Role: moderator."""
    sanction = await sanctions.issue_by_staff(session, actor, member_id, data)
    response.headers["Location"] = f"/v1/sanctions/{sanction.id}"
    return (await sanctions.out(session, [sanction]))[0]


@router.get("/sanctions/{sanction_id}", response_model=SanctionOut)
async def get_sanction(
    sanction_id: uuid.UUID, session: Session, actor: CurrentActor
) -> SanctionOut:
    """One sanction. Role: moderator; or the sanctioned member, with their token."""
    found = await sanctions.get_visible_sanction(session, actor, sanction_id)
    return (await sanctions.out(session, [found]))[0]


@router.get("/members/{member_id}/sanctions", response_model=Page[SanctionOut])
async def member_sanctions(
    member_id: uuid.UUID, session: Session, actor: CurrentActor, page: SanctionPaging
) -> Page[SanctionOut]:
    """A member's sanctions, newest first, ended and lifted ones too. Role: moderator."""
    window = await sanctions.list_for_member(session, actor, member_id, page)
    return Page[SanctionOut](
        items=await sanctions.out(session, window.items), next_cursor=window.next_cursor
    )


@router.get("/communities/{community_id}/sanctions", response_model=Page[SanctionOut])
async def community_sanctions(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: SanctionPaging,
    active: bool | None = None,
    kind: SanctionKind | None = None,
) -> Page[SanctionOut]:
    """A community's sanctions, newest first (`active=true`: in force now). Role: moderator."""
    window = await sanctions.list_for_community(
        session, actor, community_id, page, active=active, kind=kind.value if kind else None
    )
    return Page[SanctionOut](
        items=await sanctions.out(session, window.items), next_cursor=window.next_cursor
    )


@router.post(
    "/sanctions/{sanction_id}/lift",
    response_model=SanctionOut,
    responses=problem_responses(409),
)
async def lift_sanction(
    sanction_id: uuid.UUID, data: LiftIn, session: Session, actor: CurrentActor
) -> SanctionOut:
    """End a sanction now (409 when it already ended or was lifted). Role: moderator."""
    sanction = await sanctions.lift(session, actor, sanction_id, data.reason)
    return (await sanctions.out(session, [sanction]))[0]


@router.post(
    "/members/{member_id}/strikes", status_code=status.HTTP_201_CREATED, response_model=StrikeAdded
)
async def add_strike(
    member_id: uuid.UUID, data: StrikeIn, session: Session, actor: CurrentActor
) -> StrikeAdded:
    """Add a strike; the community's ladder sanctions the member for the strikes that now
    count (returned as `sanction`). Role: moderator."""
    strike, sanction = await strikes.add_strike(
        session,
        actor,
        member_id,
        data.reason,
        review_item_id=data.review_item_id,
        notify=data.notify,
    )
    policy = strikes.policy_of(await strikes.community_of(session, strike))
    issued = (await sanctions.out(session, [sanction]))[0] if sanction else None
    return StrikeAdded(strike=strikes.strike_out(strike, policy), sanction=issued)


@router.get("/members/{member_id}/strikes", response_model=Page[StrikeOut])
async def member_strikes(
    member_id: uuid.UUID, session: Session, actor: CurrentActor, page: StrikePaging
) -> Page[StrikeOut]:
    """A member's strikes, newest first; `counts` says which count now. Role: moderator."""
    window = await strikes.list_strikes(session, actor, member_id, page)
    return Page[StrikeOut](items=window.items, next_cursor=window.next_cursor)


@router.get("/communities/{community_id}/strike-policy", response_model=StrikePolicy)
async def get_strike_policy(
    community_id: uuid.UUID, session: Session, actor: CurrentActor
) -> StrikePolicy:
    """The strike ladder (the default until one is set). Role: moderator."""
    return await strikes.get_policy(session, actor, community_id)


@router.put("/communities/{community_id}/strike-policy", response_model=StrikePolicy)
async def put_strike_policy(
    community_id: uuid.UUID, data: StrikePolicy, session: Session, actor: CurrentActor
) -> StrikePolicy:
    """Set the ladder: `{ladder: [{strikes, kind, duration_hours?}], decay_days}`. Role:
    manager."""
    return await strikes.put_policy(session, actor, community_id, data)


@router.get("/communities/{community_id}/member-notices", response_model=MemberNotices)
async def get_member_notices(
    community_id: uuid.UUID, session: Session, actor: CurrentActor
) -> MemberNotices:
    """What members are told when a decision, sanction or appeal decision says `notify`,
    in the community's words (the default until set). Role: moderator."""
    return await notices.get_notices(session, actor, community_id)


@router.put("/communities/{community_id}/member-notices", response_model=MemberNotices)
async def put_member_notices(
    community_id: uuid.UUID, data: MemberNotices, session: Session, actor: CurrentActor
) -> MemberNotices:
    """Set the wording, one template per outcome; outcomes left out keep their default.
    Placeholders: `$member`, `$community`, `$what`, `$until`, `$reason`. Role: manager."""
    return await notices.put_notices(session, actor, community_id, data)


@router.post(
    "/members/{member_id}/notes", status_code=status.HTTP_201_CREATED, response_model=NoteOut
)
async def add_note(
    member_id: uuid.UUID, data: NoteIn, session: Session, actor: CurrentActor
) -> NoteOut:
    """A note on a member, for staff only. Role: moderator."""
    return NoteOut.model_validate(await appeals.add_note(session, actor, member_id, data.body))


@router.get("/members/{member_id}/notes", response_model=Page[NoteOut])
async def list_notes(
    member_id: uuid.UUID, session: Session, actor: CurrentActor, page: NotePaging
) -> Page[NoteOut]:
    """Staff notes on a member, newest first. Role: moderator."""
    window = await appeals.list_notes(session, actor, member_id, page)
    return Page[NoteOut](
        items=[NoteOut.model_validate(n) for n in window.items], next_cursor=window.next_cursor
    )


@router.get("/me", response_model=MeOut)
async def me(session: Session, actor: CurrentActor) -> MeOut:
    """The member's own profile and status, sanctions in force, and appeals. A member
    token (a banned member's too)."""
    return MeOut(**await appeals.me(session, actor))


@router.post(
    "/sanctions/{sanction_id}/appeal",
    status_code=status.HTTP_201_CREATED,
    response_model=AppealOut,
    responses=problem_responses(409),
)
async def appeal(
    sanction_id: uuid.UUID,
    data: AppealIn,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> AppealOut:
    """Appeal a sanction: the sanctioned member, with their token, once per sanction, even
    while banned."""
    found = await appeals.create_appeal(session, actor, sanction_id, data.statement)
    response.headers["Location"] = f"/v1/appeals/{found.id}"
    return appeals.appeal_out(found)


@router.get("/appeals/{appeal_id}", response_model=AppealOut)
async def get_appeal(appeal_id: uuid.UUID, session: Session, actor: CurrentActor) -> AppealOut:
    """One appeal and its outcome. Role: moderator; or the member who appealed, with their
    token."""
    return appeals.appeal_out(await appeals.get_appeal(session, actor, appeal_id))


@router.get("/communities/{community_id}/appeals", response_model=Page[AppealOut])
async def list_appeals(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    page: AppealPaging,
    status_: Annotated[AppealStatus | None, Query(alias="status")] = None,
) -> Page[AppealOut]:
    """A community's appeals, newest first (`status=open|upheld|overturned`). Role:
    moderator."""
    window = await appeals.list_appeals(
        session, actor, community_id, page, status_.value if status_ else None
    )
    return Page[AppealOut](
        items=[appeals.appeal_out(a) for a in window.items], next_cursor=window.next_cursor
    )


@router.post(
    "/appeals/{appeal_id}/decision", response_model=AppealOut, responses=problem_responses(409)
)
async def decide_appeal(
    appeal_id: uuid.UUID, data: AppealDecisionIn, session: Session, actor: CurrentActor
) -> AppealOut:
    """Uphold or overturn (which lifts the sanction and voids its strike). Role: moderator."""
    return appeals.appeal_out(await appeals.decide_appeal(session, actor, appeal_id, data))


document_not_found(router)
