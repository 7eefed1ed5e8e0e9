"""Backtest: one rule (enabled or not) against the community's posts of the last days, to
see what it would have caught before turning it on.

Posts are read a page at a time, newest first, only the columns screening needs, so a
window of 100,000 posts never sits in memory at once; each page is screened as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Actor
from app.core.db import utcnow
from app.core.errors import RuleViolation
from app.core.text import excerpt
from app.forum.models import Post, Thread
from app.moderation.rulebook import Compiled, Rulebook
from app.moderation.rules import get_rule
from app.moderation.schemas import BacktestOut, BacktestSample
from app.moderation.screening import ACTIVITY_KINDS

PAGE = 2_000
SAMPLES = 20


@dataclass
class Backtest:
    scanned: int = 0
    matched: int = 0
    samples: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)  # id, excerpt, hit

    def out(self) -> BacktestOut:
        return BacktestOut(
            scanned=self.scanned,
            matched=self.matched,
            samples=[BacktestSample(post_id=p, excerpt=e, matched=m) for p, e, m in self.samples],
        )


async def backtest(
    session: AsyncSession, actor: Actor, rulebook: Rulebook, rule_id: uuid.UUID, days: int
) -> Backtest:
    rule = await get_rule(session, actor, rule_id)
    if rule.kind in ACTIVITY_KINDS:
        raise RuleViolation(
            f"A {rule.kind} rule depends on what each member had posted at the time, which"
            " a backtest cannot replay; backtest the text rules.",
            errors=[{"loc": ["path", "rule_id"], "message": "not backtestable", "type": "kind"}],
        )
    compiled = Compiled([rule])
    since = utcnow() - timedelta(days=days)
    stmt = (
        select(Post.id, Post.created_at, Post.body, Thread.category_id)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.community_id == rule.community_id, Post.created_at >= since)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(PAGE)
    )
    result = Backtest()

    async def page(after: tuple[Any, uuid.UUID] | None) -> Sequence[Row[Any]]:
        if after is None:
            return (await session.execute(stmt)).all()
        at, last = after
        newer = or_(Post.created_at < at, and_(Post.created_at == at, Post.id < last))
        return (await session.execute(stmt.where(newer))).all()

    # The next page is read while this one is screened: the database works on one core
    # while screening keeps this one busy.
    pending: asyncio.Future[Sequence[Row[Any]]] | None = asyncio.ensure_future(page(None))
    try:
        while pending is not None:
            rows = await pending
            pending = None
            if len(rows) == PAGE:
                pending = asyncio.ensure_future(page((rows[-1][1], rows[-1][0])))
                await asyncio.sleep(0)  # let it send its query
            for post_id, _at, body, category_id in rows:
                result.scanned += 1
                verdict = await compiled.screen(
                    body,
                    actor=None,
                    category_id=category_id,
                    activity=None,
                    scorer=rulebook.scorer,
                )
                if verdict.hits:
                    result.matched += 1
                    if len(result.samples) < SAMPLES:
                        hit = verdict.hits[0]
                        result.samples.append((post_id, excerpt(body), hit.matched or hit.reason))
    finally:
        if pending is not None:  # screening failed: leave the session with no query in flight
            with contextlib.suppress(Exception):  # the error to report is screening's
                await pending
    return result
