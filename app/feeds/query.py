"""What a player's launcher asks a feed for, parsed once and normalised.

One parser serves the cache in front of FastAPI (its key) and the route behind it (its
answer), so two requests that mean the same thing share one cached answer, and a request
the route would refuse is never answered from the cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import semver

from app.core.errors import ValidationFailed
from app.schedule.models import CONTENT_KINDS

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# The formats a feed is served in: the path suffix after /v1/feeds/{feed}.
FORMATS = {
    "": "json",
    "/feed.json": "json_feed",
    "/rss": "rss",
    "/atom": "atom",
    "/embed": "embed",
}
THEMES = ("dark", "light")

PLATFORM = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
REGION = re.compile(r"[A-Za-z]{2}")
# One `tags` value: a tag as content has them, or up to 20 comma-separated ones.
TAG = "[a-z0-9][a-z0-9_-]{0,49}"
TAGS = re.compile(rf"{TAG}(?:,{TAG}){{0,19}}")
LOCALE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,4}")
LIMIT = re.compile(r"[0-9]{1,3}")
SEMVER = re.compile(
    r"v?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)){0,2}"
    r"(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
MAX_ACCEPT_LANGUAGE = 500
# pinned.priority.published_at (microseconds).id: the position after the last item served.
CURSOR = re.compile(r"([01])\.([0-9]{1,3})\.([0-9]{1,17})\.([0-9a-f]{32})")
MAX_PREFERENCES = 8  # Accept-Language ranges considered; more is noise or an attack on the key


@dataclass(frozen=True, slots=True)
class FeedQuery:
    """A normalised feed request. `locales` is the preference order (from `?locale=` or
    Accept-Language); `explicit_locale` says which, as only the header makes the answer
    vary with it."""

    locales: tuple[str, ...] = ()
    explicit_locale: bool = False
    platform: str | None = None
    region: str | None = None
    version: str | None = None
    tags: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    cursor: tuple[int, int, int, str] | None = None
    theme: str = THEMES[0]  # the embedded panel's colours

    def query_string(self, *, cursor: str | None, locale: str | None) -> str:
        """The query string of a link to this selection (next_url): the resolved locale is
        spelled out, so the link means the same from a launcher with another language."""
        pairs = [
            ("locale", locale),
            ("platform", self.platform),
            ("region", self.region),
            ("version", self.version),
            *(("tags", tag) for tag in self.tags),
            *(("kinds", kind) for kind in self.kinds),
            ("limit", str(self.limit) if self.limit != DEFAULT_LIMIT else None),
            ("cursor", cursor),
        ]
        return urlencode([(k, v) for k, v in pairs if v is not None])


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{name}: {message}",
        errors=[{"loc": ["query", name], "message": message, "type": "value_error"}],
    )


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise _invalid(name, "give it once")
    return values[0]


def _list(params: Mapping[str, list[str]], name: str) -> list[str]:
    """`?tags=a,b` and `?tags=a&tags=b` alike."""
    return [part for value in params.get(name, []) for part in value.split(",") if part]


def parse(query_string: str | bytes, accept_language: str | None) -> FeedQuery:
    """Parse and validate a feed request's query; raises ValidationFailed (422) with the
    parameter at fault. At least as strict as the routes' documented parameters: what this
    accepts, the front may answer from its cache without the routes' own validation."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if accept_language is not None and len(accept_language) > MAX_ACCEPT_LANGUAGE:
        raise ValidationFailed(
            f"Accept-Language is longer than {MAX_ACCEPT_LANGUAGE} characters.",
            errors=[
                {"loc": ["header", "accept-language"], "message": "too long", "type": "value_error"}
            ],
        )
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    locale = _one(params, "locale")
    if locale is not None and not LOCALE.fullmatch(locale):
        raise _invalid("locale", "a language tag such as `de` or `pt-BR`")
    platform = _one(params, "platform")
    if platform is not None and not PLATFORM.fullmatch(platform):
        raise _invalid("platform", "lowercase letters, digits, `_` and `-` (up to 32)")
    region = _one(params, "region")
    if region is not None and not REGION.fullmatch(region):
        raise _invalid("region", "an ISO 3166-1 alpha-2 code such as `DE`")
    version = _one(params, "version")
    if version is not None:
        if len(version) > 64 or not SEMVER.fullmatch(version):
            raise _invalid("version", "a semantic version such as `1.4.2`")
        version = str(parse_version(version, "version"))
    raw_tags = params.get("tags", [])
    if len(raw_tags) > 20 or not all(TAGS.fullmatch(value) for value in raw_tags):
        raise _invalid(
            "tags", "up to 20 values, each a tag (a-z, 0-9, `_`, `-`) or comma-separated tags"
        )
    tags = _list(params, "tags")
    kinds = params.get("kinds", [])
    if len(kinds) > len(CONTENT_KINDS) or any(kind not in CONTENT_KINDS for kind in kinds):
        raise _invalid(
            "kinds", f"up to {len(CONTENT_KINDS)}, each one of {', '.join(CONTENT_KINDS)}"
        )
    limit_text = _one(params, "limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        if not LIMIT.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise _invalid("limit", f"a whole number from 1 to {MAX_LIMIT}")
        limit = int(limit_text)
    cursor_text = _one(params, "cursor")
    cursor = None
    if cursor_text is not None:
        match = CURSOR.fullmatch(cursor_text)
        if match is None:
            raise _invalid("cursor", "not a cursor of this feed; start again without one")
        pinned, priority, micros, item_id = match.groups()
        cursor = (int(pinned), int(priority), int(micros), item_id)
    theme = _one(params, "theme")
    theme = THEMES[0] if theme is None else theme
    if theme not in THEMES:
        raise _invalid("theme", "dark or light")
    return FeedQuery(
        theme=theme,
        locales=(locale,) if locale else accept_language_ranges(accept_language),
        explicit_locale=locale is not None,
        platform=platform,
        region=region.upper() if region else None,
        version=version,
        tags=tuple(sorted(set(tags))),
        kinds=tuple(sorted(set(kinds))),
        limit=limit,
        cursor=cursor,
    )


def parse_version(text: str, name: str) -> semver.Version:
    """A semantic version; `1.4` is read as `1.4.0`, as launchers often drop the patch."""
    try:
        return semver.Version.parse(text.removeprefix("v"), optional_minor_and_patch=True)
    except (ValueError, TypeError):
        raise _invalid(name, "a semantic version such as `1.4.2`") from None


def accept_language_ranges(header: str | None) -> tuple[str, ...]:
    """The language ranges of an Accept-Language header, most wanted first (RFC 9110
    §12.5.4): q-values honoured, `q=0` meaning "not this", malformed parts skipped."""
    if not header:
        return ()
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if tag != "*" and not LOCALE.fullmatch(tag):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            ranked.append((-quality, position, tag))
    ranked.sort()
    return tuple(tag for _, _, tag in ranked[:MAX_PREFERENCES])


def negotiate(preferences: Sequence[str], available: Iterable[str], default: str) -> str:
    """The locale to answer in: the first preference the feed has (exactly, then by its
    language: `de-AT` takes `de`, `de` takes `de-DE`), else the community's default."""
    by_lower = {locale.lower(): locale for locale in available}
    for wanted in preferences:
        wanted = wanted.lower()
        if wanted == "*":
            return default
        if wanted in by_lower:
            return by_lower[wanted]
        language = wanted.split("-", 1)[0]
        if language in by_lower:
            return by_lower[language]
        for lower, locale in by_lower.items():
            if lower.split("-", 1)[0] == language:
                return locale
    return default
