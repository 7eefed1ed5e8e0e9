"""Bulk import of drafts from JSON or CSV: every row checked like a single create, each
row's fate reported, nothing half-written (a row that fails leaves no trace)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.core.auth import Actor, Role
from app.core.errors import AppError, ValidationFailed, pydantic_errors
from app.schedule import workflow
from app.schedule.schemas import ContentCreate

MAX_ROWS = 1000
CSV_COLUMNS = ("kind", "title", "body", "locale", "channel_ids", "publish_at", "tags")
# What the document promises to read: the header row as the contract writes it, then rows.
# (The reader is kinder: any order, and only kind, title and body required.)
CSV_PATTERN = rf"^{','.join(CSV_COLUMNS)}\n"


@dataclass
class RowResult:
    row: int
    ok: bool
    id: uuid.UUID | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def _unreadable(detail: str) -> ValidationFailed:
    return ValidationFailed(
        detail, errors=[{"loc": ["body"], "message": detail, "type": "import_file"}]
    )


def read_rows(raw: bytes, media_type: str) -> list[Any]:
    """The rows of a JSON (`{items: [...]}`) or CSV file; 422 only when the file itself
    cannot be read. Rows are not checked here: each gets its own verdict."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _unreadable("The file is not UTF-8 text.") from None
    rows = _csv(text) if media_type == "text/csv" else _json(text)
    if len(rows) > MAX_ROWS:
        raise _unreadable(f"The file has {len(rows)} rows; import at most {MAX_ROWS} at a time.")
    return rows


def _json(text: str) -> list[Any]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise _unreadable(f"The file is not JSON: {exc}.") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise _unreadable('A JSON import is an object with an "items" array of drafts.')
    return document["items"]


def _csv(text: str) -> list[Any]:
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if not header or set(header) - set(CSV_COLUMNS) or not {"kind", "title", "body"} <= set(header):
        raise _unreadable(
            "A CSV import has a header row of these columns (kind, title and body required):"
            f" {','.join(CSV_COLUMNS)}."
        )
    rows = []
    try:
        for record in reader:
            if None in record:  # more cells than the header names
                rows.append({"__extra_cells__": record[None]})  # type: ignore[index]
                continue
            rows.append(_csv_row(record))
    except csv.Error as exc:
        raise _unreadable(f"The CSV could not be read: {exc}.") from None
    return rows


def _csv_row(record: dict[str, str]) -> dict[str, Any]:
    """A CSV record as the JSON body it stands for: empty cells left out, ids and tags
    space-separated."""
    row: dict[str, Any] = {}
    for column, value in record.items():
        value = (value or "").strip() if column not in ("title", "body") else value or ""
        if value == "":
            continue
        row[column] = value.split() if column in ("channel_ids", "tags") else value
    return row


async def import_rows(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    rows: list[Any],
    *,
    dry_run: bool,
    progress: Callable[[int], None] | None = None,
) -> list[RowResult]:
    """Create a draft per row, each in a savepoint: a row that fails leaves nothing, and the
    others go on. With `dry_run` every savepoint is rolled back. Role: manager."""
    actor.require(Role.manager)
    await communities.get_community(session, actor, community_id)
    results = []
    for number, raw in enumerate(rows, start=1):
        results.append(await _one(session, actor, community_id, number, raw, dry_run))
        if progress is not None:
            progress(number)
    return results


async def _one(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    number: int,
    raw: Any,
    dry_run: bool,
) -> RowResult:
    if isinstance(raw, dict) and "__extra_cells__" in raw:
        error = {"loc": [], "message": "more cells than the header has columns", "type": "csv"}
        return RowResult(number, False, errors=[error])
    try:
        data = ContentCreate.model_validate(raw)
    except ValidationError as exc:
        return RowResult(number, False, errors=pydantic_errors(exc.errors()))
    savepoint = await session.begin_nested()
    try:
        # Audited there, one `content.created` per row, in this savepoint (a dry run's go).
        item = await workflow.create(session, actor, community_id, data)
    except AppError as exc:
        await savepoint.rollback()
        errors = exc.errors or [{"loc": [], "message": exc.detail, "type": exc.slug}]
        # Locations name the row's fields, as in the file.
        return RowResult(number, False, errors=[_row_loc(e) for e in errors])
    if dry_run:
        await savepoint.rollback()
        return RowResult(number, True)
    await savepoint.commit()
    return RowResult(number, True, id=item.id)


def _row_loc(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc", []))
    return {**error, "loc": loc[1:] if loc[:1] == ["body"] else loc}
