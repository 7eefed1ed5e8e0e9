"""A community's text rules compiled once, and one text screened against all of them.

Compiling is the costly part (the keyword automaton, the regexes), so a community's
`RuleSet` is built when its rules change and reused for every post; screening a text then
folds it once, makes one pass of the automaton and runs each other rule once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.moderation.matching import (
    KeywordIndex,
    Match,
    compile_pattern,
    find_caps,
    find_link,
    find_mentions,
    find_regex,
    strongest,
)
from app.moderation.text import folded, plain

TEXT_KINDS = ("keyword", "regex", "link", "mentions", "caps")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What screening needs of a rule (the stored rule has more: exemptions, messages)."""

    id: Hashable
    kind: str
    config: dict[str, Any]
    action: str


@dataclass(frozen=True, slots=True)
class Screening:
    """`decision`: the strongest action of the matching rules, or `allow`."""

    decision: str
    matches: list[tuple[RuleSpec, Match]] = field(default_factory=list)


class RuleSet:
    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        self.rules = {rule.id: rule for rule in rules if rule.kind in TEXT_KINDS}
        self._keywords = KeywordIndex(
            (rule.id, term, rule.config.get("match", "word") == "word")
            for rule in self.rules.values()
            if rule.kind == "keyword"
            for term in rule.config["terms"]
        )
        self._regexes = [
            (rule.id, [compile_pattern(p) for p in rule.config["patterns"]])
            for rule in self.rules.values()
            if rule.kind == "regex"
        ]

    def screen(self, text: str) -> Screening:
        found: dict[Hashable, Match] = {}
        for match in self._keywords.find(text, folded(text)):
            found.setdefault(match.rule, match)  # a rule's first match is its evidence
        form = plain(text)
        for rule_id, patterns in self._regexes:
            if (match := find_regex(rule_id, patterns, text, form)) is not None:
                found.setdefault(rule_id, match)
        for rule in self.rules.values():
            match = self._other(rule, text)
            if match is not None:
                found.setdefault(rule.id, match)
        matches = [(self.rules[rule_id], match) for rule_id, match in found.items()]
        decision = strongest(rule.action for rule, _ in matches) or "allow"
        return Screening(decision, matches)

    @staticmethod
    def _other(rule: RuleSpec, text: str) -> Match | None:
        config = rule.config
        if rule.kind == "link":
            return find_link(
                rule.id,
                text,
                block_domains=config.get("block_domains", ()),
                allow_domains=config.get("allow_domains", ()),
                block_invites=config.get("block_invites", False),
            )
        if rule.kind == "mentions":
            return find_mentions(rule.id, text, config["max"])
        if rule.kind == "caps":
            return find_caps(rule.id, text, config["min_length"], config["max_ratio"])
        return None
