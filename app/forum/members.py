"""Community members: member tokens, conduct status, lookup, export and erasure.

A member token is an HS256 JWT signed with the community's member secret:
`{"sub": "<id in your system>", "name": "<display name>", "aud": "<community id>", "exp": …}`.
The first valid token creates the member; later ones refresh the display name.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Row, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities_service
from app.core import events
from app.core.auth import Actor, Role, Standing
from app.core.db import utcnow
from app.core.errors import Forbidden, NotFound, Unauthenticated
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.runtime import Runtime
from app.core.statements import Prebuilt
from app.forum.models import Member
from app.forum.schemas import MemberOut

MEMBER_ORDER = Keyset([(Member.joined_at, "asc"), (Member.id, "asc")])

ALGORITHM = "HS256"
DELETED_MEMBER = "deleted member"
MAX_NAME = 64
LAST_SEEN_RESOLUTION = timedelta(minutes=5)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith("hk_")


async def authenticate_member(runtime: Runtime, token: str) -> Actor | None:
    """The member-token authenticator (see the module docstring for the claims)."""
    if not looks_like_jwt(token):
        return None
    cached = runtime.token_cache.get(token)
    if cached is not None:
        return cached
    community_id, sub = _unverified(token)
    async with runtime.read_session() as session:
        key = await communities_service.member_token_key(session, community_id)
        # Read before the signature is checked, but it only counts once it has been.
        member = await session.scalar(
            select(Member).where(Member.community_id == community_id, Member.external_id == sub)
        )
    if key is None:
        raise Unauthenticated("The member token's community does not accept member tokens.")
    org_id, secret = key
    claims = _verify(runtime, token, secret, community_id)
    actor = actor_for(await _member_for(runtime, org_id, community_id, claims, member))
    # Reads may trust this for a few seconds (never past the token's expiry); writes read
    # the member's conduct again (`fresh_standing`), so a mute applies at once.
    settings = runtime.settings
    expires_in = claims["exp"] + settings.member_token_leeway_seconds - time.time()
    runtime.token_cache.put(token, actor, min(settings.member_token_cache_seconds, expires_in))
    return actor


def _unverified(token: str) -> tuple[uuid.UUID, str]:
    """The community (`aud`) and `sub` a token claims, read before its key is known."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthenticated("The member token is not a well-formed JWT.") from exc
    if header.get("alg") != ALGORITHM:
        raise Unauthenticated("Member tokens must be signed with HS256.")
    audience = unverified.get("aud")
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]  # RFC 7519 allows a list; one community per token
    try:
        community_id = uuid.UUID(str(audience))
    except ValueError as exc:
        raise Unauthenticated("The member token's `aud` must be the community's id.") from exc
    sub = unverified.get("sub")
    if not isinstance(sub, str) or not 1 <= len(sub) <= 255 or "\x00" in sub:
        raise Unauthenticated("The member token's `sub` must be a string of 1 to 255 characters.")
    return community_id, sub


def _verify(runtime: Runtime, token: str, secret: str, community_id: uuid.UUID) -> dict[str, Any]:
    settings = runtime.settings
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # pinned: `none` and every other algorithm are refused
            audience=str(community_id),
            leeway=settings.member_token_leeway_seconds,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("The member token has expired; get a fresh one.") from exc
    except jwt.InvalidSignatureError as exc:
        raise Unauthenticated("The member token's signature does not match.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"The member token was refused: {exc}.") from exc
    lifetime = claims["exp"] - datetime.now(UTC).timestamp()
    if lifetime > settings.member_token_max_lifetime_seconds + settings.member_token_leeway_seconds:
        raise Unauthenticated(
            "The member token lives too long; issue tokens that expire within "
            f"{settings.member_token_max_lifetime_seconds} s."
        )
    if not isinstance(claims["sub"], str) or not 1 <= len(claims["sub"]) <= 255:
        raise Unauthenticated("The member token's `sub` must be a string of 1 to 255 characters.")
    return claims


def _display_name(claims: dict[str, Any]) -> str:
    raw = claims.get("name")
    name = _CONTROL.sub("", raw).strip()[:MAX_NAME] if isinstance(raw, str) else ""
    if not name:
        raise Unauthenticated("The member token needs a `name` claim: the member's display name.")
    return name


async def _member_for(
    runtime: Runtime,
    org_id: uuid.UUID,
    community_id: uuid.UUID,
    claims: dict[str, Any],
    member: Member | None,
) -> Member:
    """The member behind the token: created on first sight, renamed when the name changed."""
    name, sub = _display_name(claims), claims["sub"]
    where = and_(Member.community_id == community_id, Member.external_id == sub)
    now = utcnow()
    if member is None:
        try:
            async with runtime.unit_of_work() as session:
                return await join(session, org_id, community_id, sub, name)
        except IntegrityError:
            # A concurrent request with the same token created it first.
            async with runtime.read_session() as session:
                member = await session.scalar(select(Member).where(where))
            if member is None:
                raise
    if member.display_name != name or now - member.last_seen_at >= LAST_SEEN_RESOLUTION:
        async with runtime.unit_of_work() as session:
            await session.execute(
                update(Member)
                .where(Member.id == member.id)
                .values(display_name=name, last_seen_at=now)
            )
        member.display_name, member.last_seen_at = name, now
    return member


def issue_token(secret: str, community_id: uuid.UUID, sub: str, name: str, ttl: int) -> str:
    """A member token as an org's own backend would sign it (`hearth member-token`, demos)."""
    exp = int(datetime.now(UTC).timestamp()) + ttl
    claims = {"sub": sub, "name": name, "aud": str(community_id), "exp": exp}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


async def join(
    session: AsyncSession, org_id: uuid.UUID, community_id: uuid.UUID, sub: str, name: str
) -> Member:
    """A new member of a community (their first valid token)."""
    member = Member(org_id=org_id, community_id=community_id, external_id=sub, display_name=name)
    session.add(member)
    await session.flush()
    await events.emit(session, org_id, "member.joined", to_out(member).model_dump(mode="json"))
    return member


def actor_for(member: Member) -> Actor:
    return Actor(
        org_id=member.org_id,
        role=None,
        key_id=None,
        name=member.display_name or DELETED_MEMBER,
        member_id=member.id,
        community_id=member.community_id,
        standing=Standing(member.status, member.status_until, member.status_reason),
    )


# Conduct ---------------------------------------------------------------------------------


def current_status(status: str, until: datetime | None) -> str:
    """A status whose end date has passed has lapsed: the member is active again."""
    if status != "active" and until is not None and until <= utcnow():
        return "active"
    return status


_REFUSALS = {
    "muted": "You are muted in this community",
    "suspended": "Your account is suspended in this community",
    "banned": "You are banned from this community",
}


_members = Member.__table__.c
# A member's conduct as stored: the columns with_standing() reads, for any SELECT to add.
STANDING_COLUMNS = (
    _members.status.label("member_status"),
    _members.status_until,
    _members.status_reason,
    _members.erased_at,
)
MEMBER_STANDING = Prebuilt(select(*STANDING_COLUMNS).where(_members.id == bindparam("member_id")))


async def fresh_standing(session: AsyncSession, actor: Actor) -> Actor:
    """The caller with their conduct status as stored now (a member's token may have been
    checked a few seconds ago); staff pass through unchanged."""
    if not actor.is_member:
        return actor
    params = {"member_id": actor.member_id}
    row = (await session.execute(MEMBER_STANDING.statement, params)).one_or_none()
    return with_standing(actor, row)


def with_standing(actor: Actor, row: Row[Any] | Any | None) -> Actor:
    """The member with their conduct as stored (`row`: member_status, status_until,
    status_reason, erased_at); 401 when the member is gone or erased."""
    if row is None or row.member_status is None or row.erased_at is not None:
        raise Unauthenticated("This member's data has been erased; sign in again.")
    return replace(actor, standing=Standing(row.member_status, row.status_until, row.status_reason))


def ensure_may_write(actor: Actor) -> None:
    """Every member write passes here: muted, suspended and banned members are refused."""
    standing = actor.standing
    if standing is None:
        return
    status = current_status(standing.status, standing.until)
    if status == "active":
        return
    until = standing.until.isoformat().replace("+00:00", "Z") if standing.until else None
    detail = _REFUSALS[status] + (f" until {until}" if until else "") + "."
    if standing.reason:
        detail += f" Reason: {standing.reason}"
    raise Forbidden(
        detail,
        extra={"member_status": status, "status_until": until, "status_reason": standing.reason},
    )


# Staff views -----------------------------------------------------------------------------


def to_out(member: Member, post_count: int = 0) -> MemberOut:
    status = current_status(member.status, member.status_until)
    return MemberOut(
        id=member.id,
        community_id=member.community_id,
        external_id=member.external_id,
        display_name=member.display_name or DELETED_MEMBER,
        status=status,  # type: ignore[arg-type]
        # A lapsed status reads as active, with no end date left.
        status_until=member.status_until if status != "active" else None,
        status_reason=member.status_reason,
        joined_at=member.joined_at,
        last_seen_at=member.last_seen_at,
        post_count=post_count,
        erased=member.erased_at is not None,
    )


async def get_member(session: AsyncSession, actor: Actor, member_id: uuid.UUID) -> Member:
    actor.require(Role.moderator)
    member = await session.scalar(
        select(Member).where(Member.id == member_id, Member.org_id == actor.org_id)
    )
    if member is None:
        raise NotFound("No such member.")
    return member


async def post_counts(session: AsyncSession, member_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    from app.forum.models import Post

    if not member_ids:
        return {}
    rows = await session.execute(
        select(Post.author_member_id, func.count())
        .where(Post.author_member_id.in_(member_ids), Post.status != "removed")
        .group_by(Post.author_member_id)
    )
    return {member_id: count for member_id, count in rows}


async def list_members(
    session: AsyncSession,
    actor: Actor,
    community_id: uuid.UUID,
    params: PageParams,
    *,
    q: str | None = None,
    status: str | None = None,
) -> Window[Member]:
    from app.forum.access import ensure_community

    await ensure_community(session, actor, community_id, staff_role=Role.moderator, members=False)
    stmt = select(Member).where(Member.community_id == community_id)
    if q:
        pattern = (
            "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        stmt = stmt.where(
            or_(
                func.lower(Member.display_name).like(pattern, escape="\\"),
                func.lower(Member.external_id).like(pattern, escape="\\"),
            )
        )
    if status == "active":
        # Lapsed statuses count as active.
        stmt = stmt.where(or_(Member.status == "active", Member.status_until <= utcnow()))
    elif status is not None:
        stmt = stmt.where(
            Member.status == status,
            or_(Member.status_until.is_(None), Member.status_until > utcnow()),
        )
    return await paginate(session, stmt, MEMBER_ORDER, params)
