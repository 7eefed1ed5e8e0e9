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
    dropped = _spacing(chars)
    keep = [i not in dropped for i in range(len(chars))]
    text = "".join(c for c, k in zip(chars, keep, strict=True) if k)
    origin = tuple(o for o, k in zip(base.origin, keep, strict=True) if k)
    return Form(text, origin)


def _spacing(chars: str) -> set[int]:
    """Separators to drop: those inside a run of single letters spaced by one same
    separator (`f.r.e.e`, `f r e e`). Where two runs share a letter (`a b.a.d`), the longer
    one wins and the other keeps what is left of it, so `a` stays a word of its own."""
    runs: list[list[int]] = []
    for separator in SEPARATORS:
        i = 0
        while i < len(chars):
            j = i
            while (
                _single(chars, j)
                and j + 2 < len(chars)
                and chars[j + 1] == separator
                and _single(chars, j + 2)
            ):
                j += 2
            if j > i:
                runs.append(list(range(i, j + 1, 2)))
                i = j + 1
            else:
                i += 1
    used: set[int] = set()
    dropped: set[int] = set()
    for letters in sorted(runs, key=lambda run: (-len(run), run[0])):  # ties: leftmost first
        letters = [i for i in letters if i not in used]  # runs meet at their ends only
        if len(letters) >= 2:
            used.update(letters)
            dropped.update(range(letters[0] + 1, letters[-1], 2))
    return dropped


def _single(chars: str, i: int) -> bool:
    """chars[i] is a letter standing alone between separators (or the text's ends)."""
    if not chars[i].isalpha():
        return False
    before = i == 0 or chars[i - 1] in JOINERS
    after = i == len(chars) - 1 or chars[i + 1] in JOINERS
    return before and after
