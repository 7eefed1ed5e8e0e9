"""Automod's text forms and matchers: what dodges they see through, and what they must not
match (pure functions: no database)."""

from __future__ import annotations

import time

import pytest

from app.moderation.matching import (
    KeywordIndex,
    compile_pattern,
    find_caps,
    find_link,
    find_mentions,
    find_regex,
    strongest,
)
from app.moderation.screening import MemberActivity, RuleSet, RuleSpec
from app.moderation.text import folded, plain


@pytest.mark.parametrize(
    "written",
    [
        "FREE",
        "\uff26\uff32\uff25\uff25",  # fullwidth (NFKC)
        "fr\u200bee",  # a zero-width space inside
        "\u202efree",  # a bidi override in front
        "fr\u0435\u0435",  # Cyrillic ie twice
        "frée",  # a diacritic
        "fr33",  # leetspeak
        "f.r.e.e",
        "f r e e",
        "f-r-3-3",
    ],
)
def test_dodges_fold_to_the_same_word(written: str) -> None:
    assert folded(written).text == "free"


def test_what_folding_leaves_alone() -> None:
    assert folded("rn").text == "rn"  # ASCII is never re-folded into look-alikes (m)
    assert folded("f  r e e").text == "f  ree"  # two spaces do not join
    assert folded("I am a b c").text == "i am abc"
    assert plain("Fr33 f.r.e.e").text == "fr33 f.r.e.e"  # regex's form: no leet, no joins


def test_keywords_report_the_text_as_written() -> None:
    index = KeywordIndex([("r1", "free coins", True), ("r2", "scam", False)])
    scam = "\u0455\u0441\u0430m"  # Cyrillic dze, es and a, then a Latin m
    text = f"Get Fr33 c0ins now, no {scam}"
    found = {(m.rule, m.matched) for m in index.find(text)}
    assert found == {("r1", "Fr33 c0ins"), ("r2", scam)}


def test_word_matching_has_no_scunthorpe_problem() -> None:
    index = KeywordIndex([("word", "ass", True), ("sub", "ass", False)])
    assert {m.rule for m in index.find("a classic")} == {"sub"}
    assert {m.rule for m in index.find("what an a.s.s")} == {"word", "sub"}


def test_wildcards_are_runs_of_letters() -> None:
    index = KeywordIndex([("w", "f*ck", True)])
    assert [m.matched for m in index.find("oh fuuuck it")] == ["fuuuck"]
    assert index.find("fickle") == []  # whole words: it must end in "ck"
    assert [m.matched for m in index.find("feedback")] == ["feedback"]  # as the rule says
    assert index.find("f1ck") != []  # leet folds 1 to i: a letter


def test_a_regex_that_backtracks_forever_is_stopped() -> None:
    evil = compile_pattern(r"(a+)+$")
    started = time.monotonic()
    assert find_regex("r", [evil], "a" * 40 + "!", None) is None
    assert time.monotonic() - started < 1.0
    with pytest.raises(ValueError):
        compile_pattern("a" * 501)
    hit = find_regex("r", [compile_pattern(r"buy\s+gold")], "BUY  Gold here", None)
    assert hit is not None and hit.matched == "BUY  Gold"


def test_links_by_domain_and_invites() -> None:
    blocked = {"block_domains": ["scam.example"]}
    assert find_link("l", "see https://login.scam.example/x", **blocked) is not None
    assert find_link("l", "[free](http://scam.example)", **blocked) is not None
    assert find_link("l", "notscam.example is fine", **blocked) is None
    allowed = {"allow_domains": ["starfall.example"]}
    assert find_link("l", "https://wiki.starfall.example/a", **allowed) is None
    assert find_link("l", "https://evil.example", **allowed) is not None
    invites = {"block_invites": True}
    assert find_link("l", "join discord.gg/abc123", **invites) is not None
    assert find_link("l", "https://discord.com/invite/abc", **invites) is not None
    assert find_link("l", "https://discord.com/developers", **invites) is None


def test_mentions_caps_and_the_strongest_action() -> None:
    assert find_mentions("m", "@a @b @c", 2) is not None
    assert find_mentions("m", "@a @b mail@example.com", 2) is None
    assert find_caps("c", "WHY IS THIS BROKEN", 10, 0.7) is not None
    assert find_caps("c", "OK", 10, 0.7) is None  # too short to judge
    assert strongest(["flag", "hold", "alert"]) == "hold"
    assert strongest(["alert", "block", "timeout"]) == "block"
    assert strongest([]) is None


def test_a_rule_set_screens_a_text_once_for_every_rule() -> None:
    rules = RuleSet(
        [
            RuleSpec("spam", "keyword", {"terms": ["free coins", "g*ld"], "match": "word"}, "hold"),
            RuleSpec("slur", "keyword", {"terms": ["badword"]}, "block"),
            RuleSpec("sellers", "regex", {"patterns": [r"buy\s+\w+\s+now"]}, "flag"),
            RuleSpec("phishing", "link", {"block_domains": ["scam.example"]}, "hide"),
            RuleSpec("shouting", "caps", {"min_length": 10, "max_ratio": 0.8}, "alert"),
            RuleSpec("pings", "mentions", {"max": 3}, "flag"),
        ]
    )
    clean = rules.screen("Great patch, thanks!")
    assert clean.decision == "allow" and clean.matches == []
    spam = rules.screen("FR33 C0INS and g0ld, buy gold now at https://scam.example/x")
    assert spam.decision == "hold"  # block > timeout > hold > hide > flag > alert
    assert {rule.id: m.matched for rule, m in spam.matches} == {
        "spam": "FR33 C0INS",
        "sellers": "buy gold now",
        "phishing": "https://scam.example/x",
    }
    assert rules.screen("what a b.a.d.w.o.r.d").decision == "block"


@pytest.mark.parametrize(
    ("written", "form"),
    [
        ("what a b.a.d.w.o.r.d", "what a badword"),  # the longer run keeps its letter
        ("x y z.a.b.c", "xy zabc"),
        ("a.b c", "ab c"),  # a tie: the leftmost run first, in every process
    ],
)
def test_spaced_out_runs_that_meet(written: str, form: str) -> None:
    assert folded(written).text == form


def test_flood_and_new_member_rules_read_the_members_activity() -> None:
    rules = RuleSet(
        [
            RuleSpec("flood", "flood", {"max_posts": 3, "window_seconds": 60}, "timeout"),
            RuleSpec(
                "new",
                "new_member",
                {"min_age_hours": 24, "min_posts": 2, "applies_to": "links"},
                "hold",
            ),
        ]
    )
    assert rules.flood_windows == [60]
    settled = MemberActivity(age_hours=500, visible_posts=40, posts_within={60: 2})
    assert rules.screen("see https://x.example", settled).decision == "allow"
    busy = MemberActivity(age_hours=500, visible_posts=40, posts_within={60: 3})
    assert rules.screen("one more", busy).decision == "timeout"  # the fourth in a minute
    newcomer = MemberActivity(age_hours=2, visible_posts=0, posts_within={60: 0})
    assert rules.screen("hello all", newcomer).decision == "allow"  # no link: not screened
    held = rules.screen("cheap gold at https://x.example", newcomer)
    assert held.decision == "hold" and held.matches[0][1].matched == "https://x.example"
    assert rules.screen("see https://x.example").decision == "allow"  # no member: skipped


def test_regex_rules_are_searched_together_first_without_changing_what_matches() -> None:
    joined = RuleSet(
        [
            RuleSpec("digits", "regex", {"patterns": [r"\bfoo\d+\b"]}, "flag"),
            RuleSpec("bar", "regex", {"patterns": [r"b[a@]r"]}, "hide"),
        ]
    )
    assert joined._any_regex is not None
    assert {spec.id for spec, _ in joined.screen("foo12 at the b@r").matches} == {"digits", "bar"}
    assert joined.screen("nothing to see").decision == "allow"
    # A backreference counts groups, which joining renumbers: such patterns go one by one.
    repeats = RuleSet(
        [*joined.rules.values(), RuleSpec("rep", "regex", {"patterns": [r"(ab)\1"]}, "hold")]
    )
    assert repeats._any_regex is None
    assert {spec.id for spec, _ in repeats.screen("abab bar").matches} == {"rep", "bar"}
