"""HTTP conditional requests (RFC 9110 §13.1), shared by everything Hearth serves with an
ETag: assets, launcher feeds."""

from __future__ import annotations


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match: a list of tags (weak ones compare by their opaque part), or `*`."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
