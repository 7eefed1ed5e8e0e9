"""The embeddable news panel: one self-contained HTML page per feed answer, for launchers'
web views. No external scripts, styles or fonts; the inline style and script are allowed by
their hashes in a strict Content-Security-Policy, so the page stays cacheable (no nonce)."""

from __future__ import annotations

import base64
import hashlib
from html import escape
from pathlib import Path

from app.feeds.service import FeedPage

HERE = Path(__file__).resolve().parent
STYLE = (HERE / "embed.css").read_text()
SCRIPT = (HERE / "embed.js").read_text()


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src {_hash(STYLE)}",
        # Sanitized Markdown keeps table cells' `style="text-align: …"`; no script can use it.
        "style-src-attr 'unsafe-inline'",
        f"script-src {_hash(SCRIPT)}",
        "img-src 'self' https: http: data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)
HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def render(page: FeedPage, *, base: str, events_url: str, theme: str) -> bytes:
    """The page's items as articles; links open outside the launcher."""
    articles = []
    for live, text in page.items:
        title = escape(text.title)
        if live.url:
            title = (
                f'<a href="{escape(live.url)}" target="_blank" rel="noopener noreferrer">'
                f"{title}</a>"
            )
        image = (
            f'<img src="{escape(base + live.image.path)}" alt="" loading="lazy">'
            if live.image
            else ""
        )
        summary = f'<p class="summary">{escape(text.summary)}</p>' if text.summary else ""
        articles.append(
            f'<li><article data-item="{live.id}" class="{live.kind}'
            f'{" pinned" if live.pinned else ""}">{image}<div class="body">'
            f"<h2>{title}</h2>"
            f'<div class="meta"><time datetime="{live.published_at.date().isoformat()}">'
            f"{live.published_at.date().isoformat()}</time></div>"
            f'{summary}<div class="content">{text.content_html}</div>'
            "</div></article></li>"
        )
    items = f"<ol>{''.join(articles)}</ol>" if articles else '<p class="empty">—</p>'
    return (
        "<!doctype html>"
        f'<html lang="{escape(page.locale)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(page.ref.title)}</title><style>{STYLE}</style></head>"
        f'<body class="{escape(theme)}" data-events="{escape(events_url)}">'
        f'<h1 class="visually-hidden">{escape(page.ref.title)}</h1>{items}'
        f"<script>{SCRIPT}</script></body></html>"
    ).encode()
