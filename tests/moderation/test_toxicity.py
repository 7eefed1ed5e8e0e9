"""Toxicity scorers: the local model, and a model server that may be slow or down (a real
server on 127.0.0.1), which must never hold a post up for long."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx

from app.moderation.toxicity import HttpScorer, LocalScorer
from tests.receiver import Receiver, Reply


async def test_the_local_model_scores_abuse_above_kindness() -> None:
    scorer = LocalScorer()
    kind = await scorer.score("Thanks for the quick fix, the patch is great!")
    abuse = await scorer.score("you are a fucking idiot, go away")
    assert kind.value is not None and abuse.value is not None
    assert kind.value < 0.5 < abuse.value
    assert (abuse.provider, abuse.model) == ("local", "alt-profanity-check")
    assert abuse.version and abuse.skipped is None


async def test_a_model_server_is_asked_and_named() -> None:
    receiver = Receiver()
    try:
        answer = json.dumps({"score": 0.93, "model": "toxic-bert", "version": "2"}).encode()
        receiver.script("/score", then=Reply(body=answer))
        async with httpx.AsyncClient() as client:
            score = await HttpScorer(client, receiver.url("/score")).score("hello")
        assert (score.value, score.provider, score.model, score.version) == (
            0.93,
            "http",
            "toxic-bert",
            "2",
        )
        (sent,) = receiver.received("/score")
        assert sent.json() == {"text": "hello"}
    finally:
        receiver.close()


async def test_a_slow_or_failing_server_is_skipped_then_left_alone() -> None:
    receiver = Receiver()
    release = threading.Event()
    try:
        receiver.script("/slow", then=Reply(hold=release))
        receiver.script(
            "/down", Reply(status=500), Reply(status=500), then=Reply(body=b'{"score": 0.1}')
        )
        async with httpx.AsyncClient() as client:
            slow = HttpScorer(client, receiver.url("/slow"), timeout=0.3)
            started = time.monotonic()
            skipped = await slow.score("hi")
            assert (
                skipped.value is None and skipped.skipped == "scorer unavailable: no answer in time"
            )
            assert time.monotonic() - started < 1.0
            release.set()

            down = HttpScorer(client, receiver.url("/down"), failures_to_open=2, open_seconds=0.3)
            for _ in range(2):
                assert (await down.score("hi")).value is None
            opened = await down.score("hi")
            assert opened.skipped is not None and "circuit open" in opened.skipped
            assert len(receiver.received("/down")) == 2  # not asked while open
            await asyncio.sleep(0.35)
            assert (await down.score("hi")).value == 0.1  # tried again, and it is back
    finally:
        release.set()
        receiver.close()
