"""The review queue's items: one per target, gathering reports and automod matches, scored.

Score: each report weighs its reason's weight times the reporter's track record (reports
of theirs that moderators upheld weigh more, dismissed ones less), and each matching
automod rule twice its severity. Priority bands follow the score.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.moderation.models import ReviewItem
from app.moderation.rulebook import Verdict

REASON_WEIGHTS = {
    "illegal": 5.0,
    "hate": 4.0,
    "harassment": 4.0,
    "personal_info": 4.0,
    "scam": 3.0,
    "cheating": 2.0,
    "spam": 2.0,
    "off_topic": 1.0,
    "other": 1.0,
}
HIGH, MEDIUM = 8.0, 4.0


async def item_for(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    community_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID,
    author_member_id: uuid.UUID | None,
) -> ReviewItem:
    """The target's item, locked; created open if it has none, reopened if resolved."""
    stmt = (
        select(ReviewItem)
        .where(ReviewItem.target_type == target_type, ReviewItem.target_id == target_id)
        .with_for_update()
    )
    item = await session.scalar(stmt)
    if item is None:
        now = utcnow()
        item = ReviewItem(
            org_id=org_id,
            community_id=community_id,
            target_type=target_type,
            target_id=target_id,
            author_member_id=author_member_id,
            status="open",
            reasons={},
            report_count=0,
            report_score=0.0,
            automod=[],
            score=0.0,
            priority="low",
            version=1,
            created_at=now,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(item)
        except IntegrityError:  # opened meanwhile by another writer: take theirs
            item = await session.scalar(stmt)
            assert item is not None
        else:
            return item
    if item.status == "resolved":
        item.status, item.resolution, item.resolved_at = "open", None, None
    return item


def add_automod(item: ReviewItem, verdict: Verdict) -> None:
    """Record every hit of a screening on the item (rule, action, what matched, and the
    toxicity model that scored it), and score the item again."""
    now = utcnow().isoformat().replace("+00:00", "Z")
    score = verdict.score
    toxicity = (
        {
            "provider": score.provider,
            "model": score.model,
            "version": score.version,
            "value": score.value,
            "skipped": score.skipped,
        }
        if score is not None
        else None
    )
    entries = [
        {
            "rule_id": str(hit.rule.id),
            "name": hit.rule.name,
            "kind": hit.rule.kind,
            "action": hit.rule.action,
            "severity": hit.rule.severity,
            "matched": hit.matched,
            "reason": hit.reason,
            "at": now,
            **({"toxicity": toxicity} if hit.rule.kind == "toxicity" else {}),
        }
        for hit in verdict.hits
    ]
    item.automod = [*item.automod, *entries]
    touch(item)


def touch(item: ReviewItem) -> None:
    """Score again and bump the version: any change of an item does."""
    item.score = score_of(item)
    item.priority = "high" if item.score >= HIGH else "medium" if item.score >= MEDIUM else "low"
    item.version += 1
    item.updated_at = utcnow()


def score_of(item: ReviewItem) -> float:
    """The reports' weights plus twice the severity of each distinct automod rule that
    matched."""
    rules: dict[str, int] = {}
    for entry in item.automod:
        rules[entry["rule_id"]] = max(rules.get(entry["rule_id"], 0), int(entry["severity"]))
    return round((item.report_score or 0.0) + 2.0 * sum(rules.values()), 2)


def report_weight(reason: str, upheld: int, dismissed: int) -> float:
    """A report's weight: its reason's, times the reporter's record. A reporter with no
    record counts 1; each upheld report moves them toward 2, each dismissed one toward 0
    (a Laplace-smoothed share of upheld reports, doubled)."""
    record = 2.0 * (upheld + 1) / (upheld + dismissed + 2)
    return round(REASON_WEIGHTS[reason] * record, 3)


def event_payload(item: ReviewItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "community_id": str(item.community_id),
        "target_type": item.target_type,
        "target_id": str(item.target_id),
        "status": item.status,
        "score": item.score,
        "priority": item.priority,
        "version": item.version,
    }
