"""The engine's rules for one send of a batch: when it is given back unsent, and what a
bug while sending becomes. The batches themselves run in test_delivery and test_crash."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from app.communities.platforms import ChannelKind
from app.core.db import utcnow
from app.schedule.claiming import Claimed
from app.schedule.connectors import Task
from app.schedule.engine import _send
from app.schedule.render import Rendered
from app.settings import Settings


class Runtime:
    """Only what `_send` reads before it would reach the network."""

    settings = Settings(_env_file=None, webhook_timeout_seconds=3, lease_seconds=10)

    def __init__(self) -> None:
        self.delivery_slots = asyncio.Semaphore(1)


def claimed(lease_left: float, config: dict | None = None) -> Claimed:
    kind = ChannelKind.webhook
    rendered = Rendered(uuid.uuid4(), kind, "t", "x", {"type": "content.published", "data": {}})
    task = Task(uuid.uuid4(), "send", kind, config or {}, rendered, None, 1)
    lease = utcnow() + timedelta(seconds=lease_left)
    return Claimed(task, lease, uuid.uuid4(), uuid.uuid4())


def far() -> datetime:
    return utcnow() + timedelta(hours=1)


async def test_a_send_that_could_outlive_its_lease_is_given_back_unsent() -> None:
    # The slot is free, but 2 s of lease cannot hold a send of up to 3 s.
    assert await _send(Runtime(), claimed(2), far()) is None  # type: ignore[arg-type]


async def test_a_send_that_could_outlive_the_job_is_given_back_unsent() -> None:
    # The row's lease is long (claimed late in a draining job), the job's time is not.
    soon = utcnow() + timedelta(seconds=2)
    assert await _send(Runtime(), claimed(9), soon) is None  # type: ignore[arg-type]


async def test_a_bug_while_sending_is_a_retry_not_a_lost_batch() -> None:
    # A webhook channel without its URL: building the request fails before any I/O.
    result = await _send(Runtime(), claimed(9), far())  # type: ignore[arg-type]
    assert result is not None and result.outcome == "retry"
    assert "KeyError" in (result.error or "")
