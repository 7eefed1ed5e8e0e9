"""`hearth seed-demo`: a demo organisation to explore the API with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from app.communities import channels as channel_service
from app.communities import service as community_service
from app.communities.platforms import ChannelKind
from app.communities.schemas import ChannelCreate, CommunityCreate, Tone
from app.core.auth import Actor, Role
from app.core.runtime import Runtime
from app.orgs import service as org_service
from app.orgs.schemas import ApiKeyCreate, OrgCreate

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
            for channel in (
                ChannelCreate(name="forum", kind=ChannelKind.forum),
                ChannelCreate(name="launcher-news", kind=ChannelKind.launcher_feed),
            ):
                created, _ = await channel_service.create_channel(
                    session, actor, community.id, channel, policy=runtime.outbound
                )
                names.append(created.name)
            result.communities[community.slug] = names
    return result
