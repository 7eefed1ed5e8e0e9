"""Sending a message to a channel: the one code path for channel tests and scheduled posts.

Each outbound kind has a sender that shapes the platform's JSON; all of them go through
`core.outbound.post` (SSRF guard, pinned address, no redirects).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.communities.platforms import PROFILES, ChannelKind
from app.core import http1, metrics, outbound, signing
from app.core.db import utcnow
from app.core.errors import Conflict
from app.core.runtime import Runtime


@dataclass(frozen=True)
class OutgoingMessage:
    text: str
    title: str | None = None
    event_type: str = "channel.message"
    data: dict[str, Any] = field(default_factory=dict)
    # Stable per logical send (e.g. a delivery row), so receivers can drop a repeated send.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Transport:
    http: http1.Pool
    policy: outbound.OutboundPolicy
    timeout: float

    @classmethod
    def of(cls, runtime: Runtime) -> Transport:
        return cls(
            runtime.outbound_http, runtime.outbound, runtime.settings.webhook_timeout_seconds
        )


def check_length(kind: ChannelKind, message: OutgoingMessage) -> None:
    """A text too long for the channel's platform conflicts with what the channel is: the
    same text fits another channel."""
    profile = PROFILES[kind]
    if len(message.text) > profile.max_length:
        raise Conflict(
            f"{profile.label} accepts at most {profile.max_length} characters; this text has"
            f" {len(message.text)}."
        )
    if message.title and profile.title_max_length and len(message.title) > profile.title_max_length:
        raise Conflict(f"{profile.label} titles are at most {profile.title_max_length} characters.")


async def send(
    kind: ChannelKind, config: dict[str, Any], message: OutgoingMessage, transport: Transport
) -> outbound.Outcome:
    """Send `message` to a channel; what the receiver answered, never an exception for it."""
    sender = _SENDERS.get(kind)
    if sender is None:
        # The channel's kind, which never changes, leaves nothing to send: a conflict with
        # what the channel is, not a fault in the request.
        raise Conflict(
            f"'{kind.value}' channels are shown by Hearth itself; there is nothing to send to."
        )
    check_length(kind, message)
    url, body, headers = sender(config, message)
    outcome = await outbound.send(
        transport.http,
        url,
        transport.policy,
        content=body,
        headers=headers,
        timeout=transport.timeout,
    )
    metrics.CHANNEL_SENDS.labels(kind=kind.value, outcome=outcome.label).inc()
    return outcome


def json_body(payload: dict[str, Any]) -> bytes:
    """The compact UTF-8 JSON every channel send carries."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


Prepared = tuple[str, bytes, dict[str, str]]


def _discord(config: dict[str, Any], message: OutgoingMessage) -> Prepared:
    payload: dict[str, Any] = {
        "content": message.text,
        # Never ping @everyone or roles from an announcement by accident.
        "allowed_mentions": {"parse": []},
    }
    if config.get("username"):
        payload["username"] = config["username"]
    if config.get("avatar_url"):
        payload["avatar_url"] = config["avatar_url"]
    # wait=true makes Discord answer with the created message instead of 204.
    url = str(httpx.URL(config["webhook_url"]).copy_merge_params({"wait": "true"}))
    return url, json_body(payload), {}


def _slack(config: dict[str, Any], message: OutgoingMessage) -> Prepared:
    text = f"*{message.title}*\n{message.text}" if message.title else message.text
    return config["webhook_url"], json_body({"text": text}), {}


def _webhook(config: dict[str, Any], message: OutgoingMessage) -> Prepared:
    body = json_body(
        {
            "type": message.event_type,
            "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
            "data": {"title": message.title, "text": message.text, **message.data},
        }
    )
    message_id = message.idempotency_key or f"msg_{uuid.uuid4().hex}"
    return config["url"], body, signing.signed_headers(config["secret"], message_id, body)


_SENDERS: dict[ChannelKind, Callable[[dict[str, Any], OutgoingMessage], Prepared]] = {
    ChannelKind.discord: _discord,
    ChannelKind.slack: _slack,
    ChannelKind.webhook: _webhook,
}
