"""A community's text rules compiled once, and one text screened against all of them.

Compiling is the costly part (the keyword automaton, the regexes), so a community's
`RuleSet` is built when its rules change and reused for every post; screening a text then
folds it once, makes one pass of the automaton and runs each other rule once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import regex

from app.moderation.matching import (
    REGEX_TIMEOUT,
    KeywordIndex,
    Match,
    compile_pattern,
    compile_pattern_unbounded,
    find_caps,
    find_link,
    find_mentions,
    find_regex,
    links,
    strongest,
)
from app.moderation.text import folded, plain

TEXT_KINDS = ("keyword", "regex", "link", "mentions", "caps")
ACTIVITY_KINDS = ("flood", "new_member")  # need the member's recent activity


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What screening needs of a rule (the stored rule has more: exemptions, messages)."""

    id: Hashable
    kind: str
    config: dict[str, Any]
    action: str


@dataclass(frozen=True, slots=True)
class MemberActivity:
    """What `flood` and `new_member` rules read of the member posting: read once per post,
    for the windows the rule set asks (`RuleSet.flood_windows`)."""

    age_hours: float
    visible_posts: int
    posts_within: dict[int, int]  # window in seconds -> posts in it before this one


@dataclass(frozen=True, slots=True)
class Screening:
    """`decision`: the strongest action of the matching rules, or `allow`."""

    decision: str
    matches: list[tuple[RuleSpec, Match]] = field(default_factory=list)


class RuleSet:
    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        self.rules = {
            rule.id: rule for rule in rules if rule.kind in (*TEXT_KINDS, *ACTIVITY_KINDS)
        }
        # What the new-member rules need of a member's visible posts (counted no further).
        self.posts_needed = max(
            (r.config.get("min_posts", 0) for r in self.rules.values() if r.kind == "new_member"),
            default=0,
        )
        self.flood_windows = sorted(
            {r.config["window_seconds"] for r in self.rules.values() if r.kind == "flood"}
        )
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
        self._any_regex = _any_of([p for _, patterns in self._regexes for p in patterns])
        # Sorted once by kind: a post meets only the rules that need more than the text.
        self._others = [r for r in self.rules.values() if r.kind in ("link", "mentions", "caps")]
        self._activity = [r for r in self.rules.values() if r.kind in ACTIVITY_KINDS]

    def screen(self, text: str, activity: MemberActivity | None = None) -> Screening:
        """Every rule against the text; activity rules only when there is a member's
        activity to read (staff and tests without a member skip them)."""
        found: dict[Hashable, Match] = {}
        form = plain(text)
        for match in self._keywords.find(text, folded(text, form)):
            found.setdefault(match.rule, match)  # a rule's first match is its evidence
        if self._regexes and _may_match(self._any_regex, form.text):
            for rule_id, patterns in self._regexes:
                if (match := find_regex(rule_id, patterns, text, form)) is not None:
                    found.setdefault(rule_id, match)
        for rule in self._others if activity is None else (*self._others, *self._activity):
            match = self._other(rule, text, activity)
            if match is not None:
                found.setdefault(rule.id, match)
        matches = [(self.rules[rule_id], match) for rule_id, match in found.items()]
        decision = strongest(rule.action for rule, _ in matches) or "allow"
        return Screening(decision, matches)

    @staticmethod
    def _other(rule: RuleSpec, text: str, activity: MemberActivity | None) -> Match | None:
        config = rule.config
        if rule.kind in ACTIVITY_KINDS:
            return None if activity is None else _activity(rule, text, activity)
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


def _activity(rule: RuleSpec, text: str, activity: MemberActivity) -> Match | None:
    config = rule.config
    if rule.kind == "flood":
        # `max_posts` posts in the window pass; the next one matches.
        window, limit = config["window_seconds"], config["max_posts"]
        recent = activity.posts_within.get(window, 0)
        if recent >= limit:
            return Match(rule.id, "", f"{recent + 1} posts in {window} s (at most {limit})")
        return None
    young = activity.age_hours < config.get("min_age_hours", 0)
    few = activity.visible_posts < config.get("min_posts", 0)
    if not (young or few):
        return None
    if config.get("applies_to", "all") == "links":
        found = links(text)
        if not found:
            return None
        return Match(rule.id, found[0][0], "a link from a new member")
    return Match(rule.id, "", "a new member")


# A backreference counts groups, which an alternation of several patterns renumbers.
_BACKREFERENCE = regex.compile(r"\\[1-9]|\(\?P=|\\g<")


def _any_of(patterns: list[regex.Pattern[str]]) -> regex.Pattern[str] | None:
    """One alternation of every regex rule's patterns: a post that none of them matches
    (most posts) costs one search instead of one per pattern. None when the patterns
    cannot be joined (a backreference), or there are none."""
    if not patterns or any(_BACKREFERENCE.search(p.pattern) for p in patterns):
        return None
    try:
        return compile_pattern_unbounded("|".join(f"(?:{p.pattern})" for p in patterns))
    except regex.error:
        return None


def _may_match(combined: regex.Pattern[str] | None, text: str) -> bool:
    """Whether some pattern may match: the joined search's answer, or yes when there is
    none or it ran out of time (the patterns are then searched one by one, each timed)."""
    if combined is None:
        return True
    try:
        return combined.search(text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        return True
