from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from app.core.schemas import Instant, ResponseModel


class ActorKind(StrEnum):
    key = "key"
    member = "member"
    automod = "automod"
    system = "system"


class AuditActor(ResponseModel):
    type: ActorKind
    id: uuid.UUID | None = Field(
        description="The API key's id, the member's id or the automod rule's id."
    )
    name: str | None = Field(description="The key's or the rule's name; members go by id only.")


class AuditEntryOut(ResponseModel):
    id: uuid.UUID
    at: AwareDatetime
    actor: AuditActor
    action: str = Field(description="`<target_type>.<what happened>`, e.g. `channel.updated`.")
    community_id: uuid.UUID | None
    target_type: str
    target_id: uuid.UUID | None
    before: dict[str, Any] | None = Field(
        description="The changed fields before the write: ids and states, never text."
    )
    after: dict[str, Any] | None = Field(
        description="The changed fields after the write: ids and states, never text."
    )
    reason: str | None


ACTION_PATTERN = r"^[a-z_]{1,32}\.[a-z_]{1,31}$"


class AuditQuery(BaseModel):
    """The filters, as GraphQL passes them (REST declares the same rules as parameters)."""

    action: str | None = Field(None, pattern=ACTION_PATTERN)
    since: Instant | None = None
    until: Instant | None = None
