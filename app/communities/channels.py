"""Channels of a community: configuration per kind, secrets kept write-only, test sends."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import delivery
from app.communities import service as communities
from app.communities.models import Channel
from app.communities.platforms import PROFILES, ChannelKind, PlatformProfile
from app.communities.schemas import (
    CONFIG_MODELS,
    SECRET_FIELDS,
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
)
from app.core import audit, events, outbound, signing
from app.core.auth import Actor, Role
from app.core.db import flush_or_conflict, utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed, pydantic_errors
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.runtime import Runtime

CHANNEL_ORDER = Keyset([(Channel.created_at, "asc"), (Channel.id, "asc")])

_URL_FIELDS = ("webhook_url", "url", "avatar_url")


def mask_url(url: str) -> str:
    """Hide the token part of a webhook URL (its last path segment), keep the rest readable."""
    parsed = httpx.URL(url)
    head, _, _tail = parsed.path.rstrip("/").rpartition("/")
    return str(parsed.copy_with(path=f"{head}/****", query=None))


def public_config(kind: ChannelKind, config: dict[str, Any]) -> dict[str, Any]:
    shown = {}
    for key, value in config.items():
        if key in SECRET_FIELDS.get(kind, ()):
            if key.endswith("url"):
                shown[key] = mask_url(value)
            continue
        shown[key] = value
    return shown


def to_out(channel: Channel) -> ChannelOut:
    kind = ChannelKind(channel.kind)
    return ChannelOut(
        id=channel.id,
        community_id=channel.community_id,
        name=channel.name,
        kind=kind,
        config=public_config(kind, channel.config),
        enabled=channel.enabled,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _payload(channel: Channel) -> dict[str, Any]:
    return to_out(channel).model_dump(mode="json")


def _audit_state(channel: Channel) -> dict[str, Any]:
    """What the audit log keeps of a channel. Never its config: it holds webhook URLs,
    tokens and signing secrets (an update names the config keys it changed, no more)."""
    return {"name": channel.name, "kind": channel.kind, "enabled": channel.enabled}


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    channel: Channel,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        org_id=actor.org_id,
        target_type="channel",
        target_id=channel.id,
        community_id=channel.community_id,
        before=before,
        after=after,
    )


async def _check_urls(config: dict[str, Any], policy: outbound.OutboundPolicy) -> None:
    for key in _URL_FIELDS:
        if config.get(key):
            await outbound.check_url(config[key], policy, loc=["body", "config", key])


def _name_taken(name: str) -> str:
    return f"This community already has a channel named '{name}'."


def _taken_meanwhile(name: str, config: dict[str, Any]) -> str:
    """The 409 of a unique index hit: a concurrent request took the name (or feed slug)."""
    slug = config.get("public_slug")
    if slug is None:
        return _name_taken(name)
    return f"The channel name '{name}' or the feed name '{slug}' was just taken; choose another."


async def _ensure_name_free(session: AsyncSession, community_id: uuid.UUID, name: str) -> None:
    taken = await session.scalar(
        select(Channel.id).where(Channel.community_id == community_id, Channel.name == name)
    )
    if taken is not None:
        raise Conflict(_name_taken(name))


async def _ensure_feed_slug_free(
    session: AsyncSession, config: dict[str, Any], channel_id: uuid.UUID | None = None
) -> None:
    """A launcher feed's public slug names it across the whole server (`/v1/feeds/{slug}`)."""
    slug = config.get("public_slug")
    if slug is None:
        return
    stmt = select(Channel.id).where(Channel.public_slug == slug)
    if channel_id is not None:
        stmt = stmt.where(Channel.id != channel_id)
    if await session.scalar(stmt.limit(1)) is not None:
        raise Conflict(
            f"The feed name '{slug}' is taken on this server; choose another public_slug.",
            errors=[
                {"loc": ["body", "config", "public_slug"], "message": "taken", "type": "taken"}
            ],
        )


async def create_channel(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    data: ChannelCreate,
    *,
    policy: outbound.OutboundPolicy,
) -> tuple[Channel, str | None]:
    """Returns the channel and, for `webhook` channels, the signing secret (shown once)."""
    actor.require(Role.manager)
    # Checked before the first query: on SQLite that query takes the write lock, and DNS
    # may take seconds.
    config = _validate_config(data.kind, data.config)
    await _check_urls(config, policy)
    community = await communities.get_community(session, actor, community_id)
    signing_secret = None
    if data.kind == ChannelKind.webhook:
        signing_secret = config.setdefault("secret", signing.new_secret())
    await _ensure_name_free(session, community.id, data.name)
    await _ensure_feed_slug_free(session, config)
    channel = Channel(
        org_id=actor.org_id,
        community_id=community.id,
        name=data.name,
        kind=data.kind.value,
        config=config,
        public_slug=config.get("public_slug"),
    )
    session.add(channel)
    await flush_or_conflict(session, _taken_meanwhile(data.name, config))
    await _audit(session, actor, "channel.created", channel, after=_audit_state(channel))
    await events.emit(session, actor.org_id, "channel.created", _payload(channel))
    return channel, signing_secret


async def get_channel(session: AsyncSession, actor: Actor, channel_id: uuid.UUID) -> Channel:
    actor.require(Role.viewer)
    channel = await session.scalar(
        select(Channel).where(Channel.id == channel_id, Channel.org_id == actor.org_id)
    )
    if channel is None:
        raise NotFound("No such channel.")
    return channel


async def list_channels(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, params: PageParams
) -> Window[Channel]:
    community = await communities.get_community(session, actor, community_id)
    stmt = select(Channel).where(Channel.community_id == community.id)
    return await paginate(session, stmt, CHANNEL_ORDER, params)


def _validate_config(kind: ChannelKind, raw: dict[str, Any]) -> dict[str, Any]:
    try:
        validated = CONFIG_MODELS[kind].model_validate(raw)
    except ValidationError as exc:
        errors = pydantic_errors(exc.errors())
        for err in errors:
            err["loc"] = ["body", "config", *err["loc"]]
        raise ValidationFailed(
            f"The configuration is not valid for a {kind.value} channel.", errors=errors
        ) from exc
    return validated.model_dump(mode="json", exclude_none=True)


def _ensure_fields_of_kind(kind: ChannelKind, patch: dict[str, Any]) -> None:
    """A config field of another kind of channel (a `username` for Slack) conflicts with
    what this channel is: its kind never changes."""
    foreign = [key for key in patch if key not in CONFIG_MODELS[kind].model_fields]
    if foreign:
        raise Conflict(
            f"A {kind.value} channel has no {', '.join(foreign)} in its config.",
            errors=[
                {"loc": ["body", "config", key], "message": "not of this kind", "type": "kind"}
                for key in foreign
            ],
        )


def _merged_config(channel: Channel, patch: dict[str, Any]) -> dict[str, Any]:
    kind = ChannelKind(channel.kind)
    shown = public_config(kind, channel.config)
    merged = dict(channel.config)
    for key, value in patch.items():
        # A masked value sent back unchanged (a GET → PATCH round trip) keeps the secret.
        if key in SECRET_FIELDS.get(kind, ()) and value == shown.get(key):
            continue
        merged[key] = value
    return _validate_config(kind, merged)


async def update_channel(
    session: AsyncSession,
    actor: Actor,
    channel_id: uuid.UUID,
    data: ChannelUpdate,
    *,
    policy: outbound.OutboundPolicy,
) -> Channel:
    actor.require(Role.manager)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("config"):
        # Before the first query (see create_channel). A masked URL sent back unchanged is
        # checked too; it names the same host.
        await _check_urls(
            {k: v for k, v in changes["config"].items() if isinstance(v, str)}, policy
        )
    channel = await get_channel(session, actor, channel_id)
    old_state, old_config = _audit_state(channel), dict(channel.config)
    if changes.get("config"):
        _ensure_fields_of_kind(ChannelKind(channel.kind), changes["config"])
    if changes.get("name") is not None and changes["name"] != channel.name:
        await _ensure_name_free(session, channel.community_id, changes["name"])
        channel.name = changes["name"]
    if changes.get("enabled") is not None:
        channel.enabled = changes["enabled"]
    if changes.get("config") is not None:
        channel.config = _merged_config(channel, changes["config"])
        await _ensure_feed_slug_free(session, channel.config, channel.id)
        channel.public_slug = channel.config.get("public_slug")
    # A launcher feed's name, slug or state: what it answers changes. In SQL, so that a
    # concurrent bump (a delivery recorded meanwhile) is not lost.
    channel.feed_version = Channel.feed_version + 1
    channel.updated_at = channel.feed_changed_at = utcnow()
    await flush_or_conflict(session, _taken_meanwhile(channel.name, channel.config))
    before, after = audit.changes(old_state, _audit_state(channel))
    config_keys = _changed_keys(old_config, channel.config)
    if config_keys:
        after["config"] = config_keys  # which keys, never their values
    await _audit(session, actor, "channel.updated", channel, before=before, after=after)
    await events.emit(session, actor.org_id, "channel.updated", _payload(channel))
    return channel


async def delete_channel(session: AsyncSession, actor: Actor, channel_id: uuid.UUID) -> None:
    actor.require(Role.manager)
    channel = await get_channel(session, actor, channel_id)
    payload = {
        "id": str(channel.id),
        "community_id": str(channel.community_id),
        "name": channel.name,
    }
    state = _audit_state(channel)
    await session.delete(channel)
    await session.flush()
    await _audit(session, actor, "channel.deleted", channel, before=state)
    await events.emit(session, actor.org_id, "channel.deleted", payload)


async def test_channel(
    runtime: Runtime, actor: Actor, channel_id: uuid.UUID, text: str | None
) -> tuple[outbound.Outcome, str]:
    """Send a test message now, through the same code scheduled posts use.

    Reads in a short session and sends outside any transaction: a slow receiver must not
    hold a database lock.
    """
    actor.require(Role.manager)
    async with runtime.read_session() as session:
        channel = await get_channel(session, actor, channel_id)
        community = await communities.get_community(session, actor, channel.community_id)
    body = (
        text
        or f"Test message from Hearth: channel “{channel.name}” of {community.name} is connected."
    )
    message = delivery.OutgoingMessage(
        text=body,
        event_type="channel.test",
        data={"channel_id": str(channel.id), "community_id": str(community.id)},
    )
    result = await delivery.send(
        ChannelKind(channel.kind), channel.config, message, delivery.Transport.of(runtime)
    )
    return result, body


def platform_profiles(actor: Actor) -> list[PlatformProfile]:
    """What each channel kind accepts. Staff reference data (viewer and up)."""
    actor.require(Role.viewer)
    return list(PROFILES.values())
