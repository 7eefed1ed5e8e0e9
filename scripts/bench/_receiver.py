"""The receiving server of scripts/bench/delivery.py, run in a process of its own.

A minimal HTTP/1.1 server on raw asyncio (uvloop when installed), so that receiving costs
little next to the senders: every request is answered `200` with an empty body at once. A
request carrying `webhook-id` is recorded as (webhook-id, arrival time, body bytes), the
arrival time being `time.time()` when its last byte was read (the machine's wall clock, the
one `publish_at` is compared with). `Connection: close` is honoured; otherwise the
connection is kept alive.

    GET /healthz          200 `ok`
    GET /records          the records since the last call, as JSON, and forgets them
    anything else         recorded if it has a webhook-id, answered 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
OK_CLOSE = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class Log:
    def __init__(self) -> None:
        self.records: list[tuple[str, float, int]] = []
        self.unnamed = 0  # requests without a webhook-id (the senders always send one)

    def take(self) -> bytes:
        out = {"records": self.records, "unnamed": self.unnamed}
        self.records, self.unnamed = [], 0
        return json.dumps(out).encode()


class Connection(asyncio.Protocol):
    def __init__(self, log: Log) -> None:
        self.log = log
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self._one_request():
            pass

    def _one_request(self) -> bool:
        """Handle the first complete request in the buffer; False when there is none."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        length, message_id, close = 0, None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"webhook-id":
                message_id = value.strip().decode()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if len(self.buffer) < end + 4 + length:
            return False
        del self.buffer[: end + 4 + length]
        method, path = lines[0].split(b" ")[:2]
        self._answer(method, path, message_id, length, close)
        return True

    def _answer(
        self, method: bytes, path: bytes, message_id: str | None, length: int, close: bool
    ) -> None:
        assert self.transport is not None
        if method == b"GET" and path in (b"/healthz", b"/records"):
            body = b"ok" if path == b"/healthz" else self.log.take()
            head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n\r\n"
            self.transport.write(head.encode() + body)
            return
        if message_id is None:
            self.log.unnamed += 1
        else:
            self.log.records.append((message_id, time.time(), length))
        self.transport.write(OK_CLOSE if close else OK)
        if close:
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int) -> None:
    log = Log()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(log), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    try:
        import uvloop
    except ImportError:
        runner = asyncio.Runner()
    else:
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    try:
        with runner:
            runner.run(serve(port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
