"""GraphQL: the audit log, through the same service as REST; types derive from its schemas.
(CSV export stays REST: it is a download, not a graph.)"""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.experimental import pydantic as derived
from strawberry.scalars import JSON
from strawberry.types import Info

from app.audit import service
from app.audit.schemas import AuditActor, AuditEntryOut, AuditQuery
from app.core.graphql import Context, page, parse

Ctx = Info[Context, None]


@derived.type(model=AuditActor, all_fields=True, name="AuditActor")
class AuditActorType:
    pass


@derived.type(model=AuditEntryOut, all_fields=True, name="AuditEntry")
class AuditEntryType:
    before: JSON | None = strawberry.field(
        description="The changed fields before the write: ids and states, never text."
    )
    after: JSON | None = strawberry.field(
        description="The changed fields after the write: ids and states, never text."
    )


@strawberry.type
class AuditPage:
    items: list[AuditEntryType]
    next_cursor: str | None


@strawberry.type
class Query:
    @strawberry.field(
        description="Who changed what, newest first (every staff and automod write). Role: manager."
    )
    async def audit_log(
        self,
        info: Ctx,
        community_id: uuid.UUID | None = None,
        actor_id: uuid.UUID | None = None,
        action: str | None = None,
        target_id: uuid.UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> AuditPage:
        actor = await info.context.actor()
        checked = parse(
            AuditQuery,
            {
                "action": action,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        )
        wanted = service.AuditFilter(
            community_id, actor_id, checked.action, target_id, checked.since, checked.until
        )
        params = page(first, after)
        async with info.context.runtime.read_session() as session:
            window = await service.list_entries(session, actor, wanted, params)
        items = [AuditEntryType.from_pydantic(entry) for entry in window.items]
        return AuditPage(items=items, next_cursor=window.next_cursor)
