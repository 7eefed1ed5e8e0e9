"""How a receiver's answer is classified: done, failed for good, or retried (and when)."""

from __future__ import annotations

import uuid

import pytest

from app.communities.platforms import ChannelKind
from app.core.outbound import Outcome
from app.schedule.connectors import Task, classify
from app.schedule.render import Rendered


def task(kind: ChannelKind = ChannelKind.webhook, action: str = "send") -> Task:
    rendered = Rendered(uuid.uuid4(), kind, "t", "x", {})
    return Task(uuid.uuid4(), action, kind, {}, rendered, "123", 1)  # type: ignore[arg-type]


def answer(status: int | None, body: str = "", retry_after: float | None = None) -> Outcome:
    error = None if status else "refused"
    return Outcome(status, error, body, 1.0, retry_after)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "done"),
        (204, "done"),
        (301, "failed"),  # redirects are not followed
        (400, "failed"),
        (404, "failed"),
        (410, "failed"),
        (408, "retry"),
        (409, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (None, "retry"),  # no answer at all
    ],
)
def test_status_classes(status: int | None, outcome: str) -> None:
    assert classify(task(), answer(status)).outcome == outcome


def test_retry_after_and_discords_own() -> None:
    assert classify(task(), answer(429, retry_after=30)).retry_after == 30
    discord = classify(
        task(ChannelKind.discord), answer(429, '{"retry_after": 1.5, "global": false}', 30)
    )
    assert discord.retry_after == 1.5  # the body's float is the precise one


def test_a_message_already_deleted_counts_as_deleted() -> None:
    assert classify(task(ChannelKind.discord, "retract"), answer(404)).outcome == "done"
    assert classify(task(ChannelKind.discord, "update"), answer(404)).outcome == "failed"
