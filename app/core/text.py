"""User text: Markdown rendered once to safe HTML, and its sentiment.

Every domain that stores text from people (forum posts, later content and mentions) goes
through here, so the sanitizing rules and the sentiment scale are the same everywhere.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import nh3
from markdown_it import MarkdownIt
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# "js-default" is CommonMark with raw HTML off: `<script>` in the source stays text.
_markdown = MarkdownIt("js-default").enable("table").enable("strikethrough")

_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"style"},
    "th": {"style"},
    "code": {"class"},
}
_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"


_ABSOLUTE_URL = re.compile(r"^(?:https?://[^/\s]|mailto:)", re.IGNORECASE)
_CODE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,32}$")


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    # Absolute URLs only: a relative or protocol-relative link would point at whatever site
    # embeds the forum (e.g. an image of /account/logout), which the author does not own.
    if attribute in ("href", "src"):
        return value if _ABSOLUTE_URL.match(value) else None
    # Code blocks keep their language hint, never a class borrowed from the host page.
    if attribute == "class":
        return value if _CODE_CLASS.match(value) else None
    return value


# Built once: configuring a sanitizer costs more than running it on a post.
_sanitizer = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    url_schemes=_URL_SCHEMES,
    attribute_filter=_attribute_filter,
    link_rel=LINK_REL,
    # Only alignment survives from table cells' style (markdown-it writes text-align).
    filter_style_properties={"text-align"},
    strip_comments=True,
)


def render_markdown(source: str) -> str:
    """Markdown → HTML that is safe to insert in a page: no scripts, no event handlers,
    only absolute http(s)/mailto links, and every link marked as user-generated."""
    return _sanitizer.clean(_markdown.render(source))


SentimentLabel = Literal["positive", "neutral", "negative"]

# VADER's own thresholds for its compound score.
POSITIVE_FROM = 0.05
NEGATIVE_FROM = -0.05


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float  # -1 (most negative) .. 1 (most positive)
    label: SentimentLabel


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # loads its lexicon once per process


def sentiment(text: str) -> Sentiment:
    score = round(_analyzer().polarity_scores(text)["compound"], 4)
    if score >= POSITIVE_FROM:
        return Sentiment(score, "positive")
    if score <= NEGATIVE_FROM:
        return Sentiment(score, "negative")
    return Sentiment(score, "neutral")


def for_matching(text: str) -> str:
    """The form phrase rules match on: NFKC (full-width and styled letters fold to plain
    ones), case folded, format characters (zero-width, bidi controls) removed. The text
    itself is stored as written."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def excerpt(text: str, limit: int = 200) -> str:
    """The start of a text on one line, for lists that show many (`…` when cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
