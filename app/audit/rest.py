"""REST: GET /v1/audit-log (JSON pages, or the whole selection as CSV)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from app.audit import service
from app.audit.schemas import ACTION_PATTERN, AuditEntryOut
from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import problem_responses
from app.core.pagination import Page, paging
from app.core.schemas import Instant

router = APIRouter(prefix="/v1", tags=["audit"], responses=problem_responses(401, 403, 422))
AuditPaging = paging(service.ORDER.cursor)


@router.get(
    "/audit-log",
    response_model=Page[AuditEntryOut],
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "A page of entries, or with `Accept: text/csv` every matching"
            " entry as CSV (the header row names the fields; `before` and `after` as JSON).",
        }
    },
)
async def list_audit_log(
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
    page: AuditPaging,
    community_id: uuid.UUID | None = None,
    actor_id: Annotated[
        uuid.UUID | None, Query(description="An API key's, member's or automod rule's id.")
    ] = None,
    action: Annotated[
        str | None, Query(pattern=ACTION_PATTERN, description="e.g. `channel.updated`.")
    ] = None,
    target_id: uuid.UUID | None = None,
    since: Annotated[Instant | None, Query(description="From this instant (included).")] = None,
    until: Annotated[Instant | None, Query(description="To this instant (excluded).")] = None,
    accept: Annotated[str | None, Header(max_length=1000)] = None,
) -> Page[AuditEntryOut] | StreamingResponse:
    """Who changed what, newest first: every staff and automod write in every domain, with
    the states before and after (ids and states, never text members wrote). Entries are
    never changed or removed. `Accept: text/csv` exports every matching entry (the cursor
    and limit are then ignored). Role: manager."""
    wanted = service.AuditFilter(community_id, actor_id, action, target_id, since, until)
    if _wants_csv(accept):
        return StreamingResponse(
            service.csv_export(runtime, actor, wanted),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="hearth-audit-log.csv"'},
        )
    window = await service.list_entries(session, actor, wanted, page)
    return Page[AuditEntryOut](items=window.items, next_cursor=window.next_cursor)


def _wants_csv(accept: str | None) -> bool:
    """CSV when the client asks for it before (or instead of) JSON."""
    if not accept:
        return False
    kinds = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    if "text/csv" not in kinds:
        return False
    return "application/json" not in kinds or kinds.index("text/csv") < kinds.index(
        "application/json"
    )
