"""The forms of a text that automod matches on, each mapped back to the text as written.

`folded` (what `keyword` rules match): NFKC, casefold, zero-width and bidi controls
removed, non-ASCII confusables folded to Latin (UTS #39 data; ASCII is never re-folded, so
`rn` stays `rn`), diacritics stripped, leetspeak folded, and single letters separated by
single spaces, dots or dashes joined (`f.r.e.e` → `free`).
`plain` (what `regex` rules match): the same without leetspeak and joining.

Every character of a form remembers the character of the original it came from, so a match
is reported as the text was written (`matched` in a test, the review item's evidence).
"""

from __future__ import annotations

import functools
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
JOINERS = frozenset(" .-")


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
            table[char] = targets[0].lower()
    return table


@dataclass(frozen=True, slots=True)
class Form:
    """A form of a text and, per character, the index in the original it came from."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int, original: str) -> str:
        """The original text behind form[start:end]."""
        if start >= end:
            return ""
        return original[self.origin[start] : self.origin[end - 1] + 1]


def plain(text: str) -> Form:
    """NFKC, casefold, invisible characters removed, confusables folded, no diacritics."""
    latin = _latin()
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in INVISIBLE:
            continue
        for piece in unicodedata.normalize("NFKC", char).casefold():
            if piece in INVISIBLE:
                continue
            if not piece.isascii():
                piece = latin.get(piece, piece)
            for part in unicodedata.normalize("NFD", piece):
                if unicodedata.category(part) == "Mn":
                    continue  # a combining mark: the diacritic goes
                out.append(part)
                origin.append(index)
    return Form("".join(out), tuple(origin))


def folded(text: str) -> Form:
    """`plain`, then leetspeak folded and spaced-out single letters joined."""
    base = plain(text)
    chars = base.text.translate(LEET)
    keep = [True] * len(chars)
    # A separator goes when it sits between two single letters: `f.r.e.e`, `f r e e`.
    for i in range(1, len(chars) - 1):
        if chars[i] in JOINERS and _single(chars, i - 1) and _single(chars, i + 1):
            keep[i] = False
    text = "".join(c for c, k in zip(chars, keep, strict=True) if k)
    origin = tuple(o for o, k in zip(base.origin, keep, strict=True) if k)
    return Form(text, origin)


def _single(chars: str, i: int) -> bool:
    """chars[i] is a letter standing alone between separators (or the text's ends)."""
    if not chars[i].isalpha():
        return False
    before = i == 0 or chars[i - 1] in JOINERS
    after = i == len(chars) - 1 or chars[i + 1] in JOINERS
    return before and after
