"""Organisations and API keys: issuing, listing, revoking and authenticating keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, Unauthenticated
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.runtime import Runtime
from app.orgs.models import ApiKey, Organisation
from app.orgs.schemas import ApiKeyCreate, OrgCreate, OrgUpdate

KEY_PREFIX = "hk_"
# last_used_at is refreshed at most this often per key, so reads don't turn into writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)


KEY_ORDER = Keyset([(ApiKey.created_at, "asc"), (ApiKey.id, "asc")])


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _issue(org_id: uuid.UUID, name: str, role: Role) -> IssuedKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(org_id=org_id, name=name, role=role.value, prefix=key[:10], key_hash=_hash(key))
    return IssuedKey(record, key)


async def create_org(session: AsyncSession, data: OrgCreate) -> tuple[Organisation, IssuedKey]:
    """A new tenant and its first owner key (system operation: admin token or CLI)."""
    org = Organisation(name=data.name)
    session.add(org)
    await session.flush()
    owner = _issue(org.id, "owner", Role.owner)
    session.add(owner.record)
    await session.flush()
    await audit.record(
        session,
        audit.SYSTEM,
        "org.created",
        org_id=org.id,
        target_type="org",
        target_id=org.id,
        after={"name": org.name},
    )
    await audit.record(
        session,
        audit.SYSTEM,
        "api_key.created",
        org_id=org.id,
        target_type="api_key",
        target_id=owner.record.id,
        after={"name": owner.record.name, "role": owner.record.role},
    )
    return org, owner


async def get_org(session: AsyncSession, actor: Actor) -> Organisation:
    actor.require(Role.viewer)  # staff only: a member token does not see the org
    org = await session.get(Organisation, actor.org_id)
    if org is None:
        raise NotFound("Your organisation no longer exists.")
    return org


async def update_org(session: AsyncSession, actor: Actor, data: OrgUpdate) -> Organisation:
    actor.require(Role.owner)
    org = await get_org(session, actor)
    before, after = audit.changes({"name": org.name}, {"name": data.name})
    org.name = data.name
    await session.flush()
    await audit.record(
        session,
        actor,
        "org.updated",
        org_id=actor.org_id,
        target_type="org",
        target_id=org.id,
        before=before,
        after=after,
    )
    return org


async def create_api_key(session: AsyncSession, actor: Actor, data: ApiKeyCreate) -> IssuedKey:
    actor.require(Role.owner)
    issued = _issue(actor.org_id, data.name, data.role)
    session.add(issued.record)
    await session.flush()
    await audit.record(
        session,
        actor,
        "api_key.created",
        org_id=actor.org_id,
        target_type="api_key",
        target_id=issued.record.id,
        after={"name": issued.record.name, "role": issued.record.role},
    )
    return issued


async def list_api_keys(
    session: AsyncSession, actor: Actor, params: PageParams, *, include_revoked: bool = False
) -> Window[ApiKey]:
    actor.require(Role.owner)
    stmt = select(ApiKey).where(ApiKey.org_id == actor.org_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return await paginate(session, stmt, KEY_ORDER, params)


async def revoke_api_key(session: AsyncSession, actor: Actor, key_id: uuid.UUID) -> None:
    actor.require(Role.owner)
    key = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == actor.org_id)
    )
    if key is None or key.revoked_at is not None:
        raise NotFound("No such API key.")
    if key.role == Role.owner.value and await _active_owner_keys(session, actor.org_id) <= 1:
        raise Conflict("This is the organisation's last owner key; issue another first.")
    key.revoked_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "api_key.revoked",
        org_id=actor.org_id,
        target_type="api_key",
        target_id=key.id,
        before={"name": key.name, "role": key.role},
    )


async def authenticate_key(runtime: Runtime, token: str) -> Actor | None:
    """The API-key authenticator: looked up on every request, so revocation is immediate."""
    if not token.startswith(KEY_PREFIX):
        return None
    async with runtime.read_session() as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(token)))
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("This API key is unknown or has been revoked.")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        async with runtime.unit_of_work() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now)
            )
    return Actor(org_id=key.org_id, role=Role(key.role), key_id=key.id, name=key.name)


async def _active_owner_keys(session: AsyncSession, org_id: uuid.UUID) -> int:
    # Locked, so two concurrent revocations cannot both see "another owner key remains".
    stmt = (
        select(ApiKey.id)
        .where(
            ApiKey.org_id == org_id, ApiKey.role == Role.owner.value, ApiKey.revoked_at.is_(None)
        )
        .with_for_update()
    )
    return len((await session.scalars(stmt)).all())


async def org_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Organisation)) or 0)


async def find_active_key(
    session: AsyncSession, org_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    """A usable key of the org (for assigning work to a staff member), or None."""
    return await session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None)
        )
    )
