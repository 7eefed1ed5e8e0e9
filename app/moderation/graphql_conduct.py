"""GraphQL: sanctions, strikes and the ladder, staff notes, appeals and `me`, through the
same services as REST; types derive from the REST schemas, inputs are validated by them."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.experimental import pydantic as derived
from strawberry.types import Info

from app.core.graphql import Context, given, page, parse
from app.forum.graphql_types import MemberStatus
from app.forum.schemas import MemberModeration, MemberOut
from app.moderation import appeals, notices, sanctions, strikes
from app.moderation.schemas_conduct import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AppealOutcome,
    AppealStatus,
    Issuer,
    LadderStep,
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

Ctx = Info[Context, None]


@derived.type(model=Issuer, all_fields=True, name="Issuer")
class IssuerType:
    pass


@derived.type(model=SanctionOut, all_fields=True, name="Sanction")
class SanctionType:
    pass


@derived.type(model=StrikeOut, all_fields=True, name="Strike")
class StrikeType:
    pass


@derived.type(model=StrikeAdded, all_fields=True, name="StrikeAdded")
class StrikeAddedType:
    pass


@derived.type(model=LadderStep, all_fields=True, name="LadderStep")
class LadderStepType:
    pass


@derived.type(model=StrikePolicy, all_fields=True, name="StrikePolicy")
class StrikePolicyType:
    pass


@derived.type(model=MemberNotices, all_fields=True, name="MemberNotices")
class MemberNoticesType:
    pass


@derived.input(model=MemberNotices, all_fields=True, name="MemberNoticesInput")
class MemberNoticesInput:
    pass


@derived.input(model=LadderStep, all_fields=True, name="LadderStepInput")
class LadderStepInput:
    pass


@derived.type(model=AppealOut, all_fields=True, name="Appeal")
class AppealType:
    pass


@derived.type(model=NoteOut, all_fields=True, name="MemberNote")
class NoteType:
    pass


@derived.type(model=MemberModeration, all_fields=True, name="MemberModeration")
class MemberModerationType:
    pass


@derived.type(model=MemberOut, all_fields=True, name="MemberProfile")
class MemberProfileType:
    status: MemberStatus  # the forum's enum (REST types it as a literal)


@derived.type(model=MeOut, all_fields=True, name="Me")
class MeType:
    pass


@strawberry.type
class SanctionPage:
    items: list[SanctionType]
    next_cursor: str | None


@strawberry.type
class StrikePage:
    items: list[StrikeType]
    next_cursor: str | None


@strawberry.type
class AppealPage:
    items: list[AppealType]
    next_cursor: str | None


@strawberry.type
class NotePage:
    items: list[NoteType]
    next_cursor: str | None


async def _sanctions(session: object, rows: list) -> list[SanctionType]:
    return [SanctionType.from_pydantic(s) for s in await sanctions.out(session, rows)]  # type: ignore[arg-type]


@strawberry.type
class Query:
    @strawberry.field(description="A member's sanctions, newest first. Role: moderator.")
    async def member_sanctions(
        self, info: Ctx, member_id: uuid.UUID, first: int = 20, after: str | None = None
    ) -> SanctionPage:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            window = await sanctions.list_for_member(session, actor, member_id, page(first, after))
            items = await _sanctions(session, window.items)
        return SanctionPage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(description="A community's sanctions, newest first. Role: moderator.")
    async def community_sanctions(
        self,
        info: Ctx,
        community_id: uuid.UUID,
        active: bool | None = None,
        kind: SanctionKind | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> SanctionPage:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            window = await sanctions.list_for_community(
                session,
                actor,
                community_id,
                page(first, after),
                active=active,
                kind=kind.value if kind else None,
            )
            items = await _sanctions(session, window.items)
        return SanctionPage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(description="A member's strikes, newest first. Role: moderator.")
    async def member_strikes(
        self, info: Ctx, member_id: uuid.UUID, first: int = 20, after: str | None = None
    ) -> StrikePage:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            window = await strikes.list_strikes(session, actor, member_id, page(first, after))
        items = [StrikeType.from_pydantic(s) for s in window.items]
        return StrikePage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(description="The community's strike ladder. Role: moderator.")
    async def strike_policy(self, info: Ctx, community_id: uuid.UUID) -> StrikePolicyType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            policy = await strikes.get_policy(session, actor, community_id)
        return StrikePolicyType.from_pydantic(policy)

    @strawberry.field(
        description="What members are told, in the community's words. Role: moderator."
    )
    async def member_notices(self, info: Ctx, community_id: uuid.UUID) -> MemberNoticesType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            wording = await notices.get_notices(session, actor, community_id)
        return MemberNoticesType.from_pydantic(wording)

    @strawberry.field(description="Staff notes on a member, newest first. Role: moderator.")
    async def member_notes(
        self, info: Ctx, member_id: uuid.UUID, first: int = 20, after: str | None = None
    ) -> NotePage:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            window = await appeals.list_notes(session, actor, member_id, page(first, after))
        items = [NoteType.from_pydantic(NoteOut.model_validate(n)) for n in window.items]
        return NotePage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(description="A community's appeals, newest first. Role: moderator.")
    async def appeals(
        self,
        info: Ctx,
        community_id: uuid.UUID,
        status: AppealStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> AppealPage:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            window = await appeals.list_appeals(
                session, actor, community_id, page(first, after), status.value if status else None
            )
        items = [AppealType.from_pydantic(appeals.appeal_out(a)) for a in window.items]
        return AppealPage(items=items, next_cursor=window.next_cursor)

    @strawberry.field(
        description="One sanction. Role: moderator; or the sanctioned member (their token)."
    )
    async def sanction(self, info: Ctx, id: uuid.UUID) -> SanctionType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            found = await sanctions.get_visible_sanction(session, actor, id)
            return (await _sanctions(session, [found]))[0]

    @strawberry.field(
        description="One appeal and its outcome. Role: moderator; or the member who appealed."
    )
    async def appeal(self, info: Ctx, id: uuid.UUID) -> AppealType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return AppealType.from_pydantic(
                appeals.appeal_out(await appeals.get_appeal(session, actor, id))
            )

    @strawberry.field(description="The member's own profile, sanctions in force and appeals.")
    async def me(self, info: Ctx) -> MeType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return MeType.from_pydantic(MeOut(**await appeals.me(session, actor)))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Warn, mute, suspend or ban a member. Role: moderator.")
    async def issue_sanction(
        self,
        info: Ctx,
        member_id: uuid.UUID,
        kind: SanctionKind,
        reason: str,
        duration_hours: float | None = None,
        review_item_id: uuid.UUID | None = None,
        notify: bool = False,
    ) -> SanctionType:
        actor = await info.context.actor()
        data = parse(
            SanctionIn,
            {
                "kind": kind.value,
                "reason": reason,
                "duration_hours": duration_hours,
                "review_item_id": review_item_id,
                "notify": notify,
            },
        )
        async with info.context.runtime.unit_of_work() as session:
            issued = await sanctions.issue_by_staff(session, actor, member_id, data)
            return (await _sanctions(session, [issued]))[0]

    @strawberry.mutation(description="End a sanction now. Role: moderator.")
    async def lift_sanction(self, info: Ctx, id: uuid.UUID, reason: str) -> SanctionType:
        actor = await info.context.actor()
        data = parse(LiftIn, {"reason": reason})
        async with info.context.runtime.unit_of_work() as session:
            lifted = await sanctions.lift(session, actor, id, data.reason)
            return (await _sanctions(session, [lifted]))[0]

    @strawberry.mutation(description="Add a strike; the ladder may sanction. Role: moderator.")
    async def add_strike(
        self,
        info: Ctx,
        member_id: uuid.UUID,
        reason: str,
        review_item_id: uuid.UUID | None = None,
        notify: bool = False,
    ) -> StrikeAddedType:
        actor = await info.context.actor()
        data = parse(
            StrikeIn, {"reason": reason, "review_item_id": review_item_id, "notify": notify}
        )
        async with info.context.runtime.unit_of_work() as session:
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
        return StrikeAddedType.from_pydantic(
            StrikeAdded(strike=strikes.strike_out(strike, policy), sanction=issued)
        )

    @strawberry.mutation(description="Set the community's strike ladder. Role: manager.")
    async def set_strike_policy(
        self, info: Ctx, community_id: uuid.UUID, ladder: list[LadderStepInput], decay_days: int
    ) -> StrikePolicyType:
        actor = await info.context.actor()
        steps = [step.to_pydantic().model_dump(mode="json") for step in ladder]
        data = parse(StrikePolicy, {"ladder": steps, "decay_days": decay_days})
        async with info.context.runtime.unit_of_work() as session:
            policy = await strikes.put_policy(session, actor, community_id, data)
        return StrikePolicyType.from_pydantic(policy)

    @strawberry.mutation(
        description="Set what members are told; outcomes left out keep their default."
        " Role: manager."
    )
    async def set_member_notices(
        self, info: Ctx, community_id: uuid.UUID, wording: MemberNoticesInput
    ) -> MemberNoticesType:
        actor = await info.context.actor()
        data = parse(MemberNotices, given(wording))
        async with info.context.runtime.unit_of_work() as session:
            wording = await notices.put_notices(session, actor, community_id, data)
        return MemberNoticesType.from_pydantic(wording)

    @strawberry.mutation(description="A staff note on a member. Role: moderator.")
    async def add_member_note(self, info: Ctx, member_id: uuid.UUID, body: str) -> NoteType:
        actor = await info.context.actor()
        data = parse(NoteIn, {"body": body})
        async with info.context.runtime.unit_of_work() as session:
            note = await appeals.add_note(session, actor, member_id, data.body)
            return NoteType.from_pydantic(NoteOut.model_validate(note))

    @strawberry.mutation(description="Appeal one's own sanction (a member token, once).")
    async def appeal_sanction(self, info: Ctx, id: uuid.UUID, statement: str) -> AppealType:
        actor = await info.context.actor()
        data = parse(AppealIn, {"statement": statement})
        async with info.context.runtime.unit_of_work() as session:
            found = await appeals.create_appeal(session, actor, id, data.statement)
            return AppealType.from_pydantic(appeals.appeal_out(found))

    @strawberry.mutation(description="Uphold or overturn an appeal. Role: moderator.")
    async def decide_appeal(
        self, info: Ctx, id: uuid.UUID, outcome: AppealOutcome, note: str, notify: bool = False
    ) -> AppealType:
        actor = await info.context.actor()
        data = parse(AppealDecisionIn, {"outcome": outcome.value, "note": note, "notify": notify})
        async with info.context.runtime.unit_of_work() as session:
            decided = await appeals.decide_appeal(session, actor, id, data)
            return AppealType.from_pydantic(appeals.appeal_out(decided))
