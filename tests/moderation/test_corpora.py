"""Automod's keyword rules against two corpora (`corpus/`): evasions of every term, which
must all be caught by the right rule, and ordinary gamer chat, Scunthorpe traps included,
which must (almost) never match. Pure functions: no database."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from itertools import pairwise
from pathlib import Path

from app.moderation.screening import RuleSet, RuleSpec

CORPUS = Path(__file__).parent / "corpus"
TECHNIQUES = (
    "zero_width",
    "bidi",
    "homoglyph",
    "fullwidth",
    "diacritics",
    "leet",
    "spacing",
    "mixed_case",
    "combined",
)
MAX_FALSE_POSITIVES = 0.001  # of the benign lines

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_SINGLE = r"[^\s.\-]"  # one character of a spaced-out run
# What each technique leaves in a text: a line must show the mark of the technique it is
# tagged with (a combined line, at least two), or it would not test what it says.
MARKS = {
    "zero_width": lambda t: any(c in "\u200b\u200c\u200d\u2060\ufeff" for c in t),
    "bidi": lambda t: any(c in BIDI_CONTROLS for c in t),
    "homoglyph": lambda t: any(
        unicodedata.name(c, "").startswith(("CYRILLIC", "GREEK")) for c in t
    ),
    "fullwidth": lambda t: any("\uff01" <= c <= "\uff5e" or c == "\u3000" for c in t),
    "diacritics": lambda t: any(
        unicodedata.combining(d) for c in t for d in unicodedata.normalize("NFD", c)
    ),
    "leet": lambda t: any(c in "013457@$" for c in unicodedata.normalize("NFKC", t)),
    "spacing": lambda t: (
        re.search(rf"(?<![^\W_]){_SINGLE}([ .\-]){_SINGLE}(?:\1{_SINGLE})+(?![^\W_])", t)
        is not None
    ),
    "mixed_case": lambda t: any(a.islower() and b.isupper() for a, b in pairwise(t)),
}


def _lines(name: str) -> list[str]:
    """The file's lines, without blank lines and `#` comments; `\\uXXXX` escapes (how the
    invisible characters are written) decoded."""
    text = (CORPUS / name).read_text(encoding="utf-8")
    return [
        _ESCAPE.sub(lambda m: chr(int(m[1], 16)), line)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


TERMS = _lines("terms.txt")
EVASIONS = [tuple(line.split("\t")) for line in _lines("evasion.txt")]
BENIGN = _lines("benign.txt")
RULES = RuleSet(
    RuleSpec(term, "keyword", {"terms": [term], "match": "word"}, "hold") for term in TERMS
)


def test_the_corpora_are_big_enough_and_well_formed() -> None:
    assert len(TERMS) == len(set(TERMS)) and 40 <= len(TERMS) <= 80
    assert len(EVASIONS) >= 200
    assert all(len(line) == 3 for line in EVASIONS), [x for x in EVASIONS if len(x) != 3]
    assert {term for term, _, _ in EVASIONS} <= set(TERMS)
    counts = Counter(technique for _, technique, _ in EVASIONS)
    assert set(counts) == set(TECHNIQUES), counts
    assert min(counts.values()) >= 10, counts
    assert len(BENIGN) >= 2000
    assert len(BENIGN) == len(set(BENIGN)), "benign lines repeat"
    assert all(3 <= len(line.split()) <= 25 for line in BENIGN)


def test_every_evasion_line_shows_its_technique() -> None:
    wrong = []
    for term, technique, text in EVASIONS:
        marks = [name for name, shows in MARKS.items() if shows(text)]
        shown = len(marks) >= 2 if technique == "combined" else technique in marks
        # Mixed case is the only technique that leaves the term as written but for case.
        written = unicodedata.normalize("NFC", text)
        verbatim = term in (written if technique == "mixed_case" else written.casefold())
        if not shown or verbatim:
            wrong.append(f"{term!r} ({technique}, shows {marks}): {text!r}")
    assert not wrong, "\n".join(wrong)


def test_every_evasion_is_caught_by_its_terms_rule() -> None:
    missed = []
    for term, technique, text in EVASIONS:
        screening = RULES.screen(text)
        matched = {rule.id: match.matched for rule, match in screening.matches}
        if term not in matched:
            missed.append(f"{term!r} ({technique}): {text} {text!r}, matched {matched}")
    assert not missed, f"{len(missed)} of {len(EVASIONS)} evasions missed:\n" + "\n".join(missed)


def test_ordinary_chat_and_scunthorpe_traps_are_left_alone() -> None:
    flagged = []
    for text in BENIGN:
        screening = RULES.screen(text)
        if screening.decision != "allow":
            hits = ", ".join(f"{rule.id!r} on {m.matched!r}" for rule, m in screening.matches)
            flagged.append(f"{text!r}: {hits}")
    assert len(flagged) <= MAX_FALSE_POSITIVES * len(BENIGN), (
        f"{len(flagged)} of {len(BENIGN)} benign lines matched:\n" + "\n".join(flagged)
    )
