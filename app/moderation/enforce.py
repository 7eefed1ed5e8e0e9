"""What automod's verdict does to a forum write (called by app.forum's posts and threads).

- `block`: the write is refused with a 422 carrying the rule's message; the attempt is
  still reported (`automod.matched`), in a transaction of its own.
- `hold` and `timeout`: the post or thread is written `held` (its author sees it, nobody
  else) and goes to the review queue; `timeout` also mutes the author (a sanction issued
  by automod, for the rule's `action_config.minutes`).
- `hide`: written `hidden`, and queued.
- `flag`: written as usual, and queued.
- `alert`: written as usual; only the event tells.

Everything but the block is recorded in the writing transaction: the review item with each
match (rule, action, what matched, the toxicity model that scored it), the audit entries
of automod's own writes, and the event.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, events
from app.core.errors import AppError
from app.core.jobs import JobRequest, enqueue_all
from app.forum.models import Member
from app.moderation import queue, review, sanctions
from app.moderation.rulebook import Rulebook, Verdict

QUEUED = ("flag", "hold", "hide", "timeout")
STATUS_FOR = {"hold": "held", "timeout": "held", "hide": "hidden"}


class AutomodBlocked(AppError):
    status, slug, title, code = 422, "automod-blocked", "Blocked by automod", "AUTOMOD_BLOCKED"


def status_for(verdict: Verdict) -> str:
    """What a new post or thread is written as."""
    return STATUS_FOR.get(verdict.decision, "visible")


async def refuse_if_blocked(
    rulebook: Rulebook,
    verdict: Verdict,
    *,
    org_id: uuid.UUID,
    community_id: uuid.UUID,
    member_id: uuid.UUID | None,
    target_type: str,
    target_id: uuid.UUID | None = None,
) -> None:
    if verdict.decision != "block":
        return
    rule = verdict.deciding.rule  # type: ignore[union-attr]
    payload = matched_payload(
        verdict,
        community_id=community_id,
        member_id=member_id,
        target_type=target_type,
        target_id=target_id,
        review_item_id=None,
    )
    # The refused write rolls back (and on SQLite holds the write lock until then): the
    # attempt is reported by a job, after it.
    await enqueue_all(
        rulebook.runtime.jobs, [JobRequest("report_blocked", (str(org_id), json.dumps(payload)))]
    )
    raise AutomodBlocked(
        rule.message or f"Your post was not published: it breaks the rule “{rule.name}”.",
        extra={"rule_id": str(rule.id), "rule": rule.name},
    )


async def record(
    session: AsyncSession,
    verdict: Verdict,
    *,
    org_id: uuid.UUID,
    community_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID,
    author_member_id: uuid.UUID | None,
) -> None:
    """After the write, in its transaction: queue, mute, audit, event."""
    if not verdict.hits:
        return
    item_id = None
    if any(hit.rule.action in QUEUED for hit in verdict.hits):
        item = await queue.item_for(
            session,
            org_id=org_id,
            community_id=community_id,
            target_type=target_type,
            target_id=target_id,
            author_member_id=author_member_id,
        )
        queue.add_automod(item, verdict)
        await session.flush()
        await review.announce(session, [item])
        item_id = item.id
    deciding = verdict.deciding
    if deciding is not None and verdict.decision in STATUS_FOR:
        rule = deciding.rule
        await audit.record(
            session,
            audit.automod(rule.id, rule.name),
            f"{target_type}.{STATUS_FOR[verdict.decision]}",
            org_id=org_id,
            target_type=target_type,
            target_id=target_id,
            community_id=community_id,
            after={"status": STATUS_FOR[verdict.decision], "review_item_id": item_id},
            reason=f"automod {rule.kind} rule",  # a hit's own reason may quote the post
        )
        if verdict.decision == "timeout" and author_member_id is not None:
            member = await session.get_one(Member, author_member_id)
            minutes = int(rule.action_config.get("minutes", 60))  # type: ignore[call-overload]
            await sanctions.issue(
                session,
                member,
                kind="mute",
                reason=rule.message or rule.name,
                issued_by=audit.automod(rule.id, rule.name),
                hours=minutes / 60,
                review_item_id=item_id,
            )
    payload = matched_payload(
        verdict,
        community_id=community_id,
        member_id=author_member_id,
        target_type=target_type,
        target_id=target_id,
        review_item_id=item_id,
    )
    await events.emit(session, org_id, "automod.matched", payload)


def matched_payload(
    verdict: Verdict,
    *,
    community_id: uuid.UUID,
    member_id: uuid.UUID | None,
    target_type: str,
    target_id: uuid.UUID | None,
    review_item_id: uuid.UUID | None,
) -> dict[str, Any]:
    score = verdict.score
    return {
        "community_id": str(community_id),
        "member_id": str(member_id) if member_id else None,
        "target_type": target_type,
        "target_id": str(target_id) if target_id else None,
        "decision": verdict.decision,
        "review_item_id": str(review_item_id) if review_item_id else None,
        "matches": [
            {
                "rule_id": str(hit.rule.id),
                "name": hit.rule.name,
                "kind": hit.rule.kind,
                "action": hit.rule.action,
                "matched": hit.matched,
                "reason": hit.reason,
            }
            for hit in verdict.hits
        ],
        "toxicity": None
        if score is None
        else {
            "provider": score.provider,
            "model": score.model,
            "version": score.version,
            "value": score.value,
            "skipped": score.skipped,
        },
    }
