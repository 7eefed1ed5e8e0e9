"""One error hierarchy, rendered as RFC 9457 problem+json over REST.

Services raise `AppError` subclasses; they never raise HTTP exceptions. GraphQL renders the
same errors with `extensions.code` (see `app/core/graphql.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.schemas import NO_NUL_PATTERN, TEXT_PATTERN

PROBLEM_BASE = "https://hearth.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

log = structlog.get_logger("hearth.errors")


class AppError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"
    code: str = "BAD_REQUEST"  # GraphQL extensions.code

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class NotFound(AppError):
    status, slug, title, code = 404, "not-found", "Not found", "NOT_FOUND"


def missing_reference(field: str, detail: str) -> NotFound:
    """An id in the body that names nothing the caller can see: a 404 like the same id in the
    path (another organisation's object must not be told apart from none), naming the field."""
    return NotFound(
        detail, errors=[{"loc": ["body", field], "message": "not found", "type": "ref"}]
    )


class Conflict(AppError):
    status, slug, title, code = 409, "conflict", "Conflict", "CONFLICT"


class Forbidden(AppError):
    status, slug, title, code = 403, "forbidden", "Forbidden", "FORBIDDEN"


class Unauthenticated(AppError):
    status, slug, title, code = 401, "unauthenticated", "Unauthenticated", "UNAUTHENTICATED"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class ValidationFailed(AppError):
    status, slug, title, code = 422, "validation", "Invalid request", "BAD_USER_INPUT"


class RuleViolation(AppError):
    """Well-formed input that a business rule refuses (e.g. an unsafe URL)."""

    status, slug, title, code = 422, "rule-violation", "Request refused by a rule", "RULE_VIOLATION"


class PayloadTooLarge(AppError):
    status, slug, title, code = 413, "payload-too-large", "Payload too large", "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"
    code = "UNSUPPORTED_MEDIA_TYPE"


def not_json(content_type: str | None) -> UnsupportedMediaType:
    """A body sent as something other than JSON (curl's `-d` alone sends a form)."""
    sent = f"Content-Type {content_type}" if content_type else "no Content-Type"
    return UnsupportedMediaType(
        f"The body was sent with {sent}; send it as JSON with `Content-Type: application/json`."
    )


class TooManyRequests(AppError):
    status, slug, title, code = 429, "rate-limited", "Too many requests", "RATE_LIMITED"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(
            detail, headers={"Retry-After": str(retry_after)}, extra={"retry_after": retry_after}
        )


class ServiceUnavailable(AppError):
    status, slug, title, code = 503, "unavailable", "Service unavailable", "UNAVAILABLE"


def http_error(status: int, detail: str) -> AppError:
    """An AppError for a plain HTTP status (e.g. from a library that raised its own)."""
    known = status in HTTPStatus._value2member_map_
    error = AppError(detail or (HTTPStatus(status).phrase if known else "Error"))
    error.status = status
    error.slug = _STATUS_SLUGS.get(status, "http-error")
    error.title = HTTPStatus(status).phrase if known else "Error"
    return error


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_CONTENT_TYPE
    )


def pydantic_errors(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Shape pydantic errors as `[{loc, message, type}]` without echoing input back."""
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "message": _message(err),
            "type": str(err.get("type", "value_error")),
        }
        for err in raw
    ]


def _message(err: Mapping[str, Any]) -> str:
    pattern = (err.get("ctx") or {}).get("pattern")
    if tuple(err.get("loc", ())) == ("query", "cursor"):
        return "not a cursor of this list; start again without one"
    if pattern == TEXT_PATTERN:
        return "must hold a character other than spaces, and no NUL (\\u0000)"
    if pattern == NO_NUL_PATTERN:
        return "must not hold NUL (\\u0000) characters"
    # pydantic prefixes our own ValueErrors' text with "Value error, ".
    return str(err.get("msg", "invalid value")).removeprefix("Value error, ")


_STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def _render(exc: AppError) -> JSONResponse:
    return problem_response(
        exc.status,
        exc.slug,
        exc.title,
        exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        **exc.extra,
    )


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _render(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if isinstance(exc.body, bytes | bytearray):
        # FastAPI parses a body as JSON only when it is declared JSON, and hands the raw
        # bytes on otherwise: its complaint ("a valid dictionary") would hide the reason.
        return _render(not_json(request.headers.get("content-type")))
    raw = exc.errors()
    broken_json = next((e for e in raw if e.get("type") == "json_invalid"), None)
    if broken_json is not None:
        reason = (broken_json.get("ctx") or {}).get("error", "malformed")
        position = broken_json["loc"][-1] if len(broken_json.get("loc", ())) > 1 else "?"
        return problem_response(
            400,
            "bad-request",
            "Bad Request",
            f"The request body is not valid JSON: {reason} (at character {position}).",
        )
    errors = pydantic_errors(raw)
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['message']}" for e in errors[:5])
    return problem_response(422, "validation", "Invalid request", detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = {
        404: "No such resource.",
        405: "This method is not allowed on this resource.",
    }.get(exc.status_code, exc.detail if isinstance(exc.detail, str) else "")
    error = http_error(exc.status_code, detail)
    error.headers = dict(exc.headers or {})
    if exc.status_code == 405:
        routed = {m.strip() for m in error.headers.get("Allow", "").split(",") if m.strip()}
        error.headers["Allow"] = ", ".join(sorted(routed | documented_methods(request)))
    return _render(error)


def _template_regex(template: str) -> re.Pattern[str]:
    """`/v1/posts/{post_id}` → a pattern matching that path with any one segment as the id."""
    parts = re.split(r"\{[^}/]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "$")


def documented_methods(request: Request) -> set[str]:
    """The methods the OpenAPI document lists for this path. Starlette's own 405 names only
    the methods of the first route that matched the path, and FastAPI has one route per
    method, so a resource's other methods would be missing from `Allow`."""
    state = request.app.state
    if getattr(state, "methods_by_path", None) is None:
        state.methods_by_path = [
            (_template_regex(path), "{" not in path, {method.upper() for method in operations})
            for path, operations in request.app.openapi()["paths"].items()
        ]
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    matching = [
        (fixed, methods) for regex, fixed, methods in state.methods_by_path if regex.match(path)
    ]
    # A fixed path (`/v1/members/export`) is a resource of its own, not one id of a template.
    if any(fixed for fixed, _ in matching):
        matching = [(fixed, methods) for fixed, methods in matching if fixed]
    return {method for _, methods in matching for method in methods}


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("hearth.request_id", "")
    log.error("unhandled_exception", request_id=request_id, exc_info=exc)
    return problem_response(
        500,
        "internal",
        "Internal server error",
        "Something went wrong on our side. Quote the request id when you report it.",
        request_id=request_id,
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


class ProblemItem(BaseModel):
    loc: list[str]
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] | None = None


_RESPONSE_TEXT = {
    401: "No valid credential.",
    403: "Your role does not allow this.",
    404: "No such object in your organisation.",
    400: "The body is not valid JSON.",
    409: "Conflicts with what is stored.",
    413: "Request body too large.",
    415: "The body is not sent as JSON (`Content-Type: application/json`).",
    422: "Invalid input.",
    429: "Rate limited; see Retry-After.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json answers."""
    return {
        status: {
            "description": _RESPONSE_TEXT.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def document_not_found(router: APIRouter) -> None:
    """Document 404 on every route that takes an id (another org's id is a 404 too)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and "{" in route.path:
            route.responses = {**route.responses, **problem_responses(404)}
