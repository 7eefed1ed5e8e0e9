"""Keyset (cursor) pagination: `?limit=&cursor=` → `{items, next_cursor}`.

The cursor is an opaque token holding the sort key of the last item returned, so pages stay
stable while rows are added and no page costs an OFFSET scan.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import ValidationFailed

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

T = TypeVar("T")
Direction = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


async def page_params(  # async: no thread-pool hop per request
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page."),
    cursor: str | None = Query(
        None, max_length=512, description="`next_cursor` of the previous page."
    ),
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(slots=True)
class Window(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode(values: Sequence[Any]) -> str:
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong shape")
        values = []
        for value, column in zip(raw, columns, strict=True):
            kind = column.type.python_type
            if kind is datetime:
                moment = datetime.fromisoformat(_text(value))
                if moment.tzinfo is None:
                    raise ValueError("naive datetime")
                values.append(moment)
            elif kind is uuid.UUID:
                values.append(uuid.UUID(_text(value)))
            elif kind in (int, float, str, bool) and type(value) is kind:
                values.append(value)
            else:
                raise ValueError("wrong type")
        return values
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(
            "The cursor is not valid for this list; start again without one.",
            errors=[{"loc": ["query", "cursor"], "message": "invalid cursor", "type": "cursor"}],
        ) from exc


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _after(
    keys: Sequence[tuple[InstrumentedAttribute[Any], Direction]], values: Sequence[Any]
) -> Any:
    """Rows strictly after `values` in the given order (expanded, so mixed directions work)."""
    # Bound as typed literals: SQLAlchemy refuses `<`/`>` against a bare Python bool (a
    # `pinned` sort key), and the column's type keeps datetimes bound the same way.
    bound = [literal(value, column.type) for (column, _), value in zip(keys, values, strict=True)]
    clauses = []
    for i, (column, direction) in enumerate(keys):
        equal_prefix = [keys[j][0] == bound[j] for j in range(i)]
        beyond = column > bound[i] if direction == "asc" else column < bound[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    keys: Sequence[tuple[InstrumentedAttribute[Any], Direction]],
    params: PageParams,
) -> Window[Any]:
    """Run `stmt` (selecting one entity) ordered by `keys`; the last key must be unique."""
    columns = [column for column, _ in keys]
    if params.cursor:
        stmt = stmt.where(_after(keys, _decode(params.cursor, columns)))
    order = [c.asc() if d == "asc" else c.desc() for c, d in keys]
    rows = list((await session.scalars(stmt.order_by(*order).limit(params.limit + 1))).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = _encode([getattr(last, c.key) for c in columns])
    return Window(rows, next_cursor)
