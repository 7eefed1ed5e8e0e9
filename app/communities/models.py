from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.communities.platforms import ChannelKind
from app.core.db import Base, JSONType, new_id, utcnow

KIND_VALUES = tuple(kind.value for kind in ChannelKind)


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (UniqueConstraint("org_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    default_locale: Mapped[str] = mapped_column(String(35))
    locales: Mapped[list[str]] = mapped_column(JSONType)
    tone: Mapped[dict[str, Any]]
    # HS256 key for member JWTs. Kept readable because verifying an HMAC needs the key;
    # never returned by the API.
    member_secret: Mapped[str | None] = mapped_column(String(512))
    # Content needs a second person's approval before it is scheduled or published.
    require_approval: Mapped[bool] = mapped_column(default=False)
    # Bumped with every change of the community's automod rules, in the same transaction:
    # each process keeps the compiled rules of this version (app/moderation/rulebook.py).
    automod_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # The strike ladder `{ladder: [{strikes, kind, duration_hours?}], decay_days}`; null:
    # the default (app/moderation/strikes.py).
    strike_policy: Mapped[dict[str, Any] | None]
    # The wording of what members are told (app/moderation/notices.py); null: the default.
    member_notices: Mapped[dict[str, Any] | None]
    # Crisis pause: while set, nothing of this community is delivered.
    paused_at: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("community_id", "name"),
        CheckConstraint(f"kind IN {KIND_VALUES}", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    # Secrets (webhook URLs with tokens, signing secrets) live here; `schemas` redacts them.
    config: Mapped[dict[str, Any]]
    # A launcher feed's `config.public_slug`, kept in a column of its own: unique across
    # the server (two requests racing for one slug cannot both win), and indexed, as the
    # public feed will look feeds up by it.
    public_slug: Mapped[str | None] = mapped_column(String(64), unique=True)
    # What a launcher feed shows changed (an item went live, was edited or taken down, the
    # feed itself was renamed): bumped in the transaction of the change. API replicas compare
    # it with their cached answers at most once a second.
    feed_version: Mapped[int] = mapped_column(default=0, server_default="0")
    feed_changed_at: Mapped[datetime | None]  # when, for Last-Modified; None: never
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
