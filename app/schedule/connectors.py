"""How each channel kind is sent to, edited and taken down.

Outbound kinds (`discord`, `slack`, `webhook`) go over HTTP through `core.outbound` (SSRF
guard, pinned address, no redirects) outside any transaction. Hearth's own surfaces
(`forum`, `launcher_feed`) are changed inside the transaction that records the delivery, so
they happen exactly once.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.delivery import json_body
from app.communities.platforms import ChannelKind
from app.core import metrics, outbound, signing
from app.core.auth import Actor, Role
from app.core.db import utcnow
from app.core.runtime import Runtime
from app.forum import posts, threads
from app.forum.schemas import PostUpdate, ThreadCreate, ThreadUpdate
from app.schedule.render import Rendered

OUTBOUND = (ChannelKind.discord, ChannelKind.slack, ChannelKind.webhook)
DISCORD_ID = re.compile(r"[0-9]{1,20}")
# A Discord message object (the answer to `wait=true`) carries the whole content back.
DISCORD_ANSWER_BYTES = 64 * 1024
# 4xx answers that say "try again later" rather than "this request will never work".
RETRYABLE_4XX = (408, 409, 429)
NOT_EDITABLE = {
    ChannelKind.slack: "Slack incoming webhooks cannot edit or delete a message once sent.",
}


@dataclass(frozen=True)
class Task:
    """One action on one delivery row, with everything needed to perform it."""

    delivery_id: uuid.UUID
    action: Literal["send", "update", "retract"]
    kind: ChannelKind
    config: dict[str, Any]
    rendered: Rendered
    external_id: str | None
    content_version: int


@dataclass(frozen=True)
class Result:
    outcome: Literal["done", "retry", "failed"]
    external_id: str | None = None
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


def message_id(task: Task) -> str:
    """`webhook-id`: fixed across retries of one message, so receivers can drop repeats; an
    edit is a new message per content version."""
    base = f"msg_{task.delivery_id.hex}"
    if task.action == "send":
        return base
    if task.action == "update":
        return f"{base}_v{task.content_version}"
    return f"{base}_retract"


async def perform(runtime: Runtime, task: Task) -> Result:
    """Send, edit or delete over HTTP; what the receiver answered, classified."""
    if task.kind == ChannelKind.discord and task.action != "send" and not task.external_id:
        return Result(
            "failed",
            error="Discord did not say the message's id; edit or delete it in Discord itself.",
        )
    url, method, body, headers = _request(task)
    outcome = await outbound.send(
        runtime.outbound_http,
        url,
        runtime.outbound,
        content=body,
        headers=headers,
        timeout=runtime.settings.webhook_timeout_seconds,
        max_body=DISCORD_ANSWER_BYTES if task.kind == ChannelKind.discord else 2048,
        method=method,
    )
    metrics.CHANNEL_SENDS.labels(kind=task.kind.value, outcome=outcome.label).inc()
    return classify(task, outcome)


def classify(task: Task, outcome: outbound.Outcome) -> Result:
    code = outcome.status_code
    if outcome.ok or (task.action == "retract" and code == 404):
        # A message already gone is as good as deleted.
        return Result("done", _external_id(task, outcome), code)
    error = outcome.error or f"HTTP {code}: {(outcome.response_body or '')[:300]}".rstrip(": ")
    # A redirect is not followed (its target skipped the address check) and would answer
    # the same next time: like a 4xx, it fails the row at once.
    permanent = code is not None and 300 <= code < 500 and code not in RETRYABLE_4XX
    if outcome.blocked or permanent:
        return Result("failed", status_code=code, error=error)
    retry_after = outcome.retry_after
    if code == 429 and task.kind == ChannelKind.discord:
        retry_after = _discord_retry_after(outcome.response_body) or retry_after
    return Result("retry", status_code=code, error=error, retry_after=retry_after)


def _external_id(task: Task, outcome: outbound.Outcome) -> str | None:
    if task.action != "send":
        return task.external_id
    if task.kind != ChannelKind.discord:
        return None
    try:
        answer = json.loads(outcome.response_body or "")
    except ValueError:
        return None
    message = str(answer.get("id")) if isinstance(answer, dict) else ""
    # A Discord id is a snowflake: digits. Anything else would go into a URL path later.
    return message if DISCORD_ID.fullmatch(message) else None


def _discord_retry_after(body: str | None) -> float | None:
    """Discord's 429 body says `retry_after` in seconds (a float), more precise than the
    header."""
    try:
        value = json.loads(body or "").get("retry_after")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def _request(task: Task) -> tuple[str, str, bytes, dict[str, str]]:
    payload = task.rendered.payload
    if task.kind == ChannelKind.discord:
        base = httpx.URL(task.config["webhook_url"])
        if task.action == "send":
            # wait=true: Discord answers with the message (its id) instead of 204.
            return str(base.copy_merge_params({"wait": "true"})), "POST", json_body(payload), {}
        message = base.copy_with(path=f"{base.path.rstrip('/')}/messages/{task.external_id}")
        if task.action == "update":
            edit = {"content": payload["content"], "allowed_mentions": payload["allowed_mentions"]}
            return str(message), "PATCH", json_body(edit), {}
        return str(message), "DELETE", b"", {}
    if task.kind == ChannelKind.slack:
        return task.config["webhook_url"], "POST", json_body(payload), {}
    body = json_body(
        {
            "type": payload["type"],
            "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
            "data": payload["data"],
        }
    )
    headers = signing.signed_headers(task.config["secret"], message_id(task), body)
    return task.config["url"], "POST", body, headers


async def apply_internal(
    session: AsyncSession, task: Task, community_id: uuid.UUID, author: Actor, runtime: Runtime
) -> Result:
    """The forum and launcher-feed actions, in the caller's transaction."""
    if task.kind == ChannelKind.launcher_feed:
        # The feed lists the items whose delivery to it is `delivered`; editing or retracting
        # is the row's own state, which the caller records.
        return Result("done", external_id=str(task.rendered.payload["id"]))
    return await _forum(session, task, community_id, author, runtime)


async def _forum(
    session: AsyncSession,
    task: Task,
    community_id: uuid.UUID,
    author: Actor,
    runtime: Runtime,
) -> Result:
    payload = task.rendered.payload
    if task.action == "send":
        thread = await threads.create_thread(
            session,
            author,
            community_id,
            ThreadCreate(
                category_id=uuid.UUID(payload["category_id"]),
                kind="discussion",
                title=payload["title"],
                body=payload["body"],
            ),
            limiter=runtime.limiter,
            automod=runtime.automod,
        )
        if payload["pinned"]:
            await threads.update_thread(session, author, thread.id, ThreadUpdate(pinned=True))
        return Result("done", external_id=str(thread.id))
    thread_id = uuid.UUID(task.external_id or "")
    if task.action == "retract":
        await threads.set_thread_status(session, author, thread_id, "hidden")
        return Result("done", external_id=task.external_id)
    thread = await threads.update_thread(
        session, author, thread_id, ThreadUpdate(title=payload["title"])
    )
    await posts.edit_post(
        session,
        author,
        thread.first_post_id,
        PostUpdate(body=payload["body"]),
        limiter=runtime.limiter,
        automod=runtime.automod,
    )
    return Result("done", external_id=task.external_id)


def staff_author(org_id: uuid.UUID, key_id: uuid.UUID | None, name: str) -> Actor:
    """Who forum threads of published content are by: the key that approved it (or wrote
    it), as staff (staff posts are not rate limited)."""
    return Actor(org_id=org_id, role=Role.manager, key_id=key_id, name=name)
