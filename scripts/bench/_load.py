"""The load generator of scripts/bench/forum.py, run in a process of its own.

N closed-loop clients, each on one keep-alive HTTP/1.1 connection to 127.0.0.1, written on
raw asyncio streams (uvloop when installed): a request costs the generator a few tens of
microseconds, where an httpx client costs several times that and, on a small machine,
would be the bottleneck of the bare runs instead of the servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

# Markdown with links, lists, code and clear sentiment, so rendering and scoring are real.
OPENINGS = (
    "Thanks for the **quick fix** on the launcher, the new patch feels great and the "
    "loading screen is finally fast! Details in [the notes](https://example.com/notes).",
    "Matchmaking is *still* broken after yesterday's update. I waited twenty minutes, got "
    "kicked twice and lost my streak. Really frustrating, please look into it.",
    "Has anyone found the hidden level in chapter 3? I tried:\n\n- the waterfall\n"
    "- the old mine behind the inn\n- talking to the blacksmith twice",
    "`/reset` didn't help and neither did reinstalling. The log says:\n\n```\n"
    "error 0x80 at boot (shader cache)\n```\nAny idea what else I can try?",
)
CLOSINGS = (
    "Love this community, you are all awesome :)",
    "Not sure if this is the right category, sorry if not.",
    "This is the worst bug I've had in years, honestly.",
    "Cheers, see you in orbit!",
    "> quoting the FAQ: *restart first*\n\nI did, it did not help.",
)


@dataclass(frozen=True)
class Spec:
    label: str
    port: int
    method: str  # GET or POST
    paths: tuple[str, ...]  # client i uses paths[i % len(paths)]
    token: str
    expected: int
    concurrency: int
    warmup: float
    duration: float
    server_pid: int
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request
    cpu: int | None = None  # the core the generator runs on (the server has the others)


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(what[:300])


def post_body(label: str, client: int, n: int) -> str:
    opening = OPENINGS[n % len(OPENINGS)]
    closing = CLOSINGS[(n // len(OPENINGS)) % len(CLOSINGS)]
    return f"{opening}\n\n{closing}\n\n({label}, client {client}, post {n})"


def build_request(spec: Spec, client: int, n: int) -> bytes:
    path = spec.paths[client % len(spec.paths)]
    head = f"{spec.method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{spec.port}\r\n"
    if spec.token:
        head += f"authorization: Bearer {spec.token}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in spec.headers)
    if spec.method == "GET":
        return (head + "\r\n").encode()
    payload = json.dumps({"body": post_body(spec.label, client, n)}).encode()
    head += f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one response with a Content-Length."""
    lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif name == b"transfer-encoding":
            raise ValueError("chunked responses are not supported")
    return status, await reader.readexactly(length), keep


async def client(spec: Spec, number: int, start: float, stats: Stats) -> None:
    measure_from, until = start + spec.warmup, start + spec.warmup + spec.duration
    writer: asyncio.StreamWriter | None = None
    n = 0
    while time.perf_counter() < until:
        request, n = build_request(spec, number, n), n + 1
        began = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", spec.port)
            writer.write(request)
            status, body, keep = await read_response(reader)
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            stats.error(f"{type(exc).__name__}: {exc}")
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
            continue
        done = time.perf_counter()
        if status != spec.expected:
            stats.error(f"HTTP {status}: {body[:200]!r}")
        elif measure_from <= done < until:
            stats.latencies.append(done - began)
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) a process has used, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user time
    return total - idle, total


def snapshot(spec: Spec) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "server": process_cpu(spec.server_pid),
        "loadgen": usage.ru_utime + usage.ru_stime,
        "machine": machine_ticks(),
    }


async def measure(spec: Spec) -> dict[str, Any]:
    stats = Stats()
    start = time.perf_counter()
    tasks = [asyncio.create_task(client(spec, i, start, stats)) for i in range(spec.concurrency)]
    await asyncio.sleep(spec.warmup)
    before = snapshot(spec)
    await asyncio.sleep(spec.duration)
    after = snapshot(spec)
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            stats.error(f"client died: {type(outcome).__name__}: {outcome}")
    return summarise(spec, stats, before, after)


def summarise(
    spec: Spec, stats: Stats, before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    lat = sorted(stats.latencies)

    def pct(q: float) -> float | None:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else None

    def used(key: str) -> float | None:
        a, b = before[key], after[key]
        return None if a is None or b is None else b - a

    busy = None
    if before["machine"] and after["machine"]:
        d_busy = after["machine"][0] - before["machine"][0]
        d_total = after["machine"][1] - before["machine"][1]
        busy = d_busy / d_total if d_total else None
    return {
        "label": spec.label,
        "requests": len(lat),
        "errors": stats.errors,
        "error_samples": stats.samples,
        "rps": len(lat) / spec.duration,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "server_cpu_s": used("server"),
        "loadgen_cpu_s": used("loadgen"),
        "machine_busy": busy,
        "duration": spec.duration,
    }


def run(spec: Spec) -> dict[str, Any]:
    """Entry point in the load process: warm up, measure, return the figures."""
    if spec.cpu is not None:
        os.sched_setaffinity(0, {spec.cpu})
    try:
        import uvloop
    except ImportError:
        return asyncio.run(measure(spec))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(measure(spec))
