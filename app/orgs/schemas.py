from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.core.auth import Role
from app.core.schemas import Name, RequestModel, ResponseModel


class OrgCreate(RequestModel):
    name: Name


class OrgUpdate(RequestModel):
    name: Name


class OrgOut(ResponseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyCreate(RequestModel):
    name: Name
    role: Role = Field(description="owner > manager > moderator > analyst > viewer")


class ApiKeyOut(ResponseModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown only in this response; store it now.")


class OrgCreated(ResponseModel):
    org: OrgOut
    owner_key: str = Field(description="An owner API key. Shown only in this response.")
    owner_key_id: uuid.UUID
