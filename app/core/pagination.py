"""Keyset (cursor) pagination: `?limit=&cursor=` → `{items, next_cursor}`.

A cursor is the position after the last item returned: the values of the list's sort key,
so pages stay stable while rows are added and no page costs an OFFSET scan. Each list
documents the exact shape of its cursors as a pattern, and every string that matches the
pattern is a position in the list, so a client or a validator that checks the pattern
agrees with the server. Values are written as dot-separated tokens:

- a time: microseconds since 1970-01-01 UTC (`1732953600000000`);
- an id: the UUID's 32 hex digits;
- a number: decimal digits (a fraction in millionths); a flag: `0` or `1`;
- a text: its UTF-8 bytes in unpadded base64url.

Clients treat cursors as opaque; the shape may change between versions.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import ValidationFailed

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

T = TypeVar("T")
Direction = Literal["asc", "desc"]
Column = InstrumentedAttribute[Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TEXT_TOKEN = 1023  # base64url characters: 767 bytes, more than any sortable name holds
# Per value type: the token's pattern and its longest length. Each pattern admits only
# strings that decode (sixteen digits of microseconds reach the year 2286; nine digits fit
# an INTEGER column; base64url never has a length of 4n + 1).
_TOKENS: dict[type, tuple[str, int]] = {
    bool: ("[01]", 1),
    int: ("-?[0-9]{1,9}", 10),
    # Scores, in millionths (no dot: dots separate the tokens); a score is kept to two decimals.
    float: ("-?[0-9]{1,18}", 19),
    datetime: ("-?[0-9]{1,16}", 17),
    uuid.UUID: ("[0-9a-f]{32}", 32),
    str: ("(?:[A-Za-z0-9_-]{4}){0,255}(?:[A-Za-z0-9_-]{2,3})?", _MAX_TEXT_TOKEN),
}


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(slots=True)
class Window(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed(
        "The cursor is not valid for this list; start again without one.",
        errors=[{"loc": ["query", "cursor"], "message": "invalid cursor", "type": "cursor"}],
    )


class CursorShape:
    """What one list's cursors hold: the values of these columns, in this order."""

    def __init__(self, *columns: Column) -> None:
        self.columns = columns
        self.kinds = [column.type.python_type for column in columns]
        tokens = [_TOKENS[kind] for kind in self.kinds]
        self.pattern = "^" + r"\.".join(pattern for pattern, _ in tokens) + "$"
        self.max_length = sum(length for _, length in tokens) + len(tokens) - 1
        self._match = re.compile(self.pattern).fullmatch

    def encode(self, row: Any) -> str:
        cursor = ".".join(
            _encode(kind, getattr(row, column.key))
            for column, kind in zip(self.columns, self.kinds, strict=True)
        )
        # A key beyond what the pattern admits (a name of more than 767 bytes, a number of
        # ten digits) would hand out a cursor the server then refuses: fail here instead.
        if len(cursor) > self.max_length or not self._match(cursor):
            raise ValueError(f"a sort key of {row!r} does not fit the cursor's pattern")
        return cursor

    def decode(self, cursor: str) -> dict[str, Any]:
        """The column values a cursor holds, by column key (422 when it is not one)."""
        if len(cursor) > self.max_length or not self._match(cursor):
            raise _invalid_cursor()
        tokens = cursor.split(".")
        return {
            column.key: _decode(kind, token)
            for column, kind, token in zip(self.columns, self.kinds, tokens, strict=True)
        }


def _encode(kind: type, value: Any) -> str:
    if kind is datetime:
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str((moment - _EPOCH) // timedelta(microseconds=1))
    if kind is uuid.UUID:
        return value.hex
    if kind is bool:
        return "1" if value else "0"
    if kind is str:
        return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    if kind is float:
        return str(round(value * 1_000_000))
    return str(value)


def _decode(kind: type, token: str) -> Any:
    if kind is datetime:
        return _EPOCH + timedelta(microseconds=int(token))
    if kind is uuid.UUID:
        return uuid.UUID(hex=token)
    if kind is bool:
        return token == "1"
    if kind is str:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        # Any bytes are a position: a forged cursor's text is read leniently (and NUL,
        # which PostgreSQL text cannot hold, dropped) rather than refused.
        return raw.decode(errors="replace").replace("\x00", "")
    if kind is float:
        return int(token) / 1_000_000
    return int(token)


@dataclass(frozen=True)
class Keyset:
    """A list's order: columns and directions, the last one unique. Lists that offer several
    orders share one CursorShape holding every column they sort by."""

    keys: Sequence[tuple[Column, Direction]]
    cursor: CursorShape = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.cursor is None:
            object.__setattr__(self, "cursor", CursorShape(*(c for c, _ in self.keys)))


def paging(shape: CursorShape) -> Any:
    """The `limit` and `cursor` query parameters of a list whose cursors have this shape."""

    async def page_params(  # async: no thread-pool hop per request
        limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page."),
        cursor: str | None = Query(
            None,
            max_length=shape.max_length,
            pattern=shape.pattern,
            description="`next_cursor` of the previous page.",
        ),
    ) -> PageParams:
        return PageParams(limit=limit, cursor=cursor)

    return Annotated[PageParams, Depends(page_params)]


def _after(keys: Sequence[tuple[Column, Direction]], values: dict[str, Any]) -> Any:
    """Rows strictly after `values` in the given order (expanded, so mixed directions work)."""
    # Bound as typed literals: SQLAlchemy refuses `<`/`>` against a bare Python bool (a
    # `pinned` sort key), and the column's type keeps datetimes bound the same way.
    bound = [literal(values[column.key], column.type) for column, _ in keys]
    clauses = []
    for i, (column, direction) in enumerate(keys):
        equal_prefix = [keys[j][0] == bound[j] for j in range(i)]
        beyond = column > bound[i] if direction == "asc" else column < bound[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


async def paginate(
    session: AsyncSession, stmt: Select[Any], order: Keyset, params: PageParams
) -> Window[Any]:
    """Run `stmt` (selecting one entity) in `order`, from the position `params.cursor` names."""
    if params.cursor:
        stmt = stmt.where(_after(order.keys, order.cursor.decode(params.cursor)))
    sort = [c.asc() if d == "asc" else c.desc() for c, d in order.keys]
    rows = list((await session.scalars(stmt.order_by(*sort).limit(params.limit + 1))).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        next_cursor = order.cursor.encode(rows[-1])
    return Window(rows, next_cursor)
