"""Assets: images uploaded for content and feeds, typed from their bytes, stored where every
API replica can serve them, deduplicated per community, public at their URL."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from app.communities import service as communities
from app.core import audit
from app.core.auth import Actor, Role
from app.core.errors import Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.schedule.models import Asset, ContentAsset, ContentItem
from app.settings import Settings

UPLOAD_PATH = re.compile(r"/v1/communities/[^/]+/assets")
ASSET_ORDER = Keyset([(Asset.created_at, "desc"), (Asset.id, "desc")])
# Formats served as uploaded; any other image Pillow reads is re-encoded to PNG, so a
# browser or launcher never gets a format it may not render (BMP, TIFF, ICO, …).
KEPT = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# Far fewer pixels than Pillow's own bomb limit: an announcement image, not a poster.
MAX_PIXELS = 40_000_000
# What published content is, for the rule that its assets stay.
LIVE = ("publishing", "published", "partially_published")


@dataclass(frozen=True)
class Sniffed:
    data: bytes
    content_type: str
    width: int
    height: int
    filename: str


def sniff(data: bytes, filename: str) -> Sniffed:
    """The image the bytes are (whatever the client called them), re-encoded when its
    format is not one Hearth serves as is. 415 for anything that is not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UnsupportedMediaType(
                    f"The image is {image.width} by {image.height}; Hearth takes at most"
                    f" {MAX_PIXELS:,} pixels."
                )
            image.load()
            stem = Path(filename).stem or "image"
            if image.format in KEPT:
                return Sniffed(data, KEPT[image.format], image.width, image.height, filename)
            out = io.BytesIO()
            image.save(out, format="PNG")
            return Sniffed(out.getvalue(), "image/png", image.width, image.height, f"{stem}.png")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        if isinstance(exc, UnsupportedMediaType):
            raise
        raise UnsupportedMediaType(
            "The file is not an image Hearth can read (PNG, JPEG, GIF, WebP; other formats"
            " Pillow reads are converted to PNG)."
        ) from exc


def public_url(settings: Settings, asset: Asset) -> str:
    path = f"/v1/assets/{asset.id}/content"
    return f"{settings.public_url.rstrip('/')}{path}" if settings.public_url else path


async def upload(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    filename: str,
    data: bytes,
    settings: Settings,
) -> tuple[Asset, bool]:
    """Store an upload; the same bytes again in the community return the stored asset.
    Returns the asset and whether it is new. Role: moderator."""
    actor.require(Role.moderator)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"The file has {len(data)} bytes; uploads are limited to"
            f" {settings.max_upload_bytes} (HEARTH_MAX_UPLOAD_BYTES)."
        )
    # Decoding an image is CPU work: off the event loop.
    sniffed = await asyncio.to_thread(sniff, data, filename)
    community = await communities.get_community(session, actor, community_id)
    digest = hashlib.sha256(sniffed.data).hexdigest()
    existing = await session.scalar(
        select(Asset).where(Asset.community_id == community.id, Asset.sha256 == digest)
    )
    if existing is not None:
        return existing, False
    asset = Asset(
        id=uuid.uuid4(),
        org_id=actor.org_id,
        community_id=community.id,
        filename=sniffed.filename[:255],
        content_type=sniffed.content_type,
        bytes=len(sniffed.data),
        sha256=digest,
        width=sniffed.width,
        height=sniffed.height,
        created_by=actor.key_id,
    )
    if settings.asset_dir:
        asset.stored_path = await asyncio.to_thread(
            _write, settings.asset_dir, sniffed.data, digest
        )
    else:
        asset.data = sniffed.data
    try:
        async with session.begin_nested():  # the same bytes, uploaded at the same moment
            session.add(asset)
    except IntegrityError:
        existing = await session.scalar(
            select(Asset).where(Asset.community_id == community.id, Asset.sha256 == digest)
        )
        if existing is None:
            raise
        return existing, False
    await _audit(session, actor, "asset.uploaded", asset, None, _state(asset))
    return asset, True


def _state(asset: Asset) -> dict[str, object]:
    """An asset as the audit log knows it: never its file name, which someone wrote."""
    return {"content_type": asset.content_type, "size": asset.bytes, "sha256": asset.sha256}


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    asset: Asset,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        org_id=asset.org_id,
        target_type="asset",
        target_id=asset.id,
        community_id=asset.community_id,
        before=before,
        after=after,
    )


def _write(directory: str, data: bytes, digest: str) -> str:
    """Content-addressed: the same bytes land on the same path, so a replica writing a file
    another already wrote changes nothing."""
    relative = f"{digest[:2]}/{digest}"
    target = Path(directory) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        partial = target.with_suffix(f".{uuid.uuid4().hex}.part")
        partial.write_bytes(data)
        partial.replace(target)
    return relative


async def get_asset(session: AsyncSession, actor: Actor, asset_id: uuid.UUID) -> Asset:
    actor.require(Role.viewer)
    asset = await session.scalar(
        select(Asset).where(Asset.id == asset_id, Asset.org_id == actor.org_id)
    )
    if asset is None:
        raise NotFound("No such asset.")
    return asset


async def list_assets(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, params: PageParams
) -> Window[Asset]:
    community = await communities.get_community(session, actor, community_id)
    stmt = select(Asset).where(Asset.community_id == community.id)
    return await paginate(session, stmt, ASSET_ORDER, params)


async def delete_asset(
    session: AsyncSession, actor: Actor, asset_id: uuid.UUID, settings: Settings
) -> None:
    """Delete an asset no published content uses; drafts that named it lose it. Role:
    manager."""
    actor.require(Role.manager)
    asset = await get_asset(session, actor, asset_id)
    users = list(
        await session.scalars(
            select(ContentItem)
            .join(ContentAsset, ContentAsset.content_id == ContentItem.id)
            .where(ContentAsset.asset_id == asset.id)
            .with_for_update()
        )
    )
    live = [item for item in users if item.status in LIVE]
    if live:
        raise Conflict(
            f"Published content uses this asset (“{live[0].title}”); retract it first.",
            extra={"content_ids": [str(item.id) for item in live]},
        )
    for item in users:
        item.asset_ids = [a for a in item.asset_ids if a != str(asset.id)]
        if item.feed.get("image_asset_id") == str(asset.id):
            item.feed = {**item.feed, "image_asset_id": None}
    path = asset.stored_path
    await _audit(session, actor, "asset.deleted", asset, _state(asset), None)
    await session.delete(asset)
    await session.flush()
    if path and settings.asset_dir:
        # Only when no other community's asset shares the bytes (the path is by content).
        shared = await session.scalar(select(Asset.id).where(Asset.stored_path == path).limit(1))
        if shared is None:
            (Path(settings.asset_dir) / path).unlink(missing_ok=True)


@dataclass(frozen=True)
class Served:
    body: bytes
    content_type: str
    sha256: str


async def content_of(session: AsyncSession, asset_id: uuid.UUID, settings: Settings) -> Served:
    """The bytes of an asset, for its public URL (no caller: assets are public by id)."""
    asset = await session.scalar(
        select(Asset).where(Asset.id == asset_id).options(undefer(Asset.data))
    )
    if asset is None:
        raise NotFound("No such asset.")
    if asset.data is not None:
        return Served(asset.data, asset.content_type, asset.sha256)
    if not settings.asset_dir or not asset.stored_path:
        raise NotFound("This asset's file is not available on this server.")
    path = Path(settings.asset_dir) / asset.stored_path
    try:
        body = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise NotFound("This asset's file is not available on this server.") from exc
    return Served(body, asset.content_type, asset.sha256)
