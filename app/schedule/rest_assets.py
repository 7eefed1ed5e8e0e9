"""REST: asset uploads, their metadata, and their public bytes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile, status

from app.core.conditional import etag_matches
from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import document_not_found, problem_responses
from app.core.pagination import Page, paging
from app.schedule import assets
from app.schedule.models import Asset
from app.schedule.schemas import AssetOut
from app.settings import Settings

router = APIRouter(prefix="/v1", tags=["assets"], responses=problem_responses(401, 403, 422))
AssetPaging = paging(assets.ASSET_ORDER.cursor)
IMAGE_TYPES = sorted(set(assets.KEPT.values()))
# The bytes behind an asset id never change: caches may keep them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"


def asset_out(asset: Asset, settings: Settings) -> AssetOut:
    return AssetOut(
        id=asset.id,
        community_id=asset.community_id,
        filename=asset.filename,
        content_type=asset.content_type,
        bytes=asset.bytes,
        sha256=asset.sha256,
        width=asset.width,
        height=asset.height,
        url=assets.public_url(settings, asset),
        created_at=asset.created_at,
    )


@router.post(
    "/communities/{community_id}/assets",
    status_code=status.HTTP_201_CREATED,
    response_model=AssetOut,
    responses={
        200: {"model": AssetOut, "description": "These bytes were uploaded before: that asset."},
        **problem_responses(404, 413, 415),
    },
)
async def upload_asset(
    community_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="An image: PNG, JPEG, GIF or WebP.")],
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
    response: Response,
) -> AssetOut:
    """Upload an image (multipart field `file`); its type comes from its bytes. Role:
    moderator."""
    data = await file.read()
    settings = runtime.settings
    asset, created = await assets.upload(
        session, actor, community_id, file.filename or "upload", data, settings
    )
    response.headers["Location"] = f"/v1/assets/{asset.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
    return asset_out(asset, settings)


@router.get("/communities/{community_id}/assets", response_model=Page[AssetOut])
async def list_assets(
    community_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
    page: AssetPaging,
) -> Page[AssetOut]:
    """The community's assets, newest first. Role: viewer."""
    window = await assets.list_assets(session, actor, community_id, page)
    return Page[AssetOut](
        items=[asset_out(a, runtime.settings) for a in window.items],
        next_cursor=window.next_cursor,
    )


@router.get("/assets/{asset_id}", response_model=AssetOut)
async def get_asset(
    asset_id: uuid.UUID, session: Session, actor: CurrentActor, runtime: RuntimeDep
) -> AssetOut:
    """An asset's metadata and public URL. Role: viewer."""
    return asset_out(await assets.get_asset(session, actor, asset_id), runtime.settings)


@router.delete(
    "/assets/{asset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409),
)
async def delete_asset(
    asset_id: uuid.UUID, session: Session, actor: CurrentActor, runtime: RuntimeDep
) -> Response:
    """Delete an asset; refused (409) while published content uses it. Role: manager."""
    await assets.delete_asset(session, actor, asset_id, runtime.settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/assets/{asset_id}/content",
    response_class=Response,
    responses={
        200: {
            "description": "The bytes, cacheable for a year; ETag is the sha256.",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in IMAGE_TYPES},
        },
        304: {"description": "Not modified (If-None-Match)."},
        404: problem_responses(404)[404],
    },
    openapi_extra={"security": []},
)
async def asset_content(
    asset_id: uuid.UUID, request: Request, session: Session, runtime: RuntimeDep
) -> Response:
    """The asset's bytes. Public: launchers and feed readers load images from here."""
    served = await assets.content_of(session, asset_id, runtime.settings)
    etag = f'"{served.sha256}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(served.body, media_type=served.content_type, headers=headers)


document_not_found(router)
