"""Content items: write, read, list, edit (with optimistic versions), delete."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.communities.models import Channel
from app.core import audit, events
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, missing_reference
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.text import render_markdown
from app.schedule.models import Asset, ContentAsset, ContentChannel, ContentItem
from app.schedule.schemas import ContentCreate, ContentOut, ContentStatus, ContentUpdate

CONTENT_ORDER = Keyset([(ContentItem.created_at, "desc"), (ContentItem.id, "desc")])
# Before anything went out: such content may still be deleted.
UNPUBLISHED = ("draft", "in_review", "approved", "scheduled", "cancelled")
PUBLISHED = ("published", "partially_published")
# Statuses that are edited without touching the workflow.
EDITABLE = (*UNPUBLISHED, *PUBLISHED, "failed")


def to_out(item: ContentItem) -> ContentOut:
    return ContentOut.model_validate(item, from_attributes=True)


def event_payload(item: ContentItem) -> dict[str, Any]:
    return to_out(item).model_dump(mode="json")


# What the audit log says of an item: its states and references, never its words.
AUDITED = ("status", "version", "kind", "publish_at", "recurring", "channel_ids", "asset_ids")


def audit_state(item: ContentItem) -> dict[str, Any]:
    return {
        field: list(value) if isinstance(value, list) else value
        for field in AUDITED
        for value in [getattr(item, field)]
    }


async def load(
    session: AsyncSession, actor: Actor, content_id: uuid.UUID, *, lock: bool = False
) -> ContentItem:
    """An item of the caller's org (404 otherwise). `lock` holds its row for a transition."""
    actor.require(Role.viewer)
    stmt = select(ContentItem).where(
        ContentItem.id == content_id, ContentItem.org_id == actor.org_id
    )
    if lock:
        stmt = stmt.with_for_update()
    item = await session.scalar(stmt)
    if item is None:
        raise NotFound("No such content.")
    return item


async def _channels_of(
    session: AsyncSession, community_id: uuid.UUID, channel_ids: list[uuid.UUID]
) -> list[Channel]:
    """The channels named, all of this community (404 naming the field otherwise)."""
    if not channel_ids:
        return []
    found = {
        channel.id: channel
        for channel in await session.scalars(
            select(Channel).where(Channel.id.in_(channel_ids), Channel.community_id == community_id)
        )
    }
    missing = [cid for cid in channel_ids if cid not in found]
    if missing:
        raise missing_reference("channel_ids", f"No channel {missing[0]} in this community.")
    return [found[cid] for cid in channel_ids]


async def _check_references(
    session: AsyncSession,
    community_id: uuid.UUID,
    data: ContentCreate | ContentUpdate,
    channel_ids: list[uuid.UUID],
) -> None:
    variants = data.variants or {}
    stray = [cid for cid in variants if cid not in channel_ids]
    if stray:
        raise missing_reference(
            "variants", f"The variant for {stray[0]} names a channel not in channel_ids."
        )
    wanted = list(data.asset_ids or [])
    if data.feed is not None and data.feed.image_asset_id is not None:
        wanted.append(data.feed.image_asset_id)
    if not wanted:
        return
    found = set(
        await session.scalars(
            select(Asset.id).where(Asset.id.in_(wanted), Asset.community_id == community_id)
        )
    )
    missing = [aid for aid in wanted if aid not in found]
    if missing:
        field = "asset_ids" if missing[0] in (data.asset_ids or []) else "feed"
        raise missing_reference(field, f"No asset {missing[0]} in this community.")


def asset_ids_of(item: ContentItem) -> list[uuid.UUID]:
    """Every asset the item uses: its attachments and its feed image."""
    ids = [uuid.UUID(a) for a in item.asset_ids]
    image = item.feed.get("image_asset_id")
    if image:
        ids.append(uuid.UUID(image))
    return list(dict.fromkeys(ids))


async def set_assets(session: AsyncSession, item: ContentItem) -> None:
    await session.execute(delete(ContentAsset).where(ContentAsset.content_id == item.id))
    session.add_all(ContentAsset(content_id=item.id, asset_id=a) for a in asset_ids_of(item))


def _stored(field: str, value: Any) -> Any:
    """A validated field as its JSON column holds it."""
    if field == "channel_ids" or field == "asset_ids":
        return [str(v) for v in value]
    if field == "variants":
        return {str(cid): v.model_dump(exclude_none=True) for cid, v in value.items()}
    if field == "translations":
        return {locale: t.model_dump() for locale, t in value.items()}
    if field in ("feed", "recurrence"):
        return None if value is None else value.model_dump(mode="json")
    if field == "fields":
        # Named fields left out are not stored: what travels is what the author wrote.
        return value.model_dump(mode="json", exclude_unset=True)
    return value


async def set_channels(
    session: AsyncSession, item: ContentItem, channel_ids: list[uuid.UUID]
) -> None:
    await session.execute(delete(ContentChannel).where(ContentChannel.content_id == item.id))
    session.add_all(ContentChannel(content_id=item.id, channel_id=cid) for cid in channel_ids)


async def create_content(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, data: ContentCreate
) -> ContentItem:
    actor.require(Role.moderator)
    community = await communities.get_community(session, actor, community_id)
    await _channels_of(session, community.id, data.channel_ids)
    await _check_references(session, community.id, data, data.channel_ids)
    now = utcnow()
    item = ContentItem(
        id=uuid.uuid4(),
        org_id=actor.org_id,
        community_id=community.id,
        kind=data.kind.value,
        status=ContentStatus.draft.value,
        title=data.title,
        body=data.body,
        body_html=render_markdown(data.body),
        locale=data.locale or community.default_locale,
        version=1,
        created_by=actor.key_id,
        created_at=now,
        updated_at=now,
        **{
            field: _stored(field, getattr(data, field))
            for field in (
                "translations",
                "channel_ids",
                "variants",
                "asset_ids",
                "tags",
                "fields",
                "feed",
                "recurrence",
                "publish_at",
            )
        },
    )
    item.recurring = item.recurrence is not None
    session.add(item)
    await session.flush()
    await set_channels(session, item, data.channel_ids)
    await set_assets(session, item)
    await session.flush()
    return item


async def list_content(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    params: PageParams,
    *,
    status: str | None = None,
    kind: str | None = None,
    channel_id: uuid.UUID | None = None,
    q: str | None = None,
) -> Window[ContentItem]:
    """Newest first, filtered by status, kind, channel and text in the title or body."""
    community = await communities.get_community(session, actor, community_id)
    stmt = select(ContentItem).where(ContentItem.community_id == community.id)
    if status is not None:
        stmt = stmt.where(ContentItem.status == status)
    if kind is not None:
        stmt = stmt.where(ContentItem.kind == kind)
    if channel_id is not None:
        stmt = stmt.where(
            ContentItem.id.in_(
                select(ContentChannel.content_id).where(ContentChannel.channel_id == channel_id)
            )
        )
    if q:
        stmt = stmt.where(
            or_(
                ContentItem.title.icontains(q, autoescape=True),
                ContentItem.body.icontains(q, autoescape=True),
            )
        )
    return await paginate(session, stmt, CONTENT_ORDER, params)


def check_version(item: ContentItem, version: int) -> None:
    if version != item.version:
        raise Conflict(
            f"The content changed since you read it (version {version}; it is now"
            f" {item.version}). Read it again and reapply your change.",
            extra={"version": item.version, "current_status": item.status},
        )


def conflict_with_status(item: ContentItem, doing: str) -> Conflict:
    return Conflict(
        f"Content that is {item.status.replace('_', ' ')} cannot be {doing}.",
        extra={"current_status": item.status},
    )


async def update_content(
    session: AsyncSession, actor: Actor, content_id: uuid.UUID, data: ContentUpdate
) -> tuple[ContentItem, bool, dict[str, Any]]:
    """Apply an edit. Returns the item, whether what was sent must be edited too
    (`redeliver` on published content), which the workflow turns into delivery actions, and
    the item's `audit_state` before the edit (the workflow audits the edit as a whole)."""
    actor.require(Role.moderator)
    if data.redeliver:
        actor.require(Role.manager)
    item = await load(session, actor, content_id, lock=True)
    check_version(item, data.version)
    if item.status not in EDITABLE:
        raise conflict_with_status(item, "edited")
    before = audit_state(item)
    if item.status in (*PUBLISHED, "failed"):
        # What went out is what players see (the launcher feed shows the item as it is
        # now), and a failed row's retry sends it: a manager's word, as publishing was.
        actor.require(Role.manager)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "redeliver"})
    channel_ids = (
        data.channel_ids
        if data.channel_ids is not None
        else [uuid.UUID(cid) for cid in item.channel_ids]
    )
    if data.channel_ids is not None:
        if item.status in (*PUBLISHED, "failed") and set(map(str, channel_ids)) != set(
            item.channel_ids
        ):
            raise Conflict(
                "The channels of published content are fixed; retract it and publish a new"
                " item to reach other channels.",
                extra={"current_status": item.status},
            )
        await _channels_of(session, item.community_id, channel_ids)
        await set_channels(session, item, channel_ids)
    await _check_references(session, item.community_id, data, channel_ids)
    if data.variants is None and data.channel_ids is not None:
        # Variants of channels no longer listed go with them.
        item.variants = {k: v for k, v in item.variants.items() if uuid.UUID(k) in channel_ids}
    for field in changes:
        value = getattr(data, field)
        setattr(item, field, value.value if field == "kind" else _stored(field, value))
    if "body" in changes:
        item.body_html = render_markdown(item.body)
    if "recurrence" in changes:
        item.recurring = item.recurrence is not None
    if "asset_ids" in changes or "feed" in changes:
        await set_assets(session, item)
    item.version += 1
    item.updated_at = utcnow()
    if item.status in (*PUBLISHED, "failed"):
        # Launcher feeds render the item as it is now (redeliver or not).
        await communities.touch_feeds(session, channel_ids=item.channel_ids)
    await session.flush()
    return item, data.redeliver and item.status in PUBLISHED, before


async def delete_content(session: AsyncSession, actor: Actor, content_id: uuid.UUID) -> None:
    actor.require(Role.manager)
    item = await load(session, actor, content_id, lock=True)
    if item.status not in UNPUBLISHED:
        raise conflict_with_status(item, "deleted; retract it instead")
    payload = {"id": str(item.id), "community_id": str(item.community_id), "title": item.title}
    await audit.record(
        session,
        actor,
        "content.deleted",
        org_id=item.org_id,
        target_type="content",
        target_id=item.id,
        community_id=item.community_id,
        before={"status": item.status, "version": item.version},
    )
    # A series' copies not yet sent go with it; published ones stay, unlinked.
    pending = await session.scalars(
        select(ContentItem).where(
            ContentItem.series_id == item.id, ContentItem.status == "scheduled"
        )
    )
    for copy in pending:
        await session.delete(copy)
    await session.delete(item)
    await session.flush()
    await events.emit(session, actor.org_id, "content.deleted", payload)
