"""REST: /v1/orgs, /v1/org, /v1/api-keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.deps import CurrentActor, Session, SystemAdmin
from app.core.errors import document_not_found, problem_responses
from app.core.pagination import Page, paging
from app.orgs import service
from app.orgs.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    OrgCreate,
    OrgCreated,
    OrgOut,
    OrgUpdate,
)

KeyPaging = paging(service.KEY_ORDER.cursor)

router = APIRouter(prefix="/v1", tags=["organisations"], responses=problem_responses(401, 403, 422))


@router.post(
    "/orgs",
    status_code=status.HTTP_201_CREATED,
    response_model=OrgCreated,
    dependencies=[SystemAdmin],
)
async def create_org(
    data: OrgCreate, session: Session, request: Request, response: Response
) -> OrgCreated:
    """Create an organisation and its first owner key. Needs the system admin token."""
    org, owner = await service.create_org(session, data)
    response.headers["Location"] = str(request.url_for("get_org"))
    return OrgCreated(
        org=OrgOut.model_validate(org), owner_key=owner.key, owner_key_id=owner.record.id
    )


@router.get("/org", response_model=OrgOut)
async def get_org(session: Session, actor: CurrentActor) -> OrgOut:
    """The caller's organisation. Role: viewer."""
    return OrgOut.model_validate(await service.get_org(session, actor))


@router.patch("/org", response_model=OrgOut)
async def update_org(data: OrgUpdate, session: Session, actor: CurrentActor) -> OrgOut:
    """Rename the caller's organisation. Role: owner."""
    return OrgOut.model_validate(await service.update_org(session, actor, data))


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    data: ApiKeyCreate, session: Session, actor: CurrentActor, response: Response
) -> ApiKeyCreated:
    """Issue an API key with a role. The key is shown only in this response. Role: owner."""
    issued = await service.create_api_key(session, actor, data)
    response.headers["Location"] = f"/v1/api-keys/{issued.record.id}"
    return ApiKeyCreated(**ApiKeyOut.model_validate(issued.record).model_dump(), key=issued.key)


@router.get("/api-keys", response_model=Page[ApiKeyOut])
async def list_api_keys(
    session: Session,
    actor: CurrentActor,
    page: KeyPaging,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys.")] = False,
) -> Page[ApiKeyOut]:
    """The organisation's keys, without secrets, with `last_used_at`. Role: owner."""
    window = await service.list_api_keys(session, actor, page, include_revoked=include_revoked)
    return Page[ApiKeyOut](
        items=[ApiKeyOut.model_validate(k) for k in window.items], next_cursor=window.next_cursor
    )


@router.delete(
    "/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409),
)
async def revoke_api_key(key_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """Revoke a key; it stops working at once. Role: owner."""
    await service.revoke_api_key(session, actor, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


document_not_found(router)
