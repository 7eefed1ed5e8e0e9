"""One error hierarchy, rendered as RFC 9457 problem+json over REST.

Services raise `AppError` subclasses; they never raise HTTP exceptions. GraphQL renders the
same errors with `extensions.code` (see `app/core/graphql.py`).
"""

from __future__ import annotations

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


def null_not_allowed(field: str) -> ValidationFailed:
    """A PATCH that sends null for a field that always has a value."""
    return ValidationFailed(
        f"{field} cannot be null; leave it out to keep its value.",
        errors=[{"loc": ["body", field], "message": "may not be null", "type": "null"}],
    )


class RuleViolation(AppError):
    """Well-formed input that a business rule refuses (e.g. an unsafe URL)."""

    status, slug, title, code = 422, "rule-violation", "Request refused by a rule", "RULE_VIOLATION"


class PayloadTooLarge(AppError):
    status, slug, title, code = 413, "payload-too-large", "Payload too large", "PAYLOAD_TOO_LARGE"


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
            "message": str(err.get("msg", "invalid value")),
            "type": str(err.get("type", "value_error")),
        }
        for err in raw
    ]


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


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
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


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = {
        404: "No such resource.",
        405: "This method is not allowed on this resource.",
    }.get(exc.status_code, exc.detail if isinstance(exc.detail, str) else "")
    error = http_error(exc.status_code, detail)
    error.headers = dict(exc.headers or {})
    return _render(error)


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
    409: "Conflicts with what is stored.",
    413: "Request body too large.",
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
