"""A real HTTP server on 127.0.0.1 that records what Hearth sends and answers as scripted."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    # When set, the answer waits until the event is set (a receiver that hangs).
    hold: threading.Event | None = None
    # When set, the body is sent one byte at a time, this many seconds apart.
    trickle: float | None = None


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float
    method: str = "POST"

    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._replies: dict[str, deque[Reply]] = defaultdict(deque)
        self._default: dict[str, Reply] = {}
        self._lock = threading.Lock()
        # Paths that answer like a Discord webhook: message ids, edits, deletes.
        self._discord: set[str] = set()
        self.messages: dict[str, dict] = {}
        self._ids = itertools.count(1_100_000_000_000_000_001)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                path, _, query = self.path.partition("?")
                reply = receiver._record(
                    Received(
                        path,
                        query,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        time.time(),
                        self.command,
                    )
                )
                if reply.hold is not None:
                    reply.hold.wait(30)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    if reply.trickle is None:
                        self.wfile.write(reply.body)
                    for byte in reply.body if reply.trickle is not None else b"":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.trickle)
                except OSError:
                    pass  # the client went away (a killed worker)

            do_PATCH = do_POST
            do_DELETE = do_POST

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def script(self, path: str, *replies: Reply, then: Reply | None = None) -> None:
        """Answer the next requests to `path` with `replies`, then with `then` (default 200)."""
        with self._lock:
            self._replies[path].extend(replies)
            if then is not None:
                self._default[path] = then

    def discord(self, path: str = "/discord") -> str:
        """Answer at `path` as a Discord webhook does: `?wait=true` returns the message
        (with its id), `PATCH`/`DELETE {path}/messages/{id}` edit and delete it."""
        self._discord.add(path)
        return self.url(path)

    def _record(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._replies[request.path]
            if queue:
                return queue.popleft()
            base, _, message = request.path.partition("/messages/")
            if base in self._discord:
                return self._as_discord(request, base, message)
            return self._default.get(request.path, Reply())

    def _as_discord(self, request: Received, base: str, message: str) -> Reply:
        if request.method == "POST" and not message:
            message = str(next(self._ids))
            self.messages[message] = {"id": message, **json.loads(request.body)}
            if "wait=true" not in request.query:
                return Reply(204, b"")
            return Reply(200, json.dumps(self.messages[message]).encode())
        if message not in self.messages:
            return Reply(404, b'{"message": "Unknown Message", "code": 10008}')
        if request.method == "DELETE":
            del self.messages[message]
            return Reply(204, b"")
        self.messages[message].update(json.loads(request.body))
        return Reply(200, json.dumps(self.messages[message]).encode())

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    async def wait_for(
        self, count: int, path: str | None = None, timeout: float = 15
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"expected {count} request(s) to {path or 'any path'} within {timeout}s,"
            f" got {len(self.received(path))}"
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
