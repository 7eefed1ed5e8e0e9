"""User text: Markdown rendered to safe HTML, and the sentiment scale with its thresholds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.core import text
from app.core.text import LINK_REL, NEGATIVE_FROM, POSITIVE_FROM, render_markdown, sentiment


def test_inline_formatting() -> None:
    html = render_markdown("*em* **strong** ~~gone~~ `x < y`")
    assert html == (
        "<p><em>em</em> <strong>strong</strong> <s>gone</s> <code>x &lt; y</code></p>\n"
    )


def test_snake_case_and_a_hard_break() -> None:
    assert render_markdown("a_b_c snake_case") == "<p>a_b_c snake_case</p>\n"
    assert render_markdown("line  \nbreak") == "<p>line<br>\nbreak</p>\n"


def test_fenced_code_keeps_its_language_and_escapes_its_content() -> None:
    html = render_markdown('```python\nprint("<b>hi</b>")\n```')
    assert html == (
        '<pre><code class="language-python">print("&lt;b&gt;hi&lt;/b&gt;")\n</code></pre>\n'
    )
    indented = render_markdown("    <script>x</script>")
    assert indented == "<pre><code>&lt;script&gt;x&lt;/script&gt;\n</code></pre>\n"


def test_tables_keep_only_their_alignment() -> None:
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |")
    assert '<th style="text-align:left">a</th>' in html
    assert '<th style="text-align:center">b</th>' in html
    assert '<td style="text-align:right">3</td>' in html
    assert html.startswith("<table>\n<thead>") and "<tbody>" in html


def test_block_elements() -> None:
    html = render_markdown("# Title\n\n3. three\n4. four\n\n- x\n\n> quote\n\n---")
    assert html == (
        "<h1>Title</h1>\n"
        '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>\n'
        "<ul>\n<li>x</li>\n</ul>\n"
        "<blockquote>\n<p>quote</p>\n</blockquote>\n"
        "<hr>\n"
    )


def test_links_get_the_user_generated_rel() -> None:
    assert LINK_REL == "nofollow ugc noopener"
    html = render_markdown('[docs](https://docs.example/a?b=1&c=2 "Docs")')
    assert html == (
        '<p><a href="https://docs.example/a?b=1&amp;c=2" title="Docs" '
        'rel="nofollow ugc noopener">docs</a></p>\n'
    )
    assert render_markdown("<https://status.example>") == (
        '<p><a href="https://status.example" rel="nofollow ugc noopener">'
        "https://status.example</a></p>\n"
    )
    assert 'href="mailto:help@example.com"' in render_markdown("<help@example.com>")
    # Bare URLs stay text (no linkify): nothing becomes a link the author did not write.
    assert render_markdown("https://bare.example") == "<p>https://bare.example</p>\n"


def test_images_keep_http_sources_only() -> None:
    assert render_markdown("![logo](https://cdn.example/l.png)") == (
        '<p><img src="https://cdn.example/l.png" alt="logo"></p>\n'
    )
    assert "src=" not in render_markdown("![x](data:image/png;base64,AAAA)")


@pytest.mark.parametrize(
    "source",
    [
        "<b>bold</b>",
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html,hi)",
    ],
)
def test_raw_html_and_unsafe_links_stay_text(source: str) -> None:
    html = render_markdown(source)
    assert "<a" not in html and "<script" not in html and "<b>" not in html
    assert html.startswith("<p>") and html.endswith("</p>\n")


def test_plain_text_passes_through() -> None:
    assert render_markdown("Hello, pilots!") == "<p>Hello, pilots!</p>\n"
    assert render_markdown("") == ""


def test_sentiment_labels_real_text() -> None:
    happy = sentiment("I love this game, it is great!")
    assert happy.label == "positive" and happy.score >= POSITIVE_FROM
    angry = sentiment("This is terrible, I hate it and it keeps crashing.")
    assert angry.label == "negative" and angry.score <= NEGATIVE_FROM
    plain = sentiment("The patch is on Tuesday.")
    assert plain.label == "neutral" and plain.score == 0.0
    for mood in (happy, angry, plain):
        assert -1.0 <= mood.score <= 1.0
        assert round(mood.score, 4) == mood.score


def test_strong_words_score_further_from_zero() -> None:
    mild = sentiment("The update is bad.")
    strong = sentiment("The update is absolutely horrible and I hate it!!!")
    assert strong.score < mild.score < 0


@pytest.mark.parametrize(
    ("compound", "score", "label"),
    [
        (0.05, 0.05, "positive"),
        (0.049949, 0.0499, "neutral"),
        (0.04996, 0.05, "positive"),  # rounded to 4 places first
        (0.0, 0.0, "neutral"),
        (-0.0499, -0.0499, "neutral"),
        (-0.05, -0.05, "negative"),
        (-0.04996, -0.05, "negative"),
        (1.0, 1.0, "positive"),
        (-1.0, -1.0, "negative"),
    ],
)
def test_sentiment_thresholds(
    monkeypatch: pytest.MonkeyPatch, compound: float, score: float, label: str
) -> None:
    assert (POSITIVE_FROM, NEGATIVE_FROM) == (0.05, -0.05)
    fake = SimpleNamespace(polarity_scores=lambda _text: {"compound": compound})
    monkeypatch.setattr(text, "_analyzer", lambda: fake)
    mood = sentiment("anything")
    assert (mood.score, mood.label) == (score, label)


def test_only_absolute_urls_survive() -> None:
    """Relative and protocol-relative URLs would point into the site embedding the forum."""
    html = render_markdown("![x](/account/logout) [a](//evil.example) [b](https://ok.example)")
    assert 'src="/account' not in html and "//evil.example" not in html
    assert 'href="https://ok.example"' in html


def test_code_blocks_keep_only_a_language_class() -> None:
    assert 'class="language-python"' in render_markdown("```python\nx = 1\n```")
    assert "class=" not in render_markdown("```\nplain\n```")
