"""Pydantic bases and field types shared by every domain's REST schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator


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


class RequestModel(BaseModel):
    """Request bodies: unknown fields are an error, so typos don't pass silently, and NUL
    characters are refused everywhere (a 422 here rather than a 500 at the INSERT)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

# Free text in a query string (`?q=`): no NUL either.
NO_NUL_PATTERN = r"^[^\x00]*$"
