"""Communities: create, read, update, delete, and the member JWT secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import Channel, Community
from app.communities.platforms import ChannelKind
from app.communities.schemas import (
    CommunityCreate,
    CommunityOut,
    CommunityUpdate,
    with_default_locale,
)
from app.core import audit, events
from app.core.auth import Actor, Role, forget_community_tokens
from app.core.db import flush_or_conflict, utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import Keyset, PageParams, Window, paginate

COMMUNITY_ORDER = Keyset([(Community.created_at, "asc"), (Community.id, "asc")])


def to_out(community: Community) -> CommunityOut:
    return CommunityOut.model_validate(
        {
            **{
                k: getattr(community, k)
                for k in CommunityOut.model_fields
                if k != "has_member_secret"
            },
            "has_member_secret": community.member_secret is not None,
        }
    )


def _payload(community: Community) -> dict[str, Any]:
    return to_out(community).model_dump(mode="json")


# What the audit log keeps of a community: its staff-chosen names and settings. The
# description and tone profile are free text, so the log only says that they changed.
_AUDITED = ("slug", "name", "default_locale", "locales", "require_approval")
_AUDITED_TEXT = ("description", "tone")


def _audit_state(community: Community) -> dict[str, Any]:
    return {field: getattr(community, field) for field in _AUDITED}


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    community: Community,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        org_id=actor.org_id,
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        before=before,
        after=after,
        reason=reason,
    )


async def _ensure_slug_free(session: AsyncSession, org_id: uuid.UUID, slug: str) -> None:
    taken = await session.scalar(
        select(Community.id).where(Community.org_id == org_id, Community.slug == slug)
    )
    if taken is not None:
        raise Conflict(f"A community with the slug '{slug}' already exists in your organisation.")


async def create_community(session: AsyncSession, actor: Actor, data: CommunityCreate) -> Community:
    actor.require(Role.manager)
    await _ensure_slug_free(session, actor.org_id, data.slug)
    community = Community(
        org_id=actor.org_id,
        slug=data.slug,
        name=data.name,
        description=data.description,
        default_locale=data.default_locale,
        locales=data.locales,
        tone=data.tone.model_dump(),
        require_approval=data.require_approval,
    )
    session.add(community)
    await flush_or_conflict(session, f"A community with the slug '{data.slug}' already exists.")
    await _audit(session, actor, "community.created", community, after=_audit_state(community))
    await events.emit(session, actor.org_id, "community.created", _payload(community))
    return community


async def get_community(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, *, lock: bool = False
) -> Community:
    actor.require(Role.viewer)
    stmt = select(Community).where(Community.id == community_id, Community.org_id == actor.org_id)
    community = await session.scalar(stmt.with_for_update() if lock else stmt)
    if community is None:
        raise NotFound("No such community.")
    return community


async def get_community_by_slug(session: AsyncSession, actor: Actor, slug: str) -> Community:
    actor.require(Role.viewer)
    community = await session.scalar(
        select(Community).where(Community.slug == slug, Community.org_id == actor.org_id)
    )
    if community is None:
        raise NotFound("No such community.")
    return community


async def get_visible_community(
    session: AsyncSession,
    actor: Actor,
    *,
    community_id: uuid.UUID | None = None,
    slug: str | None = None,
) -> Community:
    """A community by id or slug as the caller may see it: staff (viewer) any of their org's,
    a member only their own (any other is not found)."""
    if not actor.is_member:
        if community_id is not None:
            return await get_community(session, actor, community_id)
        return await get_community_by_slug(session, actor, slug or "")
    stmt = select(Community).where(
        Community.id == actor.community_id, Community.org_id == actor.org_id
    )
    if community_id is not None:
        stmt = stmt.where(Community.id == community_id)
    else:
        stmt = stmt.where(Community.slug == slug)
    community = await session.scalar(stmt)
    if community is None:
        raise NotFound("No such community.")
    return community


def require_settings_access(actor: Actor) -> None:
    """A community's settings (channels, tone, whether member tokens are on) are for staff;
    members see only its public face (name, description, locales)."""
    actor.require(Role.viewer)


async def list_communities(
    session: AsyncSession, actor: Actor, params: PageParams
) -> Window[Community]:
    actor.require(Role.viewer)
    stmt = select(Community).where(Community.org_id == actor.org_id)
    return await paginate(session, stmt, COMMUNITY_ORDER, params)


async def update_community(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, data: CommunityUpdate
) -> Community:
    actor.require(Role.manager)
    community = await get_community(session, actor, community_id)
    old_state = _audit_state(community)
    old_text = {field: getattr(community, field) for field in _AUDITED_TEXT}
    changes = data.model_dump(exclude_unset=True)
    if "slug" in changes and changes["slug"] != community.slug:
        await _ensure_slug_free(session, actor.org_id, changes["slug"])
    for field in ("slug", "name", "description", "default_locale", "require_approval"):
        if field in changes:
            setattr(community, field, changes[field])
    if data.tone is not None:
        community.tone = data.tone.model_dump()
    if data.locales is not None or data.default_locale is not None:
        locales = data.locales if data.locales is not None else community.locales
        community.locales = with_default_locale(community.default_locale, locales)
    community.updated_at = utcnow()
    await flush_or_conflict(
        session, f"A community with the slug '{community.slug}' already exists."
    )
    if {"name", "default_locale", "locales"} & changes.keys():
        await touch_feeds(session, community_id=community.id)  # their title and locales
    before, after = audit.changes(old_state, _audit_state(community))
    for field in _AUDITED_TEXT:
        if getattr(community, field) != old_text[field]:
            after[field] = "changed"
    await _audit(session, actor, "community.updated", community, before=before, after=after)
    await events.emit(session, actor.org_id, "community.updated", _payload(community))
    return community


async def touch_feeds(
    session: AsyncSession,
    *,
    community_id: uuid.UUID | None = None,
    channel_ids: Iterable[uuid.UUID | str] = (),
) -> None:
    """What these launcher feeds show has changed (all of a community's, or the listed
    channels' that are feeds): API replicas drop their cached answers within a second."""
    stmt = update(Channel).where(Channel.kind == ChannelKind.launcher_feed.value)
    if community_id is not None:
        stmt = stmt.where(Channel.community_id == community_id)
    else:
        ids = [uuid.UUID(str(cid)) for cid in channel_ids]
        if not ids:
            return
        stmt = stmt.where(Channel.id.in_(ids))
    await session.execute(
        stmt.values(feed_version=Channel.feed_version + 1, feed_changed_at=utcnow()),
        execution_options={"synchronize_session": False},
    )


async def delete_community(session: AsyncSession, actor: Actor, community_id: uuid.UUID) -> None:
    actor.require(Role.owner)
    community = await get_community(session, actor, community_id)
    payload = {"id": str(community.id), "slug": community.slug, "name": community.name}
    state = {"slug": community.slug, "name": community.name}
    await session.delete(community)
    await session.flush()
    await _audit(session, actor, "community.deleted", community, before=state)
    await events.emit(session, actor.org_id, "community.deleted", payload)


async def set_member_secret(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, secret: str
) -> None:
    actor.require(Role.owner)
    community = await get_community(session, actor, community_id)
    community.member_secret = secret
    community.updated_at = utcnow()
    forget_community_tokens(session, community.id)  # old tokens stop working at once here
    await session.flush()
    # Only that it was set: the secret itself never enters the log.
    await _audit(
        session, actor, "community.member_secret_set", community, after={"member_secret": "set"}
    )


async def member_token_key(
    session: AsyncSession, community_id: uuid.UUID
) -> tuple[uuid.UUID, str] | None:
    """(org id, member secret) of a community that accepts member tokens, else None.
    For the member-token check, which runs before any caller is known."""
    row = (
        await session.execute(
            select(Community.org_id, Community.member_secret).where(Community.id == community_id)
        )
    ).one_or_none()
    if row is None or row.member_secret is None:
        return None
    return row.org_id, row.member_secret


async def find_by_ref(session: AsyncSession, ref: str) -> Community:
    """A community by id or slug across the installation, for commands run on the server."""
    try:
        stmt = select(Community).where(Community.id == uuid.UUID(ref))
    except ValueError:
        stmt = select(Community).where(Community.slug == ref)
    found = list(await session.scalars(stmt.limit(2)))
    if not found:
        raise NotFound(f"No community {ref!r}.")
    if len(found) > 1:
        raise Conflict(f"Several organisations have a community {ref!r}; give its id instead.")
    return found[0]


async def find_for_member_tokens(session: AsyncSession, ref: str) -> Community:
    """A community by id or slug across the installation, for `hearth member-token`."""
    found = await find_by_ref(session, ref)
    if found.member_secret is None:
        raise Conflict(f"Community {ref!r} has no member secret; set one first.")
    return found


async def pause(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, reason: str
) -> Community:
    """Crisis pause: nothing of the community is delivered until it is resumed."""
    actor.require(Role.manager)
    community = await get_community(session, actor, community_id, lock=True)
    if community.paused_at is not None:
        raise Conflict(
            f"Deliveries of this community are already paused (since"
            f" {community.paused_at.isoformat()}).",
            extra={"paused_at": community.paused_at.isoformat().replace("+00:00", "Z")},
        )
    community.paused_at, community.pause_reason = utcnow(), reason
    community.updated_at = community.paused_at
    await session.flush()
    await _audit(
        session,
        actor,
        "community.paused",
        community,
        before={"paused": False},
        after={"paused": True},
        reason=reason,
    )
    await events.emit(session, actor.org_id, "community.paused", _payload(community))
    return community


async def resume(session: AsyncSession, actor: Actor, community_id: uuid.UUID) -> Community:
    actor.require(Role.manager)
    community = await get_community(session, actor, community_id, lock=True)
    if community.paused_at is None:
        raise Conflict("Deliveries of this community are not paused.")
    community.paused_at = community.pause_reason = None
    community.updated_at = utcnow()
    await session.flush()
    await _audit(
        session,
        actor,
        "community.resumed",
        community,
        before={"paused": True},
        after={"paused": False},
    )
    await events.emit(session, actor.org_id, "community.resumed", _payload(community))
    return community
