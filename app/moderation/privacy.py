"""What moderation holds of a member, for their data requests. `export` hands it over with
the rest of their data; `erase` removes what they wrote (automod's evidence from their
posts, their reports' notes, their appeals' statements) and what staff wrote about them
(notes, reports' notes on their content). Ids, states and decisions stay: they are the
record of what moderators did, and hold nothing personal."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.moderation.models import Appeal, MemberNote, Report, ReviewItem, Sanction, Strike


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


async def export(session: AsyncSession, member_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """What moderation holds of and about a member, for their data request: the reports
    they filed, the sanctions and strikes they received, and their appeals."""
    reports = await session.scalars(
        select(Report).where(Report.reporter_member_id == member_id).order_by(Report.created_at)
    )
    sanctions = await session.scalars(
        select(Sanction).where(Sanction.member_id == member_id).order_by(Sanction.starts_at)
    )
    strikes = await session.scalars(
        select(Strike).where(Strike.member_id == member_id).order_by(Strike.created_at)
    )
    appeals = await session.scalars(
        select(Appeal).where(Appeal.member_id == member_id).order_by(Appeal.created_at)
    )
    return {
        "reports_filed": [
            fields_of(r, ("target_type", "target_id", "reason", "note", "outcome", "created_at"))
            for r in reports
        ],
        "sanctions": [
            fields_of(s, ("kind", "reason", "starts_at", "ends_at", "lifted_at", "lifted_reason"))
            for s in sanctions
        ],
        "strikes": [fields_of(s, ("reason", "created_at", "voided_at")) for s in strikes],
        "appeals": [fields_of(a, ("statement", "status", "note", "created_at")) for a in appeals],
    }


def fields_of(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The named columns of a row, for an export (the forum's export uses it too)."""
    return {name: getattr(row, name) for name in names}
