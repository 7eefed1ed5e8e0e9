"""The forms of a text that automod matches on, each mapped back to the text as written.

`folded` (what `keyword` rules match): NFKC, casefold, zero-width and bidi controls
removed, non-ASCII confusables folded to Latin (UTS #39 data; ASCII is never re-folded, so
`rn` stays `rn`), diacritics stripped, leetspeak folded, and single letters separated by
single spaces, dots or dashes joined (`f.r.e.e` → `free`; a lone `a` or `i` leading
such letters may be the article or the word's start, and word rules try both).
`plain` (what `regex` rules match): the same without leetspeak and joining.

Every character of a form remembers the character of the original it came from, so a match
is reported as the text was written (`matched` in a test, the review item's evidence).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass

from confusable_homoglyphs import confusables

LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# Zero-width characters and bidi controls: invisible, and a classic way to split a word.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u3164\ufeff\uffa0"
)
# What may separate spaced-out letters; a tuple, so runs are found in the same order in
# every process (a set's order changes with the hash seed).
SEPARATORS = (" ", ".", "-")
JOINERS = frozenset(SEPARATORS)


@functools.cache
def _latin() -> dict[str, str]:
    """Non-ASCII characters that look like ASCII letters or digits → those (lowercase)."""
    table: dict[str, str] = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = [g["c"] for g in glyphs if g["c"].isascii() and g["c"].isalnum()]
        # A letter if it looks like one (Cyrillic capital O is o, not 0), else a digit.
        targets.sort(key=lambda t: (not t.isalpha(), len(t)))
        if targets and len(targets[0]) <= 2:
            target = targets[0].lower()
            # UTS #39 gives capital I and small l one skeleton, `l`: a capital that looks
            # like it is an I (Cyrillic \u0406, Greek \u0399), as a reader takes it.
            table[char] = "i" if target == "l" and char.isupper() else target
    return table


@dataclass(frozen=True, slots=True)
class Form:
    """A form of a text and, per character, the index in the original it came from."""

    text: str
    origin: tuple[int, ...]
    # Where a word may also begin though a letter comes before: after a lone `a` or `i`
    # that leads spaced-out letters (`a w a l l h a c k` is "a wallhack" as often as it is
    # one word). Word-mode keywords may start there.
    soft_starts: frozenset[int] = frozenset()

    def span(self, start: int, end: int, original: str) -> str:
        """The original text behind form[start:end]."""
        if start >= end:
            return ""
        return original[self.origin[start] : self.origin[end - 1] + 1]


_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


def plain(text: str) -> Form:
    """NFKC, casefold, invisible characters removed, confusables folded, no diacritics.

    Runs of ASCII need none of that but lowercasing, and are most of most posts: they are
    folded a run at a time (a backtest reads thousands of posts a second)."""
    if text.isascii():
        return Form(text.lower(), tuple(range(len(text))))
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for run in _ASCII_RUN.finditer(text):
        _fold_chars(text, position, run.start(), out, origin)
        out.append(run.group().lower())
        origin.extend(range(run.start(), run.end()))
        position = run.end()
    _fold_chars(text, position, len(text), out, origin)
    return Form("".join(out), tuple(origin))


def _fold_chars(text: str, start: int, end: int, out: list[str], origin: list[int]) -> None:
    """The non-ASCII characters text[start:end], one at a time."""
    latin = _latin()
    for index in range(start, end):
        char = text[index]
        if char in INVISIBLE:
            continue
        for piece in unicodedata.normalize("NFKC", char):
            if piece in INVISIBLE:
                continue
            if piece.isascii():
                piece = piece.lower()
            else:
                # Look-alikes are listed in their own case: Cyrillic \u0412 looks like B, its
                # lowercase \u0432 like no Latin letter. So the character as written first.
                piece = latin.get(piece) or latin.get(piece.casefold(), piece.casefold())
            for part in unicodedata.normalize("NFD", piece):
                if unicodedata.category(part) == "Mn":
                    continue  # a combining mark: the diacritic goes
                out.append(part)
                origin.append(index)


def folded(text: str, base: Form | None = None) -> Form:
    """`plain` (pass it when it is at hand), then leetspeak folded and spaced-out single
    letters joined."""
    base = base or plain(text)
    chars = base.text.translate(LEET)
    dropped, soft = _spacing(chars)
    if not dropped:
        return Form(chars, base.origin)
    keep = [i not in dropped for i in range(len(chars))]
    text = "".join(c for c, k in zip(chars, keep, strict=True) if k)
    origin = tuple(o for o, k in zip(base.origin, keep, strict=True) if k)
    # A kept character's place in the joined text: its index less the separators before it.
    shift = sorted(dropped)
    starts = frozenset(i - bisect.bisect_left(shift, i) for i in soft)
    return Form(text, origin, starts)


# Per separator: single letters (no letter or digit on either side), two or more, spaced by
# it: `s c a m!` and `(s-c-a-m)` as well as `f.r.e.e`.
_RUNS = {
    separator: re.compile(rf"(?<!\w)[^\W\d_](?:{re.escape(separator)}[^\W\d_](?!\w))+")
    for separator in SEPARATORS
}


# Two single letters, one separator apart: what every run starts with. Most texts have
# none, and this one pass is a quarter of the cost of looking for runs of each separator.
_MAYBE_SPACED = re.compile(rf"\b[^\W\d_][{re.escape(''.join(SEPARATORS))}][^\W\d_]\b")


def _spacing(chars: str) -> tuple[set[int], set[int]]:
    """Separators to drop: those inside a run of single letters spaced by one same
    separator (`f.r.e.e`, `f r e e`). Where two runs share a letter (`a b.a.d`), the longer
    one wins and the other keeps what is left of it, so `a` stays a word of its own. And the
    second letters of runs of three or more led by `a` or `i` (see `Form.soft_starts`)."""
    if not _MAYBE_SPACED.search(chars):
        return set(), set()
    runs = [
        list(range(hit.start(), hit.end(), 2))
        for separator in SEPARATORS
        for hit in _RUNS[separator].finditer(chars)
    ]
    used: set[int] = set()
    dropped: set[int] = set()
    soft: set[int] = set()
    for letters in sorted(runs, key=lambda run: (-len(run), run[0])):  # ties: leftmost first
        letters = [i for i in letters if i not in used]  # runs meet at their ends only
        if len(letters) >= 2:
            used.update(letters)
            dropped.update(range(letters[0] + 1, letters[-1], 2))
            if len(letters) >= 3 and chars[letters[0]] in "ai":
                soft.add(letters[1])
    return dropped, soft
