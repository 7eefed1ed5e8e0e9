"""Pydantic bases and field types shared by every domain's REST schemas."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)


def has_nul(value: Any) -> bool:
    """Whether text anywhere in `value` holds a NUL, which PostgreSQL text cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, BaseModel):
        return any(has_nul(v) for v in value.__dict__.values())
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(has_nul(v) for v in value)
    return False


# Free text in a query string (`?q=`) or a body: no NUL, which PostgreSQL text cannot hold.
NO_NUL_PATTERN = r"^[^\x00]*$"
# Text a person must fill in: some character that is not a space (Unicode's White_Space,
# spelled out: regex engines disagree on what `\s` covers), and no NUL.
_SPACE = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"


def Text(max_length: int, *, min_length: int = 1) -> Any:
    """A required text field: stored exactly as sent (lengths count what was sent), at least
    one character besides spaces, no NUL."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=TEXT_PATTERN),
    ]


_CONSTRAINED = {"pattern", "format", "enum", "const"}


def _document_no_nul(node: Any, *, text: bool = False) -> None:
    """Give every free-text string in a schema the NUL-free pattern, so the document admits
    no text the model refuses."""
    if not isinstance(node, dict):
        return
    if (text or node.get("type") == "string") and not _CONSTRAINED & node.keys():
        node["pattern"] = NO_NUL_PATTERN
    _keys_by_pattern(node)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for branch in node.get(key, ()):
            _document_no_nul(branch)
    for key in ("items", "additionalProperties"):
        _document_no_nul(node.get(key))
    _document_no_nul(node.get("propertyNames"), text=True)
    for prop in node.get("properties", {}).values():
        _document_no_nul(prop)


def _keys_by_pattern(node: dict[str, Any]) -> None:
    """pydantic documents `dict[K, V]` with a patterned K as `patternProperties`, which
    leaves keys that miss the pattern unconstrained; say instead that every key must match
    and every value is a V."""
    patterns = node.get("patternProperties")
    if not patterns or len(patterns) != 1 or "additionalProperties" in node:
        return
    ((pattern, value),) = node.pop("patternProperties").items()
    node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
    node["additionalProperties"] = value


def request_schema_extra(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """`json_schema_extra` of models that requests carry (RequestModel's own)."""
    _document_no_nul(schema)


@functools.cache
def _scalar_kinds(model: type[BaseModel]) -> dict[str, type]:
    """The fields that hold one JSON scalar that pydantic would coerce: bool, int, float or
    a datetime (alone or with null)."""
    kinds = {}
    for name, field in model.model_fields.items():
        options = {a for a in get_args(field.annotation) if a is not type(None)}
        kind = options.pop() if len(options) == 1 else field.annotation
        if get_origin(kind) is Annotated:  # e.g. Instant: AwareDatetime with a validator
            kind = get_args(kind)[0]
        kind = datetime if kind is AwareDatetime else kind
        if kind in (bool, int, float, datetime):
            kinds[name] = kind
    return kinds


class RequestModel(BaseModel):
    """Request bodies: unknown fields are an error, so typos don't pass silently, and NUL
    characters are refused everywhere (a 422 here rather than a 500 at the INSERT). Text is
    kept as sent, never trimmed: what the document admits is exactly what is accepted."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=request_schema_extra)

    @field_validator("*", mode="before")
    @classmethod
    def _json_type(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `false` as 0, `0` as false, "7" as 7 and 7 as a time;
        # JSON says what type a value is, and the document promises exactly that type.
        kind = _scalar_kinds(cls).get(info.field_name or "")
        if kind is None or value is None:
            return value
        if kind is bool and not isinstance(value, bool):
            raise ValueError("must be true or false")
        if kind in (int, float) and (isinstance(value, bool | str)):
            raise ValueError("must be a number")
        if kind is datetime and isinstance(value, bool | int | float):
            raise ValueError("must be an ISO 8601 date-time string")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


def _patch_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Drop `null` from the documented type of a PatchModel's fields that may not be null."""
    request_schema_extra(schema, model)
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable or "anyOf" not in prop:
            continue
        kept = [branch for branch in prop["anyOf"] if branch != {"type": "null"}]
        del prop["anyOf"]
        if prop.get("default", ...) is None:
            del prop["default"]
        prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})


class PatchModel(RequestModel):
    """A PATCH body: every field may be left out, which keeps its value. Only the fields
    named in `nullable` may be sent as null (to clear a value); for the others null is a
    422, and the OpenAPI document says so by not admitting null."""

    model_config = ConfigDict(json_schema_extra=_patch_schema)
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Name = Text(100)


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00, year 9999 at -14:00
        raise ValueError("is outside the years Hearth can store") from None


_NUMBER = re.compile(r"\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")


def _not_a_number(value: Any) -> Any:
    """pydantic would read a number, or a query parameter's numeric text, as seconds since
    1970: `until=0.5` is a mistake, not the first second of 1970."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date-time with its offset, e.g. 2026-11-30T18:00:00Z")
    return value


# An instant sent with its UTC offset (`…+01:00` or `…Z`), kept and returned in UTC (`Z`).
Instant = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_in_utc)]
