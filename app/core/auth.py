"""Who is calling: roles, the `Actor` every service call receives, and token resolution.

Resolution is pluggable: `app.main` composes the authenticators of the domains that issue
credentials (API keys today; member JWTs with the forum), so `core` depends on no domain.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.core.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from app.core.runtime import Runtime


class Role(StrEnum):
    owner = "owner"
    manager = "manager"
    moderator = "moderator"
    analyst = "analyst"
    viewer = "viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        """Each role includes the ones below it."""
        return self.rank >= other.rank


_RANKS = {Role.viewer: 1, Role.analyst: 2, Role.moderator: 3, Role.manager: 4, Role.owner: 5}


@dataclass(frozen=True, slots=True)
class Standing:
    """A member's conduct status as read when their token was checked."""

    status: str  # active, muted, suspended, banned
    until: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller, scoped to one organisation.

    Staff and tools come with an API key (`key_id`, `role`); community members with a member
    token (`member_id`, `community_id`, no role). `ip` is the client address, set by the
    adapter for per-IP rate limits.
    """

    org_id: uuid.UUID
    role: Role | None
    key_id: uuid.UUID | None
    name: str
    member_id: uuid.UUID | None = None
    community_id: uuid.UUID | None = None
    standing: Standing | None = None
    ip: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.key_id is not None

    @property
    def is_member(self) -> bool:
        return self.member_id is not None

    def require(self, role: Role) -> None:
        if self.role is None:
            raise Forbidden("This needs a staff API key; a member token cannot do it.")
        if not self.role.includes(role):
            raise Forbidden(f"This needs the {role.value} role; your key has {self.role.value}.")

    def has(self, role: Role) -> bool:
        return self.role is not None and self.role.includes(role)


_FORGET_KEY = "hearth.forget_tokens"


def forget_member_tokens(session: Any, member_id: uuid.UUID) -> None:
    """Once `session` commits, stop trusting cached token checks of this member (erasure)."""
    session.info.setdefault(_FORGET_KEY, set()).add(member_id)


def forget_community_tokens(session: Any, community_id: uuid.UUID) -> None:
    """Once `session` commits, stop trusting cached token checks for this community (its
    member secret changed)."""
    session.info.setdefault(_FORGET_KEY, set()).add(community_id)


def forgets(session: Any) -> Callable[[Actor], bool] | None:
    """Which cached actors the committed `session` made stale, if any."""
    ids = session.info.pop(_FORGET_KEY, None)
    if not ids:
        return None
    return lambda actor: actor.member_id in ids or actor.community_id in ids


# A resolver returns an Actor, raises Unauthenticated for a credential it owns but refuses,
# or returns None when the token is not its kind. It reads through its own short sessions,
# never the request's (on SQLite that one may already hold the write lock).
Authenticator = Callable[["Runtime", str], Awaitable[Actor | None]]


async def resolve_token(runtime: Runtime, token: str) -> Actor:
    for authenticate in runtime.authenticators:
        actor = await authenticate(runtime, token)
        if actor is not None:
            return actor
    raise Unauthenticated("The bearer token is not a valid Hearth credential.")


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be `Bearer <key>`.")
    return token.strip()
