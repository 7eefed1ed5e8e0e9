"""Toxicity scores for automod's `toxicity` rules, from a pluggable scorer.

The default scores in process with a model that ships with its package
(`alt-profanity-check`: a linear model over word n-grams, trained on toxic comments).
Self-hosters with a model of their own point `HEARTH_TOXICITY_URL` at it: a POST of
`{"text": …}` answered `{"score": 0..1, "model"?: …, "version"?: …}`. A scorer that is slow
or down never loses a post: the score is skipped (and the skip recorded), and after a run of
failures the circuit opens, so posts stop waiting on it until it is tried again.
Every score names its provider, model and version, for the decisions it takes part in.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from app.settings import Settings


@dataclass(frozen=True, slots=True)
class Score:
    """`value` in 0..1, or None with `skipped` saying why."""

    value: float | None
    provider: str
    model: str
    version: str
    skipped: str | None = None


class Scorer(Protocol):
    async def score(self, text: str) -> Score: ...


class LocalScorer:
    """alt-profanity-check, loaded on first use (its model takes about a second)."""

    provider = "local"
    model = "alt-profanity-check"

    def __init__(self) -> None:
        self.version = importlib.metadata.version("alt-profanity-check")
        self._predict: Any = None

    async def score(self, text: str) -> Score:
        if self._predict is None:
            self._predict = await asyncio.to_thread(_load_model)
        value = float(self._predict([text])[0])
        return Score(value, self.provider, self.model, self.version)


def _load_model() -> Any:
    from profanity_check import predict_prob

    return predict_prob


class HttpScorer:
    """A self-hoster's model server, with a timeout and a circuit breaker."""

    provider = "http"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        timeout: float = 1.0,
        failures_to_open: int = 5,
        open_seconds: float = 30.0,
    ) -> None:
        self.client = client
        self.url = url
        self.timeout = timeout
        self.failures_to_open = failures_to_open
        self.open_seconds = open_seconds
        self._failures = 0
        self._open_until = 0.0

    async def score(self, text: str) -> Score:
        if time.monotonic() < self._open_until:
            return self._skip("circuit open: the scorer failed repeatedly")
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self.client.post(self.url, json={"text": text})
            answer.raise_for_status()
            body = answer.json()
            value = float(body["score"])
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"score {value} is outside 0..1")
        except (TimeoutError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._failures += 1
            if self._failures >= self.failures_to_open:
                self._open_until = time.monotonic() + self.open_seconds
                self._failures = 0
            reason = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)[:200]
            return self._skip(f"scorer unavailable: {reason or type(exc).__name__}")
        self._failures = 0
        return Score(
            value,
            self.provider,
            str(body.get("model") or self.url),
            str(body.get("version") or "unknown"),
        )

    def _skip(self, reason: str) -> Score:
        return Score(None, self.provider, self.url, "unknown", skipped=reason)


def toxicity_scorer(settings: Settings, client: httpx.AsyncClient) -> Scorer:
    """The model server at HEARTH_TOXICITY_URL, else the local model."""
    if settings.toxicity_url:
        return HttpScorer(client, settings.toxicity_url, timeout=settings.toxicity_timeout_seconds)
    return LocalScorer()
