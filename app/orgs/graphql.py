"""GraphQL: the caller's organisation."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from app.core.graphql import Context
from app.orgs import service
from app.orgs.schemas import OrgOut


@strawberry.type(name="Org")
class OrgType:
    id: uuid.UUID
    name: str
    created_at: datetime

    @classmethod
    def of(cls, out: OrgOut) -> OrgType:
        return cls(id=out.id, name=out.name, created_at=out.created_at)


@strawberry.type
class Query:
    @strawberry.field(description="The caller's organisation.")
    async def org(self, info: Info[Context, None]) -> OrgType:
        actor = await info.context.actor()
        async with info.context.runtime.read_session() as session:
            org = await service.get_org(session, actor)
        return OrgType.of(OrgOut.model_validate(org))
