"""What erasing a member removes from moderation's records: what they wrote (automod's
evidence from their posts, their reports' notes, their appeals' statements) and what staff
wrote about them (notes, reports' notes on their content). Ids, states and decisions stay:
they are the record of what moderators did, and hold nothing personal."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.moderation.models import Appeal, MemberNote, Report, ReviewItem


async def erase(session: AsyncSession, member_id: uuid.UUID) -> None:
    about_them = select(ReviewItem.id).where(ReviewItem.author_member_id == member_id)
    for item in await session.scalars(
        select(ReviewItem).where(ReviewItem.author_member_id == member_id)
    ):
        # A hit's reason may quote the text too (a link's host).
        if any(entry.get("matched") or entry.get("reason") for entry in item.automod):
            item.automod = [{**entry, "matched": "", "reason": ""} for entry in item.automod]
    await session.execute(
        update(Report)
        .where(or_(Report.reporter_member_id == member_id, Report.review_item_id.in_(about_them)))
        .values(note=None)
    )
    await session.execute(
        update(Appeal).where(Appeal.member_id == member_id).values(statement="[erased]")
    )
    await session.execute(delete(MemberNote).where(MemberNote.member_id == member_id))
