"""`hearth seed-demo`: a demo organisation to explore the API with."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import channels as channel_service
from app.communities import service as community_service
from app.communities.models import Channel
from app.communities.platforms import ChannelKind
from app.communities.schemas import ChannelCreate, CommunityCreate, Tone
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.pagination import PageParams
from app.core.runtime import Runtime
from app.forum import categories, members, posts, threads
from app.forum.models import Category, Member
from app.forum.schemas import CategoryCreate, PostCreate, ThreadCreate
from app.moderation import reports, rules, sanctions
from app.moderation.schemas import RuleCreate
from app.moderation.schemas_conduct import SanctionIn
from app.moderation.schemas_review import ReportIn
from app.orgs import service as org_service
from app.orgs.schemas import ApiKeyCreate, OrgCreate
from app.schedule import workflow
from app.schedule.schemas import (
    ContentCreate,
    ContentKind,
    FeedOptions,
    Recurrence,
    Translation,
)

WEEKLY_UPDATE = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=18;BYMINUTE=0"
DEMO_FEED = "starfall-news"

DEMO_COMMUNITIES = [
    CommunityCreate(
        slug="starfall",
        name="Starfall Online",
        description="A space MMO's players: patch talk, guilds, bug reports.",
        default_locale="en",
        locales=["en", "de", "fr"],
        tone=Tone(
            voice="Warm, direct, a little playful; we are players too.",
            formality="casual",
            emoji="some",
            banned_phrases=["unfortunately", "as per"],
            preferred_terms={"users": "pilots", "bug": "issue"},
            sign_off="Fly safe, the Starfall team",
        ),
    ),
    CommunityCreate(
        slug="pixel-racers",
        name="Pixel Racers",
        description="A kart racer's community: events, leaderboards, creator highlights.",
        default_locale="en",
        locales=["en", "ja"],
        tone=Tone(
            voice="Energetic and short.",
            formality="casual",
            emoji="lots",
            sign_off="See you on the track!",
        ),
    ),
]


@dataclass
class SeedResult:
    org_id: uuid.UUID
    org_name: str
    keys: dict[str, str] = field(default_factory=dict)
    communities: dict[str, list[str]] = field(default_factory=dict)
    forum_community: str = ""
    content: list[str] = field(default_factory=list)
    feed: str = ""  # starfall's launcher feed, as its URL names it


async def seed(runtime: Runtime) -> SeedResult:
    async with runtime.unit_of_work() as session:
        org, owner = await org_service.create_org(session, OrgCreate(name="Demo Studio"))
        result = SeedResult(org.id, org.name, keys={"owner": owner.key})
        actor = Actor(org_id=org.id, role=Role.owner, key_id=owner.record.id, name="seed-demo")
        for role in (Role.manager, Role.moderator, Role.analyst, Role.viewer):
            issued = await org_service.create_api_key(
                session, actor, ApiKeyCreate(name=f"demo {role.value}", role=role)
            )
            result.keys[role.value] = issued.key
        for data in DEMO_COMMUNITIES:
            community = await community_service.create_community(session, actor, data)
            names = []
            # Published content goes to the forum as a staff thread in this category.
            news = await categories.create_category(
                session,
                actor,
                community.id,
                CategoryCreate(name="Announcements", slug="announcements", position=0),
            )
            feed_config = {}
            if community.slug == "starfall" and not await _feed_slug_taken(session, DEMO_FEED):
                # A name for the launcher's URL; a second demo run keeps it for the first.
                feed_config = {"public_slug": DEMO_FEED, "title": "Starfall News"}
            for channel in (
                ChannelCreate(
                    name="forum", kind=ChannelKind.forum, config={"category_id": str(news.id)}
                ),
                ChannelCreate(
                    name="launcher-news", kind=ChannelKind.launcher_feed, config=feed_config
                ),
            ):
                created, _ = await channel_service.create_channel(
                    session, actor, community.id, channel, policy=runtime.outbound
                )
                names.append(created.name)
                if community.slug == "starfall" and created.kind == ChannelKind.launcher_feed:
                    result.feed = created.public_slug or str(created.id)
            result.communities[community.slug] = names
            if community.slug == "starfall":
                await _seed_forum(session, runtime, actor, community.id)
                result.forum_community = str(community.id)
                result.content = await _seed_content(session, actor, community.id)
    if result.forum_community:
        await _seed_moderation(runtime, actor, uuid.UUID(result.forum_community))
    return result


async def _seed_moderation(runtime: Runtime, owner: Actor, community_id: uuid.UUID) -> None:
    """Automod rules (committed first: they screen the posts after them), a post automod
    held, a post two members reported, and a muted member: the queue has work in it."""
    rule_bodies = [
        {
            "name": "Scams and gold sellers",
            "kind": "keyword",
            "config": {"terms": ["free skins", "gold seller", "account seller"]},
            "action": "hold",
            "severity": 4,
            "message": "Held for a moderator: it looks like a scam.",
        },
        {
            "name": "Server invites",
            "kind": "link",
            "config": {"block_invites": True},
            "action": "block",
            "message": "Invites to other Discord servers are not allowed here.",
        },
        {
            "name": "Shouting",
            "kind": "caps",
            "config": {"min_length": 16, "max_ratio": 0.8},
            "action": "flag",
            "severity": 1,
        },
    ]
    async with runtime.unit_of_work() as session:
        for body in rule_bodies:
            await rules.create_rule(
                session, owner, community_id, TypeAdapter(RuleCreate).validate_python(body)
            )
    async with runtime.unit_of_work() as session:
        general = await session.scalar(
            select(Category.id).where(
                Category.community_id == community_id, Category.slug == "general"
            )
        )
        assert general is not None
        vex = await members.join(session, owner.org_id, community_id, "demo-player-3", "Vex")
        await threads.create_thread(
            session,
            members.actor_for(vex),
            community_id,
            ThreadCreate(
                category_id=general,
                kind="discussion",
                title="Cheap credits, fast delivery",
                body="Best gold seller in the sector, message me for prices.",
            ),
            limiter=runtime.limiter,
            automod=runtime.automod,
        )
        rant = await threads.create_thread(
            session,
            members.actor_for(vex),
            community_id,
            ThreadCreate(
                category_id=general,
                kind="discussion",
                title="Whoever balanced the new ship",
                body="Whoever balanced the Corsair has never played this game. Clueless.",
            ),
            limiter=runtime.limiter,
            automod=runtime.automod,
        )
        for reporter in ("demo-player-1", "demo-player-2"):
            found = await session.scalar(
                select(Member).where(
                    Member.community_id == community_id, Member.external_id == reporter
                )
            )
            assert found is not None
            await reports.create_report(
                session,
                members.actor_for(found),
                ReportIn(target_type="post", target_id=rant.first_post_id, reason="harassment"),
                limiter=runtime.limiter,
            )
        await sanctions.issue_by_staff(
            session,
            owner,
            vex.id,
            SanctionIn(kind="mute", duration_hours=24, reason="Gold selling in General"),
        )


def _next_friday_6pm_london(now: datetime) -> datetime:
    london = ZoneInfo("Europe/London")
    local = now.astimezone(london)
    days = (4 - local.weekday()) % 7 or 7
    friday = (local + timedelta(days=days)).replace(hour=18, minute=0, second=0, microsecond=0)
    return friday.astimezone(UTC)


async def _seed_content(session: AsyncSession, owner: Actor, community_id: uuid.UUID) -> list[str]:
    """A published announcement, patch notes scheduled for the day after tomorrow and a
    weekly community update, so the calendar and the feed have something in them."""
    channels = (
        await channel_service.list_channels(session, owner, community_id, PageParams(limit=10))
    ).items
    channel_ids = [c.id for c in channels]
    now = utcnow()
    announcement = await workflow.create(
        session,
        owner,
        community_id,
        ContentCreate(
            kind=ContentKind.announcement,
            title="Season 3: the Nebula frontier opens",
            body="New ships, a new sector and the **Nebula** event. See the patch notes for"
            " everything.\n\nFly safe, the Starfall team",
            channel_ids=channel_ids,
            tags=["season-3"],
            feed=FeedOptions(summary="New ships, a new sector, the Nebula event.", pinned=True),
        ),
    )
    await workflow.publish(session, owner, announcement.id)
    patch = await workflow.create(
        session,
        owner,
        community_id,
        ContentCreate(
            kind=ContentKind.patch_notes,
            title="Patch 3.0.1",
            body="- Docking at Hyperion no longer crashes the game.\n- Nebula rewards arrive"
            " within the hour.\n\nFly safe, the Starfall team",
            channel_ids=channel_ids,
            tags=["patch"],
        ),
    )
    await workflow.schedule(session, owner, patch.id, now + timedelta(days=2))
    weekly = await workflow.create(
        session,
        owner,
        community_id,
        ContentCreate(
            kind=ContentKind.highlight,
            title="This week in Starfall",
            body="Guild spotlights, the best screenshots and what the team is working on.\n\n"
            "Fly safe, the Starfall team",
            channel_ids=channel_ids[:1],
            recurrence=Recurrence(rrule=WEEKLY_UPDATE, timezone="Europe/London"),
        ),
    )
    await workflow.schedule(session, owner, weekly.id, _next_friday_6pm_london(now))
    feed_ids = [c.id for c in channels if c.kind == ChannelKind.launcher_feed]
    event = await workflow.create(
        session,
        owner,
        community_id,
        ContentCreate(
            kind=ContentKind.event,
            title="Nebula weekend: double rewards",
            body="Every Nebula run pays double until Monday.\n\nFly safe, the Starfall team",
            channel_ids=feed_ids,
            tags=["event"],
            translations={
                "de": Translation(
                    title="Nebula-Wochenende: doppelte Belohnungen",
                    body="Jeder Nebula-Einsatz zahlt bis Montag doppelt.",
                )
            },
            feed=FeedOptions(summary="Double rewards all weekend.", priority=10),
        ),
    )
    await workflow.publish(session, owner, event.id)
    return [announcement.title, event.title, patch.title, weekly.title]


async def _feed_slug_taken(session: AsyncSession, slug: str) -> bool:
    found = await session.scalar(select(Channel.id).where(Channel.public_slug == slug))
    return found is not None


async def _seed_forum(
    session: AsyncSession, runtime: Runtime, owner: Actor, community_id: uuid.UUID
) -> None:
    """A member secret, categories, a question staff answered, one still waiting in the
    inbox, and a bug report."""
    await community_service.set_member_secret(
        session, owner, community_id, secrets.token_urlsafe(32)
    )
    category_ids = {}
    for position, (slug, name) in enumerate(
        [("general", "General"), ("help", "Help & support"), ("bugs", "Bug reports")], start=1
    ):
        category = await categories.create_category(
            session,
            owner,
            community_id,
            CategoryCreate(name=name, slug=slug, position=position),
        )
        category_ids[slug] = category.id
    member = await members.join(session, owner.org_id, community_id, "demo-player-1", "Nova")
    thread = await threads.create_thread(
        session,
        members.actor_for(member),
        community_id,
        ThreadCreate(
            category_id=category_ids["help"],
            kind="question",
            title="How do I link my Starfall account to Discord?",
            body="I looked in **Settings** but can't find it. Is it still possible?",
        ),
        limiter=runtime.limiter,
        automod=runtime.automod,
    )
    await threads.create_thread(
        session,
        members.actor_for(member),
        community_id,
        ThreadCreate(
            category_id=category_ids["bugs"],
            kind="bug",
            title="Crash when docking at Hyperion station",
            body="The game freezes and crashes every time I dock. This is really frustrating.",
        ),
        limiter=runtime.limiter,
        automod=runtime.automod,
    )
    # Waiting in the inbox: nobody from staff has answered yet.
    other = await members.join(session, owner.org_id, community_id, "demo-player-2", "Kestrel")
    await threads.create_thread(
        session,
        members.actor_for(other),
        community_id,
        ThreadCreate(
            category_id=category_ids["help"],
            kind="question",
            title="Where are my Nebula event rewards?",
            body=(
                "I finished all five Nebula missions and got nothing."
                " This is really frustrating and unfair."
            ),
        ),
        limiter=runtime.limiter,
        automod=runtime.automod,
    )
    await posts.create_post(
        session,
        owner,
        thread.id,
        PostCreate(body="Yes! *Settings → Account → Connections*. Fly safe!"),
        limiter=runtime.limiter,
        automod=runtime.automod,
    )
