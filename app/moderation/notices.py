"""What a member is told, in their community's words (`notify` on a decision, a sanction
or an appeal decision): the text rides on the event (`review.decided`, `sanction.created`,
`appeal.decided`) as `notify: {member_id, locale, message}`, for the bot or tool that
delivers it. Hearth itself has no channel to a member."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from string import Template
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities import service as communities
from app.communities.models import Community
from app.core import audit
from app.core.auth import Actor, Role
from app.forum.models import Member
from app.moderation.models import Sanction
from app.moderation.schemas_notices import MemberNotices

DEFAULT = MemberNotices()
WHAT = {"post": "post", "thread": "thread", "member": "account"}


def notices_of(community: Community) -> MemberNotices:
    """The community's wording. Read leniently: an outcome added since keeps its default,
    and wording a later version would refuse (a placeholder dropped) falls back to the
    default rather than failing the moderator's decision."""
    if not community.member_notices:
        return DEFAULT
    kept = {}
    for name, text in community.member_notices.items():
        if name in MemberNotices.model_fields:
            try:
                MemberNotices.model_validate({name: text})
            except ValidationError:
                continue
            kept[name] = text
    return MemberNotices.model_validate(kept)


async def get_notices(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID
) -> MemberNotices:
    actor.require(Role.moderator)
    return notices_of(await communities.get_community(session, actor, community_id))


async def put_notices(
    session: AsyncSession, actor: Actor, community_id: uuid.UUID, notices: MemberNotices
) -> MemberNotices:
    actor.require(Role.manager)
    community = await communities.get_community(session, actor, community_id)
    before = notices_of(community).model_dump()
    community.member_notices = notices.model_dump()
    await session.flush()
    # Wording is the community's free text: the log says which outcomes changed.
    changed = sorted(k for k, v in community.member_notices.items() if before.get(k) != v)
    await audit.record(
        session,
        actor,
        "community.member_notices_set",
        org_id=community.org_id,
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        after={"changed": changed},
    )
    return notices


async def compose(
    session: AsyncSession,
    member_id: uuid.UUID,
    *,
    outcome: str | None,
    what: str = "member",
    sanctions: Sequence[Sanction] = (),
    reason: str | None = None,
) -> dict[str, Any] | None:
    """The notice for `member_id`: `outcome`'s sentence (a decision's action, or
    `appeal_upheld`/`appeal_overturned`), each sanction's, the reason, the sign-off."""
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        return None
    community = await session.get_one(Community, member.community_id)
    wording = notices_of(community)
    values = {
        "member": member.display_name or "",
        "community": community.name,
        "what": WHAT[what],
        "until": "",
        "reason": reason or "",
    }

    def say(key: str, **more: str) -> str:
        return Template(getattr(wording, key)).safe_substitute(values, **more)

    parts = [say(outcome)] if outcome else []
    parts += [say(s.kind, until=_until(s.ends_at)) for s in sanctions]
    parts += [say("reason")] if reason else []
    sign_off = (community.tone or {}).get("sign_off")
    message = " ".join(parts) + (f"\n\n{sign_off}" if sign_off else "")
    return {
        "member_id": str(member.id),
        "locale": community.default_locale,
        "message": message,
    }


def _until(ends_at: datetime | None) -> str:
    return f"until {ends_at:%Y-%m-%d %H:%M} UTC" if ends_at else "for good"
