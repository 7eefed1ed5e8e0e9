"""REST: the public launcher feed in four formats, and players' events.

The answers are usually given by `app.feeds.front` from its cache; these routes render
what it does not have (and document the API). No authentication: a feed is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status

from app.core.deps import RuntimeDep, client_ip
from app.core.errors import problem_responses
from app.feeds import events, formats
from app.feeds.cache import FeedCache
from app.feeds.front import base_url, reply
from app.feeds.query import MAX_ACCEPT_LANGUAGE, MAX_LIMIT, SEMVER, TAG, parse
from app.feeds.schemas import FeedEventsAccepted, FeedEventsIn, FeedOut
from app.schedule.schemas import ContentKind

router = APIRouter(prefix="/v1/feeds", tags=["launcher feed"])

FeedName = Annotated[
    str,
    Path(
        description="The launcher_feed channel's id or its `config.public_slug`.",
        pattern=r"^[^/]{1,100}$",
    ),
]
FEED_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the client's copy (If-None-Match, If-Modified-Since)."},
    **problem_responses(404, 422),
}


async def _serve(request: Request, name: str, fmt: str) -> Response:
    query = parse(request.url.query, request.headers.get("accept-language"))
    cache: FeedCache = request.app.state.feed_cache
    ref = await cache.require(request.app.state.runtime, name)
    answer = await cache.answer(
        request.app.state.runtime,
        ref,
        fmt,
        query,
        base_url(request.scope, cache.settings, request.headers.get("host")),
    )
    code, headers, body = reply(
        answer,
        request.headers.get("if-none-match"),
        request.headers.get("if-modified-since"),
        head=False,
    )
    response = Response(body, status_code=code)
    response.raw_headers = list(headers)
    return response


@dataclass
class FeedParams:
    """The query a launcher sends, as documented. The route reads the same query through
    `app.feeds.query.parse` (the cache in front uses it too), so both agree."""

    locale: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,4}$",
            description="The language wanted (else Accept-Language, else the community's).",
        ),
    ] = None
    platform: Annotated[
        str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="e.g. windows")
    ] = None
    region: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")
    ] = None
    version: Annotated[
        str | None,
        Query(
            pattern=f"^{SEMVER.pattern}$",
            max_length=64,
            description="The launcher's semantic version",
        ),
    ] = None
    tags: Annotated[
        list[Annotated[str, Query(pattern=f"^{TAG}(,{TAG}){{0,19}}$")]] | None,
        Query(max_length=20, description="Items with any of these tags (or comma-separated)"),
    ] = None
    kinds: Annotated[list[ContentKind] | None, Query(max_length=6)] = None
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20
    cursor: Annotated[
        str | None, Query(pattern=r"^[01]\.[0-9]{1,3}\.[0-9]{1,17}\.[0-9a-f]{32}$")
    ] = None
    accept_language: Annotated[str | None, Header(max_length=MAX_ACCEPT_LANGUAGE)] = None
    if_none_match: Annotated[str | None, Header(max_length=2000)] = None
    if_modified_since: Annotated[str | None, Header(max_length=100)] = None


Params = Annotated[FeedParams, Depends()]


def _responses(fmt: str, **ok: Any) -> dict[int | str, dict[str, Any]]:
    media_type = formats.MEDIA_TYPES[fmt].split(";")[0]
    return {200: {"description": "The feed.", **ok, "content": {media_type: {}}}, **FEED_RESPONSES}


PUBLIC = {"response_class": Response, "openapi_extra": {"security": []}}


@router.get("/{feed}", responses=_responses("json", model=FeedOut), **PUBLIC)
async def feed_json(request: Request, feed: FeedName, _: Params) -> Response:
    """The feed as Hearth JSON: what a launcher's news panel shows this player, in order
    (pinned, priority, newest), with `next_url` for the next page."""
    return await _serve(request, feed, "json")


@router.get("/{feed}/feed.json", responses=_responses("json_feed"), **PUBLIC)
async def feed_json_feed(request: Request, feed: FeedName, _: Params) -> Response:
    """The feed as JSON Feed 1.1 (Hearth's own fields in `_hearth`)."""
    return await _serve(request, feed, "json_feed")


@router.get("/{feed}/rss", responses=_responses("rss"), **PUBLIC)
async def feed_rss(request: Request, feed: FeedName, _: Params) -> Response:
    """The feed as RSS 2.0."""
    return await _serve(request, feed, "rss")


@router.get("/{feed}/atom", responses=_responses("atom"), **PUBLIC)
async def feed_atom(request: Request, feed: FeedName, _: Params) -> Response:
    """The feed as Atom 1.0."""
    return await _serve(request, feed, "atom")


@router.get("/{feed}/embed", responses=_responses("embed"), **PUBLIC)
async def feed_embed(
    request: Request,
    feed: FeedName,
    _: Params,
    theme: Annotated[Literal["dark", "light"], Query(description="The panel's colours")] = "dark",
) -> Response:
    """A self-contained HTML news panel for a launcher's web view (no external scripts or
    fonts; a strict Content-Security-Policy). It records impressions and clicks through
    the events endpoint."""
    return await _serve(request, feed, "embed")


@router.post(
    "/{feed}/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FeedEventsAccepted,
    responses=problem_responses(404, 422, 429),
    openapi_extra={"security": []},
)
async def post_events(
    request: Request, feed: FeedName, data: Annotated[FeedEventsIn, Body()], runtime: RuntimeDep
) -> FeedEventsAccepted:
    """Impressions and clicks from a launcher (up to 100 per call), deduplicated per client,
    item, type and day, written within about a second. Rate limited per IP address."""
    state = request.app.state
    accepted, ignored = await events.submit(
        runtime, state.feed_cache, state.feed_events, feed, data, client_ip(request)
    )
    return FeedEventsAccepted(accepted=accepted, ignored=ignored)
