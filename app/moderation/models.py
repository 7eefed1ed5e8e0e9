from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, new_id, utcnow

RULE_KINDS = ("keyword", "regex", "link", "mentions", "caps", "flood", "new_member", "toxicity")
RULE_ACTIONS = ("flag", "hold", "block", "hide", "timeout", "alert")


class AutomodRule(Base):
    __tablename__ = "automod_rules"
    __table_args__ = (
        CheckConstraint(f"kind IN {RULE_KINDS}", name="kind"),
        CheckConstraint(f"action IN {RULE_ACTIONS}", name="action"),
        CheckConstraint("severity BETWEEN 1 AND 5", name="severity"),
        Index("ix_automod_rules_community", "community_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    community_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]]
    action: Mapped[str] = mapped_column(String(16))
    action_config: Mapped[dict[str, Any]]
    severity: Mapped[int]
    enabled: Mapped[bool]
    exempt_roles: Mapped[list[str]] = mapped_column(JSONType)
    category_ids: Mapped[list[str]] = mapped_column(JSONType)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
