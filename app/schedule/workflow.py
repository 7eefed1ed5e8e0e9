"""The review and publishing workflow: every transition, who may make it, and its event.

draft → in_review → approved → scheduled → publishing → published | partially_published |
failed; cancelled; retracted. Without `require_approval` on the community a manager may
schedule or publish a draft directly (that act is the approval); with it, only approved
content goes out, and the author's own key cannot approve it (four eyes).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.communities.models import Channel, Community
from app.core import audit, events, jobs
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, RuleViolation, ValidationFailed
from app.forum import categories
from app.schedule import checks, content, planning, recurrence
from app.schedule.content import conflict_with_status, event_payload
from app.schedule.models import ContentItem, Delivery
from app.schedule.render import ChannelRef, render
from app.schedule.schemas import CheckResult, ContentCreate, ContentUpdate, PreviewOut

# Under `require_approval`, editing these sends the item back to draft for another review.
REVIEWED = ("in_review", "approved", "scheduled")
RETRACTABLE = ("publishing", "published", "partially_published", "failed")


async def _community(session: AsyncSession, item: ContentItem) -> Community:
    return await session.get_one(Community, item.community_id)


async def _emit(session: AsyncSession, item: ContentItem, kind: str, **extra: object) -> None:
    await events.emit(session, item.org_id, kind, {**event_payload(item), **extra})


def _touch(item: ContentItem) -> None:
    item.updated_at = utcnow()


# Every transition is audited, as its key (see audit.by), as `content.<past tense>`
# (created, submitted, approved, rejected, scheduled, published, cancelled, retracted,
# updated) with before/after {"status"} (plus "publish_at" or "version" where they move):
# states, never the text. The crisis pause and resume are audited by the communities
# service, not here.
async def _audit(
    session: AsyncSession,
    actor: Actor,
    item: ContentItem,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    reason: str | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        org_id=item.org_id,
        target_type="content",
        target_id=item.id,
        community_id=item.community_id,
        before=before,
        after=after,
        reason=reason,
    )


async def _audit_status(
    session: AsyncSession, actor: Actor, item: ContentItem, action: str, was: str
) -> None:
    await _audit(session, actor, item, action, {"status": was}, {"status": item.status})


# --- preflight ---------------------------------------------------------------------------


async def _context(session: AsyncSession, item: ContentItem) -> checks.Context:
    community = await _community(session, item)
    ids = [uuid.UUID(cid) for cid in item.channel_ids]
    found = {
        channel.id: channel
        for channel in await session.scalars(select(Channel).where(Channel.id.in_(ids)))
    }
    refs = [ChannelRef.of(found[cid]) for cid in ids if cid in found]
    content_json = event_payload(item)
    return checks.Context(
        tone=community.tone,
        locales=community.locales,
        channels=refs,
        rendered={ref.id: render(item, content_json, ref) for ref in refs},
        categories={str(cid) for cid in await categories.category_ids(session, community.id)},
    )


async def check(session: AsyncSession, actor: Actor, content_id: uuid.UUID) -> CheckResult:
    """Preflight checks, as `schedule` and `publish` run them. Role: moderator."""
    actor.require(Role.moderator)
    item = await content.load(session, actor, content_id)
    found = checks.run(item, await _context(session, item))
    return CheckResult(ok=not checks.has_errors(found), checks=found)


async def preview(session: AsyncSession, actor: Actor, content_id: uuid.UUID) -> list[PreviewOut]:
    """What each channel would receive, with the checks about it. Role: viewer."""
    item = await content.load(session, actor, content_id)
    context = await _context(session, item)
    found = checks.run(item, context)
    return [
        PreviewOut(
            channel_id=channel.id,
            kind=channel.kind,
            title=rendered.title,
            text=rendered.text,
            length=len(rendered.text),
            max_length=rendered.max_length,
            payload=rendered.payload,
            checks=[c for c in found if c.channel_id in (None, channel.id)],
        )
        for channel in context.channels
        if (rendered := context.rendered[channel.id])
    ]


async def _require_checks_pass(session: AsyncSession, item: ContentItem) -> None:
    found = checks.run(item, await _context(session, item))
    if checks.has_errors(found):
        errors = [c for c in found if c.level == "error"]
        raise RuleViolation(
            f"Preflight checks failed: {errors[0].message}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            extra={"checks": [c.model_dump(mode="json") for c in found]},
        )


def _require_future(publish_at: datetime | None) -> None:
    if publish_at is None or publish_at <= utcnow():
        raise ValidationFailed(
            "publish_at must be in the future; use publish to send now.",
            errors=[{"loc": ["body", "publish_at"], "message": "in the past", "type": "future"}],
        )


# --- review ------------------------------------------------------------------------------


async def submit(session: AsyncSession, actor: Actor, content_id: uuid.UUID) -> ContentItem:
    actor.require(Role.moderator)
    item = await content.load(session, actor, content_id, lock=True)
    if item.status != "draft":
        raise conflict_with_status(item, "submitted for review")
    item.status = "in_review"
    _touch(item)
    await _audit_status(session, actor, item, "content.submitted", "draft")
    await _emit(session, item, "content.submitted")
    return item


def _approve(actor: Actor, item: ContentItem, community: Community) -> None:
    if community.require_approval and item.created_by == actor.key_id:
        raise Forbidden(
            "This community requires approval by someone else: the key that wrote this"
            " content cannot approve it."
        )
    item.approved_by = actor.key_id
    item.status = "approved"


async def approve(session: AsyncSession, actor: Actor, content_id: uuid.UUID) -> ContentItem:
    actor.require(Role.manager)
    item = await content.load(session, actor, content_id, lock=True)
    community = await _community(session, item)
    allowed = ("in_review",) if community.require_approval else ("draft", "in_review")
    if item.status not in allowed:
        raise conflict_with_status(item, "approved")
    was = item.status
    _approve(actor, item, community)
    item.review_note = None
    _touch(item)
    await _audit_status(session, actor, item, "content.approved", was)
    await _emit(session, item, "content.approved")
    return item


async def reject(
    session: AsyncSession, actor: Actor, content_id: uuid.UUID, note: str
) -> ContentItem:
    actor.require(Role.manager)
    item = await content.load(session, actor, content_id, lock=True)
    if item.status not in ("in_review", "approved"):
        raise conflict_with_status(item, "rejected")
    was = item.status
    item.status, item.approved_by, item.review_note = "draft", None, note
    _touch(item)
    await _audit(
        session, actor, item, "content.rejected", {"status": was}, {"status": "draft"}, reason=note
    )
    await _emit(session, item, "content.rejected", note=note)
    return item


# --- going out ---------------------------------------------------------------------------


async def _ready_to_go(
    session: AsyncSession, actor: Actor, item: ContentItem, doing: str, also: tuple[str, ...]
) -> None:
    """Approved content (or, without `require_approval`, a draft or one in review, which
    this act approves) whose checks pass."""
    community = await _community(session, item)
    if item.status in ("draft", "in_review") and not community.require_approval:
        _approve(actor, item, community)
    elif item.status in ("draft", "in_review"):
        raise conflict_with_status(item, f"{doing} before it is approved")
    elif item.status not in ("approved", *also):
        raise conflict_with_status(item, doing)
    await _require_checks_pass(session, item)


async def schedule(
    session: AsyncSession, actor: Actor, content_id: uuid.UUID, publish_at: datetime
) -> ContentItem:
    """Commit to a time: one delivery row per channel, due then. Role: manager."""
    actor.require(Role.manager)
    _require_future(publish_at)
    item = await content.load(session, actor, content_id, lock=True)
    was = {"status": item.status, "publish_at": item.publish_at}
    await _ready_to_go(session, actor, item, "scheduled", also=("scheduled",))
    item.status, item.publish_at = "scheduled", publish_at
    _touch(item)
    if item.recurring:
        # Occurrences fall on whole seconds (RRULE has no finer unit): so does the start.
        item.publish_at = publish_at.replace(microsecond=0)
        # A series is never sent itself: each occurrence is a copy, scheduled as it nears.
        await recurrence.drop_pending_copies(session, item)
        await recurrence.materialize(session, item, now=utcnow())
    else:
        await planning.plan_send(session, item, publish_at)
    await _audit(
        session,
        actor,
        item,
        "content.scheduled",
        was,
        {"status": item.status, "publish_at": item.publish_at},
    )
    await _emit(session, item, "content.scheduled")
    return item


async def publish(session: AsyncSession, actor: Actor, content_id: uuid.UUID) -> ContentItem:
    """Send now; deliveries proceed in the background. Role: manager."""
    actor.require(Role.manager)
    item = await content.load(session, actor, content_id, lock=True)
    if item.recurring:
        raise Conflict(
            "A recurring item is published occurrence by occurrence: schedule it (its first"
            " occurrence may be now), or remove its recurrence to publish it once.",
            extra={"current_status": item.status},
        )
    was = item.status
    await _ready_to_go(session, actor, item, "published", also=("scheduled",))
    now = utcnow()
    item.status, item.publish_at = "publishing", now
    _touch(item)
    await planning.plan_send(session, item, now)
    await _audit_status(session, actor, item, "content.published", was)
    return item


async def cancel(session: AsyncSession, actor: Actor, content_id: uuid.UUID) -> ContentItem:
    """Unschedule (back to `approved`), or shelve what was not scheduled (`cancelled`)."""
    actor.require(Role.manager)
    item = await content.load(session, actor, content_id, lock=True)
    was = item.status
    if item.status == "scheduled":
        await planning.unschedule(session, item)
        await recurrence.drop_pending_copies(session, item)
        item.status = "approved"
    elif item.status in ("draft", "in_review", "approved"):
        item.status = "cancelled"
    else:
        raise conflict_with_status(item, "cancelled")
    _touch(item)
    await _audit_status(session, actor, item, "content.cancelled", was)
    return item


async def retract(
    session: AsyncSession, actor: Actor, content_id: uuid.UUID, reason: str
) -> ContentItem:
    """Take it down everywhere it went. Role: manager."""
    actor.require(Role.manager)
    item = await content.load(session, actor, content_id, lock=True)
    if item.status not in RETRACTABLE:
        raise conflict_with_status(item, "retracted")
    was = item.status
    item.status, item.retracted_at, item.retract_reason = "retracted", utcnow(), reason
    _touch(item)
    await _audit(
        session,
        actor,
        item,
        "content.retracted",
        {"status": was},
        {"status": "retracted"},
        reason=reason,
    )
    # Out of every launcher feed at once, before its feed rows are recorded as retracted.
    await communities.touch_feeds(session, channel_ids=item.channel_ids)
    await planning.follow_up(session, item, "retract")
    await _emit(session, item, "content.retracted", reason=reason)
    return item


async def edit(
    session: AsyncSession, actor: Actor, content_id: uuid.UUID, data: ContentUpdate
) -> ContentItem:
    """PATCH: apply the edit, then what it means for review, schedule and what was sent."""
    item, redeliver, was = await content.update_content(session, actor, content_id, data)
    community = await _community(session, item)
    if community.require_approval and item.status in REVIEWED:
        # What was approved is what goes out: an edit needs a new review.
        if item.status == "scheduled":
            await planning.unschedule(session, item)
            await recurrence.drop_pending_copies(session, item)
        item.status, item.approved_by = "draft", None
    elif item.status == "scheduled":
        if not item.recurring:
            # A single item goes out at publish_at: it must still be ahead (a series keeps
            # its start and goes on).
            _require_future(item.publish_at)
        await _require_checks_pass(session, item)
        assert item.publish_at is not None
        # Copies not yet sent are made again from the edited series.
        await recurrence.drop_pending_copies(session, item)
        await planning.unschedule(session, item)
        if item.recurring:
            await recurrence.materialize(session, item, now=utcnow())
        else:
            await planning.plan_send(session, item, item.publish_at)
    if redeliver:
        await planning.follow_up(session, item, "update")
    before, after = audit.changes(was, content.audit_state(item))
    if redeliver:
        after["redeliver"] = True
    await _audit(session, actor, item, "content.updated", before, after)
    await _emit(session, item, "content.updated", redeliver=redeliver)
    return item


async def create(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, data: ContentCreate
) -> ContentItem:
    item = await content.create_content(session, actor, community_id, data)
    await _audit(session, actor, item, "content.created", None, content.audit_state(item))
    await _emit(session, item, "content.created")
    return item


# --- crisis pause ------------------------------------------------------------------------


async def pause(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, reason: str
) -> Community:
    return await communities.pause(session, actor, community_id, reason)


async def resume(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, *, publish_overdue: bool
) -> Community:
    """Deliveries resume. Scheduled items whose time passed during the pause go back to
    `approved` (a crisis statement goes first), unless `publish_overdue`."""
    community = await communities.resume(session, actor, community_id)
    now = utcnow()
    if not publish_overdue:
        overdue = list(
            await session.scalars(
                select(ContentItem)
                .where(
                    ContentItem.community_id == community.id,
                    ContentItem.recurring.is_(False),  # a series goes on; its copies count
                    ContentItem.status == "scheduled",
                    ContentItem.publish_at <= now,
                )
                .with_for_update()
            )
        )
        for item in overdue:
            await planning.unschedule(session, item)
            item.status, item.updated_at = "approved", now
    # Everything else that fell due during the pause goes now (the sweep would find it too).
    due = await session.execute(
        select(Delivery.id, Delivery.next_attempt_at).where(
            Delivery.community_id == community.id,
            Delivery.action.is_not(None),
            Delivery.next_attempt_at <= now,
        )
    )
    for delivery_id, at in due:
        jobs.defer(
            session, planning.DELIVER_JOB, str(delivery_id), job_id=planning.job_id(delivery_id, at)
        )
    return community
