"""The README's walkthrough shows what a newcomer needs at each step (each was missing once
and cost someone a guess)."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_graphql_lists_are_shown_with_their_page_shape() -> None:
    assert re.search(r"\(first: \d+[^)]*\) \{ items \{[^}]*\} nextCursor", README)
    assert re.search(r"after: \"<nextCursor>\"", README)


def test_saved_replies_are_shown_with_their_fields_and_rendering() -> None:
    assert '{"title": "' in README and "/saved-replies" in README
    assert "/render" in README and "{body, body_html}" in README


def test_accepting_an_answer_is_shown() -> None:
    assert re.search(r"POST .*v1/posts/\$ANSWER/accept", README)


def test_json_bodies_are_shown_with_their_content_type() -> None:
    curls_with_bodies = re.findall(r"curl [^\n]*(?:\\\n[^\n]*)*-d ", README)
    assert curls_with_bodies
    for call in re.findall(r"(curl (?:[^\n]*\\\n)*[^\n]*)", README):
        if " -d " in call:
            assert "Content-Type: application/json" in call, call


def test_publishing_is_walked_through_step_by_step() -> None:
    section = README.split("## Publishing", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"(curl (?:[^\n]*\\\n)*[^\n]*)", section)
    for step in (
        "/content",
        "/check",
        "/submit",
        "/approve",
        "/schedule",
        "/deliveries",
        "/retract",
    ):
        assert any(re.search(rf"v1/\S*{step}\b", command) for command in commands), step
