"""A community's enabled rules, compiled once per version, and a post screened against them.

Compiling (the keyword automaton, the regexes) is the costly part, so each process keeps
the compiled rules of each community by `communities.automod_version`, which every change
of the rules bumps in its transaction: a writer reads the version with the row it already
reads (the community, or the thread it posts in), and compiles again only when it moved.
Replicas never serve stale rules, and no post pays for a check.

Screening is one pass of the text rules (`screening.RuleSet`), then what a stored rule adds:
exemptions by staff role, the categories it is limited to, and toxicity from the scorer
(asked only when a toxicity rule applies, once per text).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select

from app.communities.models import Community
from app.core import metrics
from app.core.auth import Actor, Role
from app.core.runtime import Runtime
from app.moderation.activity import member_activity
from app.moderation.matching import strongest
from app.moderation.models import AutomodRule
from app.moderation.screening import ACTIVITY_KINDS, MemberActivity, RuleSet, RuleSpec
from app.moderation.toxicity import Score, Scorer

log = structlog.get_logger("hearth.moderation")

MAX_COMMUNITIES = 2_000  # compiled rule sets kept per process


@dataclass(frozen=True, slots=True)
class StoredRule:
    """What screening's outcome needs of a rule beyond its matcher."""

    id: uuid.UUID
    name: str
    kind: str
    action: str
    action_config: dict[str, object]
    severity: int
    exempt_roles: tuple[Role, ...]
    category_ids: frozenset[uuid.UUID]
    message: str | None

    def applies(self, actor: Actor | None, category_id: uuid.UUID | None) -> bool:
        if self.category_ids and category_id not in self.category_ids:
            return False
        if actor is not None and actor.role is not None:  # staff
            return not any(actor.role.includes(role) for role in self.exempt_roles)
        return True

    @classmethod
    def of(cls, rule: AutomodRule) -> StoredRule:
        return cls(
            id=rule.id,
            name=rule.name,
            kind=rule.kind,
            action=rule.action,
            action_config=dict(rule.action_config or {}),
            severity=rule.severity,
            exempt_roles=tuple(Role(r) for r in rule.exempt_roles),
            category_ids=frozenset(uuid.UUID(c) for c in rule.category_ids),
            message=rule.message,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    rule: StoredRule
    matched: str
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The strongest action (`allow` when nothing matched), every hit, the score."""

    decision: str
    hits: list[Hit] = field(default_factory=list)
    score: Score | None = None

    @property
    def deciding(self) -> Hit | None:
        """The hit whose rule decided (its message is what the member is told)."""
        return next((h for h in self.hits if h.rule.action == self.decision), None)


class Compiled:
    """One version of a community's enabled rules."""

    def __init__(self, rules: Sequence[AutomodRule]) -> None:
        self.rules = {rule.id: StoredRule.of(rule) for rule in rules}
        self.text = RuleSet(
            RuleSpec(rule.id, rule.kind, rule.config, rule.action) for rule in rules
        )
        self.needs_activity = any(rule.kind in ACTIVITY_KINDS for rule in rules)
        self.toxicity = [
            (self.rules[rule.id], float(rule.config["threshold"]))
            for rule in rules
            if rule.kind == "toxicity"
        ]

    async def screen(
        self,
        text: str,
        *,
        actor: Actor | None,
        category_id: uuid.UUID | None,
        activity: MemberActivity | None,
        scorer: Scorer,
    ) -> Verdict:
        hits = [
            Hit(self.rules[spec.id], match.matched, match.reason)  # type: ignore[index]
            for spec, match in self.text.screen(text, activity).matches
            if self.rules[spec.id].applies(actor, category_id)  # type: ignore[index]
        ]
        score = None
        toxicity = [(r, t) for r, t in self.toxicity if r.applies(actor, category_id)]
        if toxicity:
            score = await scorer.score(text)
            if score.value is not None:
                hits += [
                    Hit(rule, "", f"toxicity {score.value:.2f} ≥ {threshold:g}")
                    for rule, threshold in toxicity
                    if score.value >= threshold
                ]
        return Verdict(strongest(h.rule.action for h in hits) or "allow", hits, score)


class Rulebook:
    """Per process: each community's compiled rules, by version (see the module's doc).
    Rules and a member's activity are read through short sessions of their own, so that
    a writer's hot path (app.core.statements) needs no session of its own for them."""

    def __init__(self, runtime: Runtime, scorer: Scorer) -> None:
        self.runtime = runtime
        self.scorer = scorer
        self._compiled: OrderedDict[uuid.UUID, tuple[int, Compiled]] = OrderedDict()
        # One compilation per community at a time: the posts that arrive together after
        # a rule change wait for it rather than each reading and compiling the rules.
        self._compiling: dict[uuid.UUID, asyncio.Task[Compiled]] = {}

    async def rules(self, community_id: uuid.UUID, version: int) -> Compiled:
        """The rules of `version`, or of a later one (what a later version says is no
        less true for a writer that read an earlier one)."""
        while True:
            kept = self._compiled.get(community_id)
            if kept is not None and kept[0] >= version:
                self._compiled.move_to_end(community_id)
                return kept[1]
            task = self._compiling.get(community_id)
            started_here = task is None
            if task is None:
                task = asyncio.ensure_future(self._compile_once(community_id))
                self._compiling[community_id] = task
            # Shielded: a waiter that gives up does not cancel the others' compilation.
            compiled = await asyncio.shield(task)
            if started_here:
                return compiled  # read after this writer's version: as new as any
            # One already under way may have read the rules before this version: look
            # again (that compilation is no longer listed, so the next one starts).

    async def _compile_once(self, community_id: uuid.UUID) -> Compiled:
        try:
            compiled, version = await self._compile(community_id)
        finally:
            # Unlisted before the task counts as done: whoever finds it finished then
            # starts a compilation of their own rather than awaiting this one again.
            if self._compiling.get(community_id) is asyncio.current_task():
                del self._compiling[community_id]
        self._compiled[community_id] = (version, compiled)
        self._compiled.move_to_end(community_id)
        while len(self._compiled) > MAX_COMMUNITIES:
            self._compiled.popitem(last=False)
        return compiled

    async def _compile(self, community_id: uuid.UUID) -> tuple[Compiled, int]:
        """The community's enabled rules compiled, and the version they are (at least)."""
        async with self.runtime.read_session() as session:
            # The version first: rules read after it are at least that new.
            version = await session.scalar(
                select(Community.automod_version).where(Community.id == community_id)
            )
            rows = await session.scalars(
                select(AutomodRule).where(
                    AutomodRule.community_id == community_id, AutomodRule.enabled.is_(True)
                )
            )
            return Compiled(list(rows)), version or 0

    async def screen(
        self,
        text: str,
        *,
        community_id: uuid.UUID,
        version: int,
        actor: Actor | None,
        category_id: uuid.UUID | None,
        member_id: uuid.UUID | None = None,
    ) -> Verdict:
        """Screen a text as posted by `actor` (a member, staff, or None for a dry run) in
        a category. Flood and new-member rules read the member's activity, once."""
        compiled = await self.rules(community_id, version)
        if not compiled.rules:
            return Verdict("allow")
        member_id = member_id or (actor.member_id if actor is not None else None)
        activity = None
        if member_id is not None and compiled.needs_activity:
            async with self.runtime.read_session() as session:
                activity = await member_activity(
                    session,
                    member_id,
                    compiled.text.flood_windows,
                    compiled.text.posts_needed,
                )
        verdict = await compiled.screen(
            text, actor=actor, category_id=category_id, activity=activity, scorer=self.scorer
        )
        if verdict.score is not None and verdict.score.skipped:
            # The post goes on without its toxicity rules; the skip is on record.
            metrics.AUTOMOD_TOXICITY_SKIPPED.labels(provider=verdict.score.provider).inc()
            log.warning(
                "automod_toxicity_skipped",
                community_id=str(community_id),
                provider=verdict.score.provider,
                model=verdict.score.model,
                reason=verdict.score.skipped,
            )
        return verdict
