"""Automod's matchers over one text: keywords (one automaton for a community's terms),
regular expressions (with a timeout), links, mentions and capitals. Pure functions of the
text and the rules; what a match then does (hold, block, mute…) is the service's business.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import ahocorasick
import regex

from app.moderation.text import Form, folded, plain

MAX_PATTERN = 500  # characters of one regex rule pattern
REGEX_TIMEOUT = 0.05  # seconds one pattern may search one text
ACTIONS = ("block", "timeout", "hold", "hide", "flag", "alert")  # strongest first
_WORD = r"[\p{L}\p{N}]"


@dataclass(frozen=True, slots=True)
class Match:
    rule: Hashable  # whatever the caller keys its rules by
    matched: str  # the text as written
    reason: str


def strongest(actions: Iterable[str]) -> str | None:
    """The action that wins when several rules match: block > timeout > hold > hide > flag
    > alert."""
    found = set(actions)
    return next((action for action in ACTIONS if action in found), None)


class KeywordIndex:
    """Every `keyword` rule of a community in one Aho-Corasick automaton (plain terms) and
    one regex (terms with `*`), over the folded form: built once per change of the rules,
    then one pass over a text finds every term of every rule."""

    def __init__(self, terms: Iterable[tuple[Hashable, str, bool]]) -> None:
        """`terms`: (rule, term, whole words only)."""
        self._automaton = ahocorasick.Automaton()
        literal: dict[str, list[tuple[Hashable, bool, str]]] = {}
        wild: list[str] = []
        self._wild: list[tuple[Hashable, bool, str]] = []
        for rule, term, word in terms:
            key = folded(term).text
            if "*" in term:
                parts = [regex.escape(folded(part).text) for part in term.split("*")]
                pattern = r"\p{L}*".join(parts)
                if word:
                    pattern = rf"(?<!{_WORD}){pattern}(?!{_WORD})"
                wild.append(f"(?P<w{len(self._wild)}>{pattern})")
                self._wild.append((rule, word, term))
            elif key:
                literal.setdefault(key, []).append((rule, word, term))
        for key, entries in literal.items():
            self._automaton.add_word(key, (key, entries))
        self._has_literals = bool(literal)
        if self._has_literals:
            self._automaton.make_automaton()
        self._wild_pattern = regex.compile("|".join(wild)) if wild else None

    def find(self, original: str, form: Form | None = None) -> list[Match]:
        form = form or folded(original)
        text = form.text
        found: list[Match] = []
        if self._has_literals:
            for end, (key, entries) in self._automaton.iter(text):
                start = end - len(key) + 1
                begins = _boundary(text, start - 1) or start in form.soft_starts
                whole = begins and _boundary(text, end + 1)
                for rule, word, term in entries:
                    if whole or not word:
                        written = form.span(start, end + 1, original)
                        found.append(Match(rule, written, f"keyword '{term}'"))
        if self._wild_pattern is not None:
            for hit in self._wild_pattern.finditer(text, overlapped=True, timeout=1.0):
                group = hit.lastgroup or ""
                rule, _word, term = self._wild[int(group[1:])]
                written = form.span(hit.start(), hit.end(), original)
                found.append(Match(rule, written, f"keyword '{term}'"))
        return found


def _boundary(text: str, i: int) -> bool:
    return i < 0 or i >= len(text) or not text[i].isalnum()


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """A rule's regex, checked when the rule is written: length-capped, case-insensitive,
    for the `regex` module (which can stop a search that runs too long)."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"a pattern is at most {MAX_PATTERN} characters")
    return compile_pattern_unbounded(pattern)


def compile_pattern_unbounded(pattern: str) -> regex.Pattern[str]:
    """As `compile_pattern`, without the length cap (for patterns joined by the engine)."""
    return regex.compile(pattern, regex.IGNORECASE | regex.V1)


def find_regex(
    rule: Hashable, patterns: Iterable[regex.Pattern[str]], original: str, form: Form | None
) -> Match | None:
    """The first pattern that matches the plain form. A pattern that runs past the timeout
    does not match (the caller may log it): a bad pattern can never stall a post."""
    form = form or plain(original)
    for pattern in patterns:
        try:
            hit = pattern.search(form.text, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            continue
        if hit is not None:
            written = form.span(hit.start(), hit.end(), original)
            return Match(rule, written, f"regex '{pattern.pattern}'")
    return None


_URL = re.compile(
    r"(?:https?://)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?(?:/[^\s)\]>\"']*)?",
    re.IGNORECASE,
)
_INVITE_HOSTS = {"discord.gg", "discord.com", "discordapp.com"}


def links(text: str) -> list[tuple[str, str]]:
    """(as written, host) of every link in the text: bare, with a scheme, or in Markdown."""
    found = []
    for hit in _URL.finditer(text):
        written = hit.group(0)
        url = written if "://" in written else f"http://{written}"
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        if host:
            found.append((written, host))
    return found


def _under(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def find_link(
    rule: Hashable,
    text: str,
    *,
    block_domains: Iterable[str] = (),
    allow_domains: Iterable[str] = (),
    block_invites: bool = False,
) -> Match | None:
    blocked = [d.lower().strip(".") for d in block_domains]
    allowed = [d.lower().strip(".") for d in allow_domains]
    for written, host in links(text):
        if _under(host, blocked):
            return Match(rule, written, f"link to {host}")
        if allowed and not _under(host, allowed):
            return Match(rule, written, f"link to {host}, not an allowed domain")
        if block_invites and _is_invite(written, host):
            return Match(rule, written, "Discord invite")
    return None


def _is_invite(written: str, host: str) -> bool:
    if host not in _INVITE_HOSTS:
        return False
    path = urlsplit(written if "://" in written else f"http://{written}").path
    return (host == "discord.gg" and len(path) > 1) or path.startswith("/invite/")


_MENTION = re.compile(r"(?<![\w@])@[\w.-]{1,64}")


def find_mentions(rule: Hashable, text: str, maximum: int) -> Match | None:
    mentions = _MENTION.findall(text)
    if len(mentions) > maximum:
        return Match(rule, " ".join(mentions), f"{len(mentions)} mentions (at most {maximum})")
    return None


def find_caps(rule: Hashable, text: str, min_length: int, max_ratio: float) -> Match | None:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < min_length:
        return None
    upper = sum(1 for c in letters if c.isupper())
    ratio = upper / len(letters)
    if ratio > max_ratio:
        return Match(rule, text[:80], f"{ratio:.0%} capitals (at most {max_ratio:.0%})")
    return None
