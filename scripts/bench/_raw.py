"""The baseline of scripts/bench/delivery.py: a raw httpx loop, run in a process of its own.

`concurrency` tasks share one `httpx.AsyncClient` (default asyncio loop, as `hearth worker`
runs on) and POST the given bodies to the receiver, each signed at send time with Standard
Webhooks headers like Hearth's (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
`content-type`). No database, no queue, no retries: what sending alone costs.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.signing import signed_headers


@dataclass(frozen=True)
class Spec:
    label: str
    messages: list[tuple[str, str, str, bytes]]  # (url, signing secret, webhook-id, body)
    concurrency: int


async def send_all(spec: Spec) -> dict[str, Any]:
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    errors: list[str] = []
    todo = iter(spec.messages)  # shared by the tasks: each takes the next message

    async def sender(client: httpx.AsyncClient) -> None:
        for url, secret, message_id, body in todo:
            headers = {"Content-Type": "application/json"}
            headers.update(signed_headers(secret, message_id, body))
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code != 200:
                errors.append(f"HTTP {response.status_code}")

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        cpu_before, started = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(spec.concurrency)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    return {
        "label": spec.label,
        "sent": len(spec.messages) - len(errors),
        "errors": len(errors),
        "error_samples": errors[:3],
        "seconds": elapsed,
        "cpu_seconds": cpu,
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(spec: Spec) -> dict[str, Any]:
    """Entry point in the baseline process."""
    return asyncio.run(send_all(spec))
