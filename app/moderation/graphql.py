"""GraphQL: automod rules, the dry run and the backtest, through the same services as REST.
Output types derive from the REST schemas; inputs are validated by the REST schemas too."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry.experimental import pydantic as derived
from strawberry.scalars import JSON
from strawberry.types import Info

from app.core.auth import Role
from app.core.graphql import Context, page, parse, plain
from app.moderation import backtest, rules
from app.moderation.rules import rule_out, verdict_out
from app.moderation.schemas import (
    AutomodMatch,
    AutomodTestIn,
    AutomodTestOut,
    BacktestIn,
    BacktestOut,
    BacktestSample,
    RuleAction,
    RuleCreate,
    RuleKind,
    RuleOut,
    RuleUpdate,
)

Ctx = Info[Context, None]


@derived.type(model=RuleOut, all_fields=True, name="AutomodRule")
class RuleType:
    config: JSON = strawberry.field(description="The kind's settings, as in REST.")
    action_config: JSON | None = strawberry.field(description="`{minutes}` for `timeout`.")


@derived.type(model=AutomodMatch, all_fields=True, name="AutomodMatch")
class MatchType:
    pass


@derived.type(model=AutomodTestOut, all_fields=True, name="AutomodTestResult")
class TestResultType:
    pass


@derived.type(model=BacktestSample, all_fields=True, name="BacktestSample")
class SampleType:
    pass


@derived.type(model=BacktestOut, all_fields=True, name="BacktestResult")
class BacktestType:
    pass


@strawberry.type
class RulePage:
    items: list[RuleType]
    next_cursor: str | None


@strawberry.input(description="A rule; `config` is its kind's, as in REST.")
class RuleInput:
    name: str
    kind: RuleKind
    config: JSON
    action: RuleAction
    action_config: JSON | None = strawberry.UNSET
    severity: int | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    exempt_roles: list[Role] | None = strawberry.UNSET
    category_ids: list[uuid.UUID] | None = strawberry.UNSET
    message: str | None = strawberry.UNSET


@strawberry.input(description="The fields to change; the kind cannot change.")
class RulePatch:
    name: str | None = strawberry.UNSET
    config: JSON | None = strawberry.UNSET
    action: RuleAction | None = strawberry.UNSET
    action_config: JSON | None = strawberry.UNSET
    severity: int | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    exempt_roles: list[Role] | None = strawberry.UNSET
    category_ids: list[uuid.UUID] | None = strawberry.UNSET
    message: str | None = strawberry.UNSET


def _rule(rule: Any) -> RuleType:
    return RuleType.from_pydantic(rule_out(rule))


def _ids(data: dict[str, Any]) -> dict[str, Any]:
    if "category_ids" in data and data["category_ids"] is not None:
        data["category_ids"] = [str(c) for c in data["category_ids"]]
    return data


@strawberry.type
class Query:
    @strawberry.field(description="A community's automod rules, oldest first. Role: moderator.")
    async def automod_rules(
        self, info: Ctx, community_id: uuid.UUID, first: int = 20, after: str | None = None
    ) -> RulePage:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            window = await rules.list_rules(session, actor, community_id, page(first, after))
        return RulePage(items=[_rule(r) for r in window.items], next_cursor=window.next_cursor)

    @strawberry.field(description="One automod rule. Role: moderator.")
    async def automod_rule(self, info: Ctx, id: uuid.UUID) -> RuleType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            return _rule(await rules.get_rule(session, actor, id))

    @strawberry.field(
        description="A dry run of the community's enabled rules on a text. Role: moderator."
    )
    async def automod_test(
        self,
        info: Ctx,
        community_id: uuid.UUID,
        text: str,
        member_id: uuid.UUID | None = None,
        category_id: uuid.UUID | None = None,
    ) -> TestResultType:
        actor = await info.context.actor()
        data = parse(
            AutomodTestIn, {"text": text, "member_id": member_id, "category_id": category_id}
        )
        runtime = info.context.runtime
        async with runtime.read_session() as session:
            verdict = await rules.test_text(session, actor, runtime.automod, community_id, data)
        return TestResultType.from_pydantic(verdict_out(verdict))

    @strawberry.field(
        description="What a rule would have matched in the last `days` (≤ 90). Role: moderator."
    )
    async def automod_backtest(self, info: Ctx, id: uuid.UUID, days: int = 30) -> BacktestType:
        actor = await info.context.actor()
        data = parse(BacktestIn, {"days": days})
        runtime = info.context.runtime
        async with runtime.read_session() as session:
            found = await backtest.backtest(session, actor, runtime.automod, id, data.days)
        return BacktestType.from_pydantic(found.out())


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add an automod rule. Role: moderator.")
    async def create_automod_rule(
        self, info: Ctx, community_id: uuid.UUID, input: RuleInput
    ) -> RuleType:
        actor = await info.context.actor()
        data = parse(RuleCreate, _ids(plain(input)))
        async with info.context.runtime.unit_of_work() as session:
            return _rule(await rules.create_rule(session, actor, community_id, data))

    @strawberry.mutation(description="Change an automod rule. Role: moderator.")
    async def update_automod_rule(self, info: Ctx, id: uuid.UUID, input: RulePatch) -> RuleType:
        actor = await info.context.actor()
        data = parse(RuleUpdate, _ids(plain(input)))
        async with info.context.runtime.unit_of_work() as session:
            return _rule(await rules.update_rule(session, actor, id, data))

    @strawberry.mutation(description="Delete an automod rule. Role: moderator.")
    async def delete_automod_rule(self, info: Ctx, id: uuid.UUID) -> bool:
        actor = await info.context.actor()
        async with info.context.runtime.unit_of_work() as session:
            await rules.delete_rule(session, actor, id)
        return True
