"""Posts: write, read, edit, remove, react, accept as the answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.communities.models import Community
from app.core import audit, events
from app.core.auth import Actor, Role
from app.core.db import new_id, utcnow
from app.core.emoji import canonical_emoji
from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    missing_reference,
)
from app.core.events import OutboxEvent
from app.core.pagination import Keyset, PageParams, Window, paginate
from app.core.ratelimit import RateLimiter, ip_bucket
from app.core.statements import Prebuilt, Runner, session_runner, statements
from app.core.text import render_markdown, sentiment
from app.forum import inbox
from app.forum.access import (
    is_author,
    load_post,
    load_thread,
    require_writer,
    visible_clause,
    visible_to_member,
)
from app.forum.counters import bump, follow_post_status, reaction_total
from app.forum.members import (
    MEMBER_STANDING,
    STANDING_COLUMNS,
    ensure_may_write,
    fresh_standing,
    with_standing,
)
from app.forum.models import Member, Post, Reaction, Thread
from app.forum.schemas import PostCreate, PostUpdate
from app.forum.views import event_payload
from app.moderation import enforce
from app.moderation.rulebook import Rulebook

POST_ORDER = Keyset([(Post.created_at, "asc"), (Post.id, "asc")])


async def guard_member_write(actor: Actor, limiter: RateLimiter, rule: str | None) -> None:
    """Conduct first (a muted member is told why), then the member's and the IP's budgets."""
    require_writer(actor)
    if not actor.is_member:
        return
    ensure_may_write(actor)
    if rule is not None:
        await limiter.hit(rule, str(actor.member_id))
    if actor.ip:
        await limiter.hit("ip_writes", ip_bucket(actor.ip))


def post_row(
    actor: Actor,
    thread: Thread | Any,
    body: str,
    *,
    reply_to: uuid.UUID | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A new post's columns, rendered and scored once, here, at write time. `thread` is
    the model or a row with its id, org_id and community_id."""
    mood = sentiment(body)
    return {
        "id": new_id(),
        "org_id": thread.org_id,
        "community_id": thread.community_id,
        "thread_id": thread.id,
        "reply_to_id": reply_to,
        "author_member_id": actor.member_id,
        "author_key_id": actor.key_id,
        "author_name": None if actor.is_member else actor.name,
        "body": body,
        "body_html": render_markdown(body),
        "status": "visible",
        "is_official": actor.is_staff,
        "is_answer": False,
        "sentiment_score": mood.score,
        "sentiment_label": mood.label,
        "reactions": {},
        "created_at": at or utcnow(),
        "edited_at": None,
        "removed_at": None,
    }


def build_post(
    actor: Actor,
    thread: Thread,
    body: str,
    *,
    reply_to: uuid.UUID | None = None,
    at: datetime | None = None,
) -> Post:
    return Post(**post_row(actor, thread, body, reply_to=reply_to, at=at))


# Replying is the forum's hottest write. Its statements are built once and run through
# `statements()`: on PostgreSQL straight on the driver, with no session or ORM machinery.
_threads = Thread.__table__.c
_members = Member.__table__.c
_posts = Post.__table__.c
_INSERT_POST = insert(Post.__table__)
_BUMP_FOR_REPLY = (
    update(Thread.__table__)
    .where(_threads.id == bindparam("target"))
    .values(
        reply_count=_threads.reply_count + 1,
        score=_threads.score + 1,
        last_post_id=bindparam("new_post"),
        last_posted_at=bindparam("posted_at"),
    )
)


def _prefixed_insert(table: Any, prefix: str) -> Any:
    return insert(table).values({c.name: bindparam(prefix + c.name, type_=c.type) for c in table.c})


# On PostgreSQL the post, the thread's counters and the outbox row go in one statement
# (data-modifying CTEs), one round trip instead of three, and the thread's row lock, which
# concurrent replies queue on, is held only until the commit right after. The new post's
# foreign keys are checked at the end of that statement, after the thread is locked: the
# post it replies to is therefore locked before (see _REPLY_TO_IN_THREAD), like every writer
# that takes a post and its thread. A community or org deleted at that very moment can make
# PostgreSQL pick one of the two as a deadlock victim: a 503 to send again.
_REPLY_IN_ONE_STATEMENT = Prebuilt(
    _prefixed_insert(OutboxEvent.__table__, "event_").add_cte(
        _prefixed_insert(Post.__table__, "post_").cte("new_post"),
        _BUMP_FOR_REPLY.cte("bumped_thread"),
    )
)
# SQLite runs the same writes one by one.
_REPLY_STEP_BY_STEP = (Prebuilt(_INSERT_POST), Prebuilt(events.INSERT), Prebuilt(_BUMP_FOR_REPLY))

# A member's reply target: the thread as the member may see it (readable() for a member,
# with bind parameters) and the member's conduct as stored now (their token may have been
# checked a few seconds ago), in one SELECT.
_communities = Community.__table__.c
_TARGET_COLUMNS = (
    _threads.id,
    _threads.org_id,
    _threads.community_id,
    _threads.category_id,
    _threads.status,
    _threads.locked,
    _communities.automod_version,  # which compiled rules screen the reply (moderation)
)
_WITH_COMMUNITY = Thread.__table__.join(
    Community.__table__, _communities.id == _threads.community_id
)
_MEMBER_REPLY_TARGET = Prebuilt(
    select(*_TARGET_COLUMNS, *STANDING_COLUMNS)
    .select_from(_WITH_COMMUNITY.outerjoin(Member.__table__, _members.id == bindparam("member_id")))
    .where(
        _threads.id == bindparam("thread_id"),
        _threads.org_id == bindparam("org_id"),
        _threads.community_id == bindparam("community_id"),
        visible_to_member(_threads, bindparam("member_id")),
    )
)
# Staff read every thread of their org (readable() for staff).
_STAFF_REPLY_TARGET = Prebuilt(
    select(*_TARGET_COLUMNS)
    .select_from(_WITH_COMMUNITY)
    .where(_threads.id == bindparam("thread_id"), _threads.org_id == bindparam("org_id"))
)
# Key-share locked: the reply's foreign key would take this lock anyway, but only at the end
# of the write, after the thread's row lock; taken here it comes first, in the
# post-then-thread order reactions, edits and accepted answers use.
_REPLY_TO_IN_THREAD = Prebuilt(
    select(_posts.id)
    .where(_posts.id == bindparam("post_id"), _posts.thread_id == bindparam("thread_id"))
    .with_for_update(read=True, key_share=True)
)


async def create_post(
    session: AsyncSession,
    actor: Actor,
    thread_id: uuid.UUID,
    data: PostCreate,
    *,
    limiter: RateLimiter,
    automod: Rulebook,
) -> Post:
    require_writer(actor)
    # On PostgreSQL a plain member reply is one read and one write statement, and needs no
    # transaction around them (see statements()); a reply to a post holds that post's lock
    # until the write, and a staff reply writes the inbox too. Automod screens between the
    # read and the write, holding no connection (its rules, a member's activity or a
    # toxicity model may take a moment). A reply it matched is written through the
    # session instead, with its review item, in one transaction.
    async with statements(session, transaction=False) as run:
        thread, actor = await _reply_target(run, actor, thread_id)
    if actor.is_member:
        ensure_may_write(actor)
        if thread.locked:
            raise Forbidden("This thread is locked: it takes no new posts.", extra={"locked": True})
        if thread.status != "visible":
            raise Forbidden("This thread is not open for replies while it is under review.")
    await guard_member_write(actor, limiter, "member_posts")
    verdict = await automod.screen(
        data.body,
        community_id=thread.community_id,
        version=thread.automod_version,
        actor=actor,
        category_id=thread.category_id,
    )
    await enforce.refuse_if_blocked(
        automod,
        verdict,
        org_id=actor.org_id,
        community_id=thread.community_id,
        member_id=actor.member_id,
        target_type="post",
    )
    if not verdict.hits:
        one_write = data.reply_to is None and actor.is_member
        async with statements(session, transaction=not one_write) as run:
            await _check_reply_to(run, thread, data)
            post = await _write_reply(run, actor, thread, data)
    else:
        run = session_runner(session)
        await _check_reply_to(run, thread, data)
        post = await _write_reply(run, actor, thread, data, status=enforce.status_for(verdict))
        await enforce.record(
            session,
            verdict,
            org_id=actor.org_id,
            community_id=thread.community_id,
            target_type="post",
            target_id=post.id,
            author_member_id=actor.member_id,
        )
    events.dispatch_after_commit(session)
    return post


async def _check_reply_to(run: Runner, thread: Any, data: PostCreate) -> None:
    """The post replied to is in the thread; locked (key share) until the write, so it
    cannot vanish under the reply."""
    if data.reply_to is None:
        return
    found = await run.first(_REPLY_TO_IN_THREAD, {"post_id": data.reply_to, "thread_id": thread.id})
    if found is None:
        raise missing_reference("reply_to", "No post of this thread has that id.")


async def _write_reply(
    run: Runner, actor: Actor, thread: Any, data: PostCreate, *, status: str = "visible"
) -> Post:
    """The post, its event, and (when it is visible) the thread's counters."""
    row = post_row(actor, thread, data.body, reply_to=data.reply_to)
    row["status"] = status
    post = Post(**row)  # the response's view of the row written below
    attach_byline(post, actor)
    event = events.event_row(actor.org_id, "post.created", event_payload(post))
    bump = {"target": thread.id, "new_post": post.id, "posted_at": post.created_at}
    if status != "visible":
        # Held or hidden: the thread does not change for anyone else until it is approved.
        await run.execute(_REPLY_STEP_BY_STEP[0], row)
        await run.execute(_REPLY_STEP_BY_STEP[1], event)
    elif run.dialect_name == "postgresql":
        params = {f"post_{k}": v for k, v in row.items()}
        params.update({f"event_{k}": v for k, v in event.items()}, **bump)
        await run.execute(_REPLY_IN_ONE_STATEMENT, params)
    else:
        insert_post, insert_event, bump_thread = _REPLY_STEP_BY_STEP
        await run.execute(insert_post, row)
        await run.execute(insert_event, event)
        await run.execute(bump_thread, bump)
    if actor.is_staff:  # after the thread, like every writer that touches both
        await run.execute(inbox.RESOLVE_FOR_THREAD, inbox.resolve_params(thread.id, actor.key_id))
    return post


async def _reply_target(run: Runner, actor: Actor, thread_id: uuid.UUID) -> tuple[Any, Actor]:
    """The thread a reply goes to and, for a member, their conduct as stored now."""
    if actor.is_member:
        params = {
            "thread_id": thread_id,
            "org_id": actor.org_id,
            "community_id": actor.community_id,
            "member_id": actor.member_id,
        }
        row = await run.first(_MEMBER_REPLY_TARGET, params)
    else:
        row = await run.first(_STAFF_REPLY_TARGET, {"thread_id": thread_id, "org_id": actor.org_id})
    if row is None:
        if actor.is_member:  # an erased member hears that first
            with_standing(actor, await run.first(MEMBER_STANDING, {"member_id": actor.member_id}))
        raise NotFound("No such thread.")
    if actor.is_member:
        actor = with_standing(actor, row)
    return row, actor


def attach_byline(obj: Post | Thread, actor: Actor) -> None:
    """Give a new row its author for the response without loading the member again: the
    token check just read the member's current name."""
    author = Member(id=actor.member_id, display_name=actor.name) if actor.is_member else None
    set_committed_value(obj, "author_member", author)


async def list_posts(
    session: AsyncSession, actor: Actor, thread_id: uuid.UUID, params: PageParams
) -> Window[Post]:
    """A thread's posts, oldest first (the opening post is the first)."""
    await load_thread(session, actor, thread_id)
    stmt = (
        select(Post)
        .where(Post.thread_id == thread_id, visible_clause(Post, actor))
        .options(joinedload(Post.author_member))
    )
    return await paginate(session, stmt, POST_ORDER, params)


async def get_post(session: AsyncSession, actor: Actor, post_id: uuid.UUID) -> Post:
    return await load_post(session, actor, post_id)


async def _editable(session: AsyncSession, actor: Actor, post_id: uuid.UUID) -> Post:
    """Its author (a member in good standing, in an unlocked thread) or a moderator."""
    post = await load_post(session, actor, post_id, lock=True)
    if not is_author(actor, post):
        if actor.is_member:
            raise Forbidden("Only the post's author or a moderator can change it.")
        actor.require(Role.moderator)
    if actor.is_member:
        ensure_may_write(actor)
        locked = await session.scalar(select(Thread.locked).where(Thread.id == post.thread_id))
        if locked:
            raise Forbidden("This thread is locked: its posts can no longer be changed.")
        if post.status == "removed":
            raise Forbidden("This post was removed and can no longer be changed.")
    return post


async def edit_post(
    session: AsyncSession,
    actor: Actor,
    post_id: uuid.UUID,
    data: PostUpdate,
    *,
    limiter: RateLimiter,
    automod: Rulebook,
) -> Post:
    actor = await fresh_standing(session, actor)
    post = await _editable(session, actor, post_id)
    await guard_member_write(actor, limiter, "member_posts")  # an edit re-renders: a write
    thread = await session.get_one(Thread, post.thread_id)
    version = await session.scalar(
        select(Community.automod_version).where(Community.id == post.community_id)
    )
    verdict = await automod.screen(
        data.body,
        community_id=post.community_id,
        version=version or 0,
        actor=actor,
        category_id=thread.category_id,
    )
    await enforce.refuse_if_blocked(
        automod,
        verdict,
        org_id=actor.org_id,
        community_id=post.community_id,
        member_id=post.author_member_id,
        target_type="post",
        target_id=post.id,
    )
    screened = enforce.status_for(verdict)
    if post.status == "visible" and screened != "visible":
        # Taken out of view until a moderator approves it; the thread follows.
        await follow_post_status(session, thread, post, screened)
    mood = sentiment(data.body)
    post.body = data.body
    post.body_html = render_markdown(data.body)
    post.sentiment_score, post.sentiment_label = mood.score, mood.label
    post.edited_at = utcnow()
    if thread.first_post_id == post.id:
        await inbox.rerank(
            session, thread, sentiment_score=mood.score, reactions=reaction_total(post.reactions)
        )
    await session.flush()
    await enforce.record(
        session,
        verdict,
        org_id=actor.org_id,
        community_id=post.community_id,
        target_type="post",
        target_id=post.id,
        author_member_id=post.author_member_id,
    )
    if actor.is_staff:  # a member editing their own post is not audited
        await _audit(session, actor, "post.edited", post, None, {"edited": True})
    await events.emit(session, actor.org_id, "post.edited", event_payload(post))
    return post


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    post: Post,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """A staff write to a post: its states, never its text."""
    await audit.record(
        session,
        actor,
        action,
        org_id=post.org_id,
        target_type="post",
        target_id=post.id,
        community_id=post.community_id,
        before=before,
        after=after,
    )


async def delete_post(
    session: AsyncSession, actor: Actor, post_id: uuid.UUID, *, limiter: RateLimiter
) -> None:
    """Soft removal: the row stays (moderators still see it); members no longer do."""
    actor = await fresh_standing(session, actor)
    post = await _editable(session, actor, post_id)
    await guard_member_write(actor, limiter, None)
    if post.status == "removed":
        return
    was_status = post.status
    post.removed_at = utcnow()
    thread = await session.get_one(
        Thread, post.thread_id, options=[joinedload(Thread.author_member)]
    )
    opening = thread.first_post_id == post.id
    thread_was = thread.status
    await follow_post_status(session, thread, post, "removed")
    await session.flush()
    if actor.is_staff:  # a member removing their own post is not audited
        await _audit(
            session, actor, "post.deleted", post, {"status": was_status}, {"status": "removed"}
        )
        if opening and thread_was != "removed":
            await audit.record(
                session,
                actor,
                "thread.removed",
                org_id=thread.org_id,
                target_type="thread",
                target_id=thread.id,
                community_id=thread.community_id,
                before={"status": thread_was},
                after={"status": "removed"},
            )
    await events.emit(session, actor.org_id, "post.deleted", event_payload(post))
    if opening:
        await events.emit(session, actor.org_id, "thread.updated", event_payload(thread))


async def set_reaction(
    session: AsyncSession,
    actor: Actor,
    post_id: uuid.UUID,
    emoji: str,
    *,
    present: bool,
    limiter: RateLimiter,
) -> Post:
    """Add (`present`) or take back one reaction; doing it twice changes nothing."""
    require_writer(actor)
    actor = await fresh_standing(session, actor)
    key = canonical_emoji(emoji)  # the adapters already made it canonical; callers may not
    if key is None:
        raise ValidationFailed(
            "Not an emoji: send a shortcode (`thumbsup`, `+1`, `tada`) or one emoji.",
            errors=[{"loc": ["emoji"], "message": "not an emoji", "type": "emoji"}],
        )
    post = await load_post(session, actor, post_id, lock=True)
    if present and post.status != "visible":
        raise Forbidden("Only visible posts take reactions.")  # taking one back always works
    await guard_member_write(actor, limiter, "member_reactions")
    mine = select(Reaction).where(Reaction.post_id == post.id, Reaction.emoji == key)
    mine = mine.where(
        Reaction.member_id == actor.member_id
        if actor.is_member
        else Reaction.key_id == actor.key_id
    )
    existing = await session.scalar(mine)
    if present == (existing is not None):
        return post
    if present:
        session.add(
            Reaction(post_id=post.id, emoji=key, member_id=actor.member_id, key_id=actor.key_id)
        )
    else:
        await session.delete(existing)
    await session.flush()
    await recount(session, [post])
    return post


async def recount(session: AsyncSession, posts: list[Post]) -> None:
    """Rewrite the posts' `{emoji: count}` and their threads' totals from the reactions."""
    for post in posts:
        rows = await session.execute(
            select(Reaction.emoji, func.count())
            .where(Reaction.post_id == post.id)
            .group_by(Reaction.emoji)
            .order_by(func.count().desc(), Reaction.emoji)
        )
        before = reaction_total(post.reactions)
        post.reactions = {emoji: count for emoji, count in rows}
        delta = reaction_total(post.reactions) - before
        await bump(session, post.thread_id, reactions=delta)
        thread = await session.get_one(Thread, post.thread_id)
        if thread.first_post_id == post.id:
            await inbox.rerank(
                session,
                thread,
                sentiment_score=post.sentiment_score,
                reactions=reaction_total(post.reactions),
            )
    await session.flush()


async def accept(
    session: AsyncSession, actor: Actor, post_id: uuid.UUID, *, accepted: bool = True
) -> Post:
    """Mark (or unmark) a reply as the answer of its question thread."""
    require_writer(actor)
    actor = await fresh_standing(session, actor)
    post = await load_post(session, actor, post_id)
    thread = await load_thread(session, actor, post.thread_id)
    if not (is_author(actor, thread) or actor.has(Role.moderator)):
        raise Forbidden("Only the thread's author or a moderator can choose its answer.")
    if actor.is_member:
        ensure_may_write(actor)
    if thread.kind != "question":
        raise Conflict("Only question threads have an accepted answer.")
    if not accepted and thread.accepted_post_id != post.id:
        return post  # withdrawing what is not marked changes nothing
    previous = thread.accepted_post_id
    await _lock_in_order(session, thread.id, {post.id, previous} - {None}, expect=previous)
    await session.refresh(post)
    if not accepted:
        thread.accepted_post_id, post.is_answer = None, False
        await session.flush()
        if actor.is_staff:
            await _audit(
                session,
                actor,
                "post.unaccepted",
                post,
                {"is_answer": True, "thread_answer_id": post.id},
                {"is_answer": False, "thread_answer_id": None},
            )
        return post
    if post.id == thread.first_post_id or post.status != "visible":
        raise Conflict("The answer must be a visible reply in the thread.")
    if previous not in (None, post.id):
        await session.execute(
            update(Post)
            .where(Post.id == previous)
            .values(is_answer=False)
            .execution_options(synchronize_session=False)
        )
    thread.accepted_post_id, post.is_answer = post.id, True
    await inbox.resolve_for_thread(session, thread.id, by_key_id=actor.key_id)
    await session.flush()
    if actor.is_staff and previous != post.id:
        await _audit(
            session,
            actor,
            "post.accepted",
            post,
            {"is_answer": False, "thread_answer_id": previous},
            {"is_answer": True, "thread_answer_id": post.id},
        )
    await events.emit(session, actor.org_id, "post.accepted", event_payload(post))
    return post


async def _lock_in_order(
    session: AsyncSession,
    thread_id: uuid.UUID,
    post_ids: set[uuid.UUID],
    *,
    expect: uuid.UUID | None,
) -> None:
    """Lock posts (by id), then their thread: the order reactions, edits and deletes use
    too (post, then the thread's counters), so concurrent writers never deadlock."""
    await session.execute(
        select(Post.id).where(Post.id.in_(post_ids)).order_by(Post.id).with_for_update()
    )
    current = await session.scalar(
        select(Thread.accepted_post_id).where(Thread.id == thread_id).with_for_update()
    )
    if current != expect:
        raise Conflict("The thread's answer changed meanwhile; look again and retry.")
