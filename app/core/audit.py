"""The audit log: who changed what, written by the services in the caller's transaction.

Every staff and automod write calls `record()` next to the change itself, so an entry exists
exactly when the change was committed. Entries are append-only: nothing in Hearth updates or
deletes one, and on PostgreSQL a trigger (migration 0008) refuses UPDATE and DELETE on the
table. Entries hold ids and states (status, role, name of a channel), never what a member
wrote: erasing a member leaves the log as it is, with nothing of theirs in it.

`before` and `after` are small dicts of the fields the action changed, chosen by the caller;
`None` where there was nothing before (a creation) or nothing after (a deletion).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ForeignKey, Index, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.auth import Actor
from app.core.db import Base, new_id, utcnow

ActorType = Literal["key", "member", "automod", "system"]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_org_at", "org_id", "at", "id"),
        Index("ix_audit_log_org_target", "org_id", "target_id", "at"),
        Index("ix_audit_log_org_actor", "org_id", "actor_id", "at"),
        Index("ix_audit_log_org_community", "org_id", "community_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # No cascade: an organisation with a log cannot vanish under it.
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    # Plain ids, no foreign keys: entries outlive what they name (a deleted channel's
    # creation and deletion stay in the log).
    community_id: Mapped[uuid.UUID | None]
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[uuid.UUID | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)


INSERT = insert(AuditEntry.__table__)  # built once: it runs beside every staff write


@dataclass(frozen=True)
class By:
    """Who did it, when not an authenticated caller: automod (the rule) or Hearth itself."""

    type: ActorType
    id: uuid.UUID | None = None
    name: str | None = None


SYSTEM = By("system", None, "Hearth")


def automod(rule_id: uuid.UUID, rule_name: str) -> By:
    return By("automod", rule_id, rule_name)


def by(actor: Actor) -> By:
    """An API key (its id and name); a member (only their id: a display name is personal
    data, which erasure must be able to remove); or Hearth itself, for an actor with a role
    and no key (`hearth import-content`, the delivery engine acting for a deleted key)."""
    if actor.is_staff:
        return By("key", actor.key_id, actor.name)
    if actor.is_member:
        return By("member", actor.member_id, None)
    return By("system", None, actor.name)


async def record(
    session: AsyncSession,
    who: Actor | By,
    action: str,
    *,
    org_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID | None,
    community_id: uuid.UUID | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Append one entry in the caller's transaction."""
    await session.execute(
        INSERT,
        entry(
            who,
            action,
            org_id=org_id,
            target_type=target_type,
            target_id=target_id,
            community_id=community_id,
            before=before,
            after=after,
            reason=reason,
        ),
    )


async def record_all(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Append several entries (from `entry`) in one statement."""
    if entries:
        await session.execute(INSERT, entries)


def entry(
    who: Actor | By,
    action: str,
    *,
    org_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID | None,
    community_id: uuid.UUID | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    actor = who if isinstance(who, By) else by(who)
    return {
        "id": new_id(),
        "org_id": org_id,
        "at": utcnow(),
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "action": action,
        "community_id": community_id,
        "target_type": target_type,
        "target_id": target_id,
        "before": _plain(before),
        "after": _plain(after),
        "reason": reason,
    }


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, for an update's before and after."""
    changed = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in changed}, {key: after[key] for key in changed}


def _plain(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-ready: ids and instants as strings, enums as their values."""
    if state is None:
        return None
    return {key: _value(value) for key, value in state.items()}


def _value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):  # spelled as the API spells instants: UTC, `Z`
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple | set | frozenset):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    return getattr(value, "value", value)  # an Enum
