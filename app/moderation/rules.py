"""Automod rules: writing them (role moderator), and the dry run of a text against them.

Every write bumps the community's `automod_version` in its transaction, so every process
compiles the new rules before its next post (see `rulebook`), and is audited.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.communities.models import Community
from app.core import audit
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import NotFound, RuleViolation
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.forum.categories import category_ids as categories_of
from app.forum.models import Member
from app.moderation.matching import compile_pattern
from app.moderation.models import AutomodRule
from app.moderation.rulebook import Rulebook, Verdict
from app.moderation.schemas import (
    CONFIGS,
    AutomodMatch,
    AutomodTestIn,
    AutomodTestOut,
    RuleKind,
    RuleOut,
    RuleUpdate,
)

ORDER = Keyset(((AutomodRule.created_at, "asc"), (AutomodRule.id, "asc")))
AUDITED = ("name", "kind", "action", "severity", "enabled", "exempt_roles", "category_ids")


class InvalidPattern(RuleViolation):
    slug = "invalid-pattern"
    title = "Invalid regular expression"
    code = "INVALID_PATTERN"


class ConfigMismatch(RuleViolation):
    slug = "rule-config-mismatch"
    title = "Config of another kind"
    code = "RULE_CONFIG_MISMATCH"


async def create_rule(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, data: Any
) -> AutomodRule:
    """`data`: one of the RuleCreate bodies."""
    actor.require(Role.moderator)
    community = await communities.get_community(session, actor, community_id)
    config = data.config.model_dump(mode="json")
    _check_patterns(data.kind, config)
    categories = await _check_categories(session, community_id, data.category_ids)
    now = utcnow()
    rule = AutomodRule(
        org_id=actor.org_id,
        community_id=community.id,
        name=data.name,
        kind=data.kind,
        config=config,
        action=data.action.value,
        action_config=_action_config(data.action.value, data.action_config),
        severity=data.severity,
        enabled=data.enabled,
        exempt_roles=[role.value for role in data.exempt_roles],
        category_ids=categories,
        message=data.message,
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    await session.flush()
    await _changed(session, actor, rule, "automod_rule.created", None, _state(rule))
    return rule


async def list_rules(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, params: PageParams
) -> Window[AutomodRule]:
    actor.require(Role.moderator)
    await communities.get_community(session, actor, community_id)
    stmt = select(AutomodRule).where(AutomodRule.community_id == community_id)
    return await paginate(session, stmt, ORDER, params)


async def get_rule(session: AsyncSession, actor: Actor, rule_id: uuid.UUID) -> AutomodRule:
    actor.require(Role.moderator)
    rule = await session.scalar(
        select(AutomodRule).where(AutomodRule.id == rule_id, AutomodRule.org_id == actor.org_id)
    )
    if rule is None:
        raise NotFound("No such automod rule.")
    return rule


async def update_rule(
    session: AsyncSession, actor: Actor, rule_id: uuid.UUID, data: RuleUpdate
) -> AutomodRule:
    rule = await get_rule(session, actor, rule_id)
    before = _state(rule)
    sent = data.model_fields_set
    if data.config is not None:
        config = data.config.model_dump(mode="json")
        expected = CONFIGS[RuleKind(rule.kind)]
        if not isinstance(data.config, expected):
            # The body's config fits another kind (no schema can say which the rule has).
            try:
                config = expected.model_validate(data.config.model_dump()).model_dump(mode="json")
            except ValueError as exc:
                raise ConfigMismatch(
                    f"This is a {rule.kind} rule; its config is {_shape(rule.kind)}.",
                    errors=[{"loc": ["body", "config"], "message": str(exc), "type": "kind"}],
                ) from None
        _check_patterns(rule.kind, config)
        rule.config = config
    for name in ("name", "severity", "enabled"):
        if name in sent:
            setattr(rule, name, getattr(data, name))
    if "message" in sent:
        rule.message = data.message
    if data.action is not None:
        rule.action = data.action.value
    if "action_config" in sent:
        rule.action_config = _action_config(rule.action, data.action_config)
    elif data.action is not None:  # a timeout keeps its minutes; other actions have none
        kept = rule.action_config if rule.action == "timeout" else None
        rule.action_config = _action_config(rule.action, kept or None)
    if data.exempt_roles is not None:
        rule.exempt_roles = [role.value for role in data.exempt_roles]
    if data.category_ids is not None:
        rule.category_ids = await _check_categories(session, rule.community_id, data.category_ids)
    rule.updated_at = utcnow()
    await session.flush()
    old, new = audit.changes(before, _state(rule))
    await _changed(session, actor, rule, "automod_rule.updated", old, new)
    return rule


async def delete_rule(session: AsyncSession, actor: Actor, rule_id: uuid.UUID) -> None:
    rule = await get_rule(session, actor, rule_id)
    await session.delete(rule)
    await session.flush()
    await _changed(session, actor, rule, "automod_rule.deleted", _state(rule), None)


async def test_text(
    session: AsyncSession,
    actor: Actor,
    rulebook: Rulebook,
    community_id: uuid.UUID,
    data: AutomodTestIn,
) -> Verdict:
    """A dry run: the community's enabled rules against a text, as a member's post (or as
    this member's, with their activity), changing nothing."""
    actor.require(Role.moderator)
    community = await communities.get_community(session, actor, community_id)
    if data.member_id is not None:
        member = await session.scalar(
            select(Member.id).where(
                Member.id == data.member_id, Member.community_id == community_id
            )
        )
        if member is None:
            raise NotFound(
                "No such member in this community.",
                errors=[{"loc": ["body", "member_id"], "message": "not found", "type": "ref"}],
            )
    return await rulebook.screen(
        data.text,
        community_id=community.id,
        version=community.automod_version,
        actor=None,  # screened as a member posts: no staff exemption
        category_id=data.category_id,
        member_id=data.member_id,
    )


def _check_patterns(kind: str, config: dict[str, Any]) -> None:
    if kind != "regex":
        return
    for n, pattern in enumerate(config["patterns"]):
        try:
            compile_pattern(pattern)
        except Exception as exc:  # regex.error, or the length cap
            raise InvalidPattern(
                f"Pattern {n + 1} is not a valid regular expression: {exc}.",
                errors=[
                    {
                        "loc": ["body", "config", "patterns", str(n)],
                        "message": str(exc),
                        "type": "regex",
                    }
                ],
            ) from None


async def _check_categories(
    session: AsyncSession, community_id: uuid.UUID, wanted: list[uuid.UUID]
) -> list[str]:
    if not wanted:
        return []
    missing = set(wanted) - await categories_of(session, community_id)
    if missing:
        raise NotFound(
            "No such category in this community.",
            errors=[{"loc": ["body", "category_ids"], "message": "not found", "type": "ref"}],
        )
    return [str(c) for c in dict.fromkeys(wanted)]


def _action_config(action: str, given: Any) -> dict[str, Any]:
    """`{minutes}` for a timeout (60 unless given); nothing for the other actions."""
    if action != "timeout":
        if given is not None:
            raise RuleViolation(
                "action_config is only for the `timeout` action.",
                errors=[
                    {
                        "loc": ["body", "action_config"],
                        "message": "not for this action",
                        "type": "action_config",
                    }
                ],
            )
        return {}
    if given is None:
        return {"minutes": 60}
    return given.model_dump() if hasattr(given, "model_dump") else dict(given)


def _shape(kind: str) -> str:
    fields = CONFIGS[RuleKind(kind)].model_fields
    return "{" + ", ".join(fields) + "}"


def _state(rule: AutomodRule) -> dict[str, Any]:
    """What the audit log keeps of a rule: its settings, not its terms or patterns (which
    can quote what members wrote)."""
    return {name: getattr(rule, name) for name in AUDITED}


async def _changed(
    session: AsyncSession,
    actor: Actor,
    rule: AutomodRule,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await session.execute(
        update(Community)
        .where(Community.id == rule.community_id)
        .values(automod_version=Community.automod_version + 1)
    )
    await audit.record(
        session,
        actor,
        action,
        org_id=rule.org_id,
        target_type="automod_rule",
        target_id=rule.id,
        community_id=rule.community_id,
        before=before,
        after=after,
    )


def rule_out(rule: AutomodRule) -> RuleOut:
    out = RuleOut.model_validate(rule)
    return out.model_copy(update={"action_config": rule.action_config or None})


def verdict_out(verdict: Verdict) -> AutomodTestOut:
    deciding = verdict.deciding
    return AutomodTestOut(
        decision=verdict.decision,  # type: ignore[arg-type]
        matches=[
            AutomodMatch(
                rule_id=hit.rule.id,
                name=hit.rule.name,
                kind=hit.rule.kind,  # type: ignore[arg-type]
                action=hit.rule.action,  # type: ignore[arg-type]
                matched=hit.matched,
                reason=hit.reason,
            )
            for hit in verdict.hits
        ],
        message=(deciding.rule.message or deciding.rule.name) if deciding else None,
    )
