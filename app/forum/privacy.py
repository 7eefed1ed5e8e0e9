"""Data protection: export everything held about a member; erase their personal data.

Erasure keeps the member's posts in place (threads stay readable) but cuts every link to
the person: name and external id are removed, reactions are deleted, and bylines read
"deleted member". With `delete_posts`, the posts' text is blanked and they are removed too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, events
from app.core.auth import Actor, Role, forget_member_tokens
from app.core.db import utcnow
from app.forum.counters import LATEST_VISIBLE_POST, bump
from app.forum.members import get_member, post_counts, to_out
from app.forum.models import Member, Post, Reaction, Thread
from app.forum.posts import recount
from app.forum.schemas import MemberExport
from app.moderation import privacy as moderation_privacy
from app.webhooks import service as webhooks_service

THREAD_FIELDS = ("id", "community_id", "category_id", "kind", "title", "status", "created_at")
POST_FIELDS = (
    "id", "thread_id", "reply_to_id", "body", "status", "sentiment_score", "sentiment_label",
    "created_at", "edited_at", "removed_at",
)  # fmt: skip


async def export_member(session: AsyncSession, actor: Actor, member_id: uuid.UUID) -> MemberExport:
    actor.require(Role.manager)
    member = await get_member(session, actor, member_id)
    counts = await post_counts(session, [member.id])
    threads = await session.scalars(
        select(Thread).where(Thread.author_member_id == member.id).order_by(Thread.created_at)
    )
    posts = await session.scalars(
        select(Post).where(Post.author_member_id == member.id).order_by(Post.created_at)
    )
    reactions = await session.scalars(
        select(Reaction).where(Reaction.member_id == member.id).order_by(Reaction.created_at)
    )
    # Recorded in the caller's transaction: kept only when the caller commits it.
    return MemberExport(
        exported_at=utcnow(),
        member=to_out(member, counts.get(member.id, 0)),
        threads=[moderation_privacy.fields_of(t, THREAD_FIELDS) for t in threads],
        posts=[moderation_privacy.fields_of(p, POST_FIELDS) for p in posts],
        reactions=[
            moderation_privacy.fields_of(r, ("post_id", "emoji", "created_at")) for r in reactions
        ],
        moderation=await moderation_privacy.export(session, member.id),
    )


async def erase_member(
    session: AsyncSession, actor: Actor, member_id: uuid.UUID, *, delete_posts: bool = False
) -> None:
    actor.require(Role.owner)
    member = await get_member(session, actor, member_id)
    was_erased = member.erased_at is not None
    if was_erased and not delete_posts:
        return
    now = utcnow()
    reacted = list(
        await session.scalars(
            select(Post)
            .join(Reaction, Reaction.post_id == Post.id)
            .where(Reaction.member_id == member.id)
            .with_for_update(of=Post)
        )
    )
    await session.execute(Reaction.__table__.delete().where(Reaction.member_id == member.id))
    await recount(session, reacted)
    if delete_posts:
        # Their visible replies leave their threads' counters, and answers their marks, as
        # when each post is removed on its own.
        replies = await session.execute(
            select(Post.thread_id, func.count())
            .join(Thread, Thread.id == Post.thread_id)
            .where(
                Post.author_member_id == member.id,
                Post.status == "visible",
                Post.id != Thread.first_post_id,
            )
            .group_by(Post.thread_id)
        )
        for thread_id, count in replies.all():
            await bump(session, thread_id, replies=-count)
        theirs = select(Post.id).where(Post.author_member_id == member.id)
        await session.execute(
            update(Thread).where(Thread.accepted_post_id.in_(theirs)).values(accepted_post_id=None)
        )
        await session.execute(
            update(Post)
            .where(Post.author_member_id == member.id)
            .values(body="", body_html="", status="removed", removed_at=now, is_answer=False)
        )
        # Threads whose newest visible post was theirs point at the one now newest.
        await session.execute(
            update(Thread)
            .where(Thread.last_post_id.in_(theirs))
            .values(**LATEST_VISIBLE_POST)
            .execution_options(synchronize_session=False)
        )
        # Their threads go too; titles are their words as much as the posts are.
        await session.execute(
            update(Thread)
            .where(Thread.author_member_id == member.id)
            .values(title="[removed]", status="removed", updated_at=now)
        )
    await session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(
            external_id=None,
            display_name=None,
            status_reason=None,
            erased_at=member.erased_at or now,
        )
    )
    await moderation_privacy.erase(session, member.id)
    # What went out as events (names, texts) is held in the outbox and the delivery log too.
    await events.redact_mentions(session, actor.org_id, str(member.id))
    await webhooks_service.redact_payloads(session, actor.org_id, str(member.id))
    forget_member_tokens(session, member.id)  # this replica stops trusting their tokens now
    # The member's id and states only: nothing personal outlives the erasure in the log.
    await audit.record(
        session,
        actor,
        "member.erased",
        org_id=member.org_id,
        target_type="member",
        target_id=member.id,
        community_id=member.community_id,
        before={"erased": was_erased},
        after={"erased": True, "posts_deleted": delete_posts},
    )
    await events.emit(
        session,
        actor.org_id,
        "member.erased",
        {
            "id": str(member.id),
            "community_id": str(member.community_id),
            "posts_deleted": delete_posts,
        },
    )
