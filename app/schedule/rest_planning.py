"""REST: planning many items at once: the calendar (JSON and iCalendar) and bulk import."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.core.deps import CurrentActor, Session
from app.core.errors import UnsupportedMediaType, document_not_found, problem_responses
from app.core.openapi import documented_body
from app.core.schemas import Instant
from app.schedule import calendar, importing
from app.schedule.schemas import (
    CalendarEntry,
    CalendarOut,
    ContentImport,
    ImportOut,
    ImportRowOut,
)

router = APIRouter(prefix="/v1", tags=["schedule"], responses=problem_responses(401, 403, 422))


@router.post(
    "/communities/{community_id}/content/import",
    response_model=ImportOut,
    responses=problem_responses(404),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                **documented_body("ContentImport", ContentImport)["requestBody"]["content"],
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "pattern": importing.CSV_PATTERN,
                        "description": "A header row, then a row per draft (ids and tags"
                        " space-separated).",
                    },
                    "example": "kind,title,body,locale,channel_ids,publish_at,tags\n"
                    "announcement,Season 3,New ships.,en,,2030-01-01T10:00:00Z,news",
                },
            },
        }
    },
)
async def import_content(
    community_id: uuid.UUID,
    request: Request,
    session: Session,
    actor: CurrentActor,
    dry_run: Annotated[bool, Query(description="Check every row, create nothing.")] = False,
) -> ImportOut:
    """Import drafts from JSON (`{items: [...]}`) or CSV (`text/csv`), at most 1,000 rows;
    each row's result, even when rows fail. Role: manager."""
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type not in ("application/json", "text/csv"):
        raise UnsupportedMediaType(
            "Send the import as JSON (`Content-Type: application/json`) or CSV"
            " (`Content-Type: text/csv`)."
        )
    rows = importing.read_rows(await request.body(), media_type)
    results = await importing.import_rows(session, actor, community_id, rows, dry_run=dry_run)
    return ImportOut(
        results=[ImportRowOut.model_validate(r, from_attributes=True) for r in results],
        created=sum(1 for r in results if r.id is not None),
        failed=sum(1 for r in results if not r.ok),
    )


CalendarFrom = Annotated[
    Instant, Query(alias="from", description="ISO 8601 instant with its offset.")
]
CalendarTo = Annotated[Instant, Query(alias="to", description="ISO 8601 instant (excluded).")]


@router.get(
    "/communities/{community_id}/calendar",
    response_model=CalendarOut,
    response_model_by_alias=True,
)
async def get_calendar(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    start: CalendarFrom,
    end: CalendarTo,
) -> CalendarOut:
    """Scheduled and published items and recurring occurrences in [from, to), in time
    order, 1,000 at most (`next_from` says where to go on). Role: viewer."""
    found, next_from = await calendar.entries(session, actor, community_id, start, end)
    items = [CalendarEntry.model_validate(entry, from_attributes=True) for entry in found]
    return CalendarOut.model_validate(
        {"from": start, "to": end, "items": items, "next_from": next_from}
    )


@router.get(
    "/communities/{community_id}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def get_calendar_ics(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    start: CalendarFrom,
    end: CalendarTo,
) -> Response:
    """The same range as iCalendar (RFC 5545); a series is one event with its RRULE.
    Role: viewer."""
    body = await calendar.ics(session, actor, community_id, start, end)
    return Response(body, media_type="text/calendar; charset=utf-8")


document_not_found(router)
