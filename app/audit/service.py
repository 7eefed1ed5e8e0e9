"""Reading the audit log: filters, newest first, cursor pages, and CSV export in pages."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.schemas import ActorKind, AuditActor, AuditEntryOut
from app.core.audit import AuditEntry
from app.core.auth import Actor, Role
from app.core.errors import ValidationFailed
from app.core.pagination import MAX_LIMIT, Keyset, PageParams, Window, paginate
from app.core.runtime import Runtime

ORDER = Keyset(((AuditEntry.at, "desc"), (AuditEntry.id, "desc")))
CSV_FIELDS = [
    "id",
    "at",
    "actor_type",
    "actor_id",
    "actor_name",
    "action",
    "community_id",
    "target_type",
    "target_id",
    "before",
    "after",
    "reason",
]
CSV_PAGE = MAX_LIMIT * 10


@dataclass(frozen=True)
class AuditFilter:
    community_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValidationFailed(
                "`since` is after `until`.",
                errors=[{"loc": ["query", "since"], "message": "after until", "type": "range"}],
            )


def _query(actor: Actor, wanted: AuditFilter) -> Select[Any]:
    actor.require(Role.manager)
    stmt = select(AuditEntry).where(AuditEntry.org_id == actor.org_id)
    for column, value in (
        (AuditEntry.community_id, wanted.community_id),
        (AuditEntry.actor_id, wanted.actor_id),
        (AuditEntry.action, wanted.action),
        (AuditEntry.target_id, wanted.target_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if wanted.since is not None:
        stmt = stmt.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        stmt = stmt.where(AuditEntry.at < wanted.until)
    return stmt


async def list_entries(
    session: AsyncSession, actor: Actor, wanted: AuditFilter, params: PageParams
) -> Window[AuditEntryOut]:
    """Newest first. Role: manager."""
    window = await paginate(session, _query(actor, wanted), ORDER, params)
    return Window([to_out(entry) for entry in window.items], window.next_cursor)


def csv_export(runtime: Runtime, actor: Actor, wanted: AuditFilter) -> AsyncIterator[str]:
    """Every matching entry as CSV, newest first. The role is checked now, before any byte
    is sent; the rows are then read a page at a time, each page in a short session of its
    own, so a year's log never sits in memory (nor holds a connection) at once."""
    stmt = _query(actor, wanted)
    return _csv_pages(runtime, stmt)


async def _csv_pages(runtime: Runtime, stmt: Select[Any]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def taken() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_FIELDS)
    yield taken()
    params = PageParams(limit=CSV_PAGE)
    while True:
        async with runtime.read_session() as session:
            window = await paginate(session, stmt, ORDER, params)
        for entry in window.items:
            writer.writerow([_cell(entry, name) for name in CSV_FIELDS])
        yield taken()
        if window.next_cursor is None:
            return
        params = PageParams(limit=CSV_PAGE, cursor=window.next_cursor)


def _cell(entry: AuditEntry, name: str) -> str:
    value = getattr(entry, name)
    if value is None:
        return ""
    if name in ("before", "after"):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return _defused(str(value))


def _defused(text: str) -> str:
    """A cell a spreadsheet would run as a formula (CSV injection) gets a leading quote:
    key and rule names are chosen by users."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor=AuditActor(
            type=ActorKind(entry.actor_type),
            id=entry.actor_id,
            name=entry.actor_name,
        ),
        action=entry.action,
        community_id=entry.community_id,
        target_type=entry.target_type,
        target_id=entry.target_id,
        before=entry.before,
        after=entry.after,
        reason=entry.reason,
    )
