"""Sends on asyncio's own transport (`app.core.transport`): TLS with the certificate checked
against the host's name, flow control both ways, and a connection the receiver closed while
idle; on asyncio's loop (`hearth worker`) and on uvloop (`hearth serve`). Everyday sends go
through it in every delivery test."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpcore
import pytest
import trustme
import uvloop

from app.core import outbound
from app.core.outbound import OutboundPolicy

LOCAL = OutboundPolicy.from_entries(["127.0.0.1"])
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def on_both_loops(scenario: Callable[[], Awaitable[None]]) -> Callable[[str], None]:
    """A test running `scenario` on asyncio's loop and on uvloop."""

    @pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
    def test(loop: str) -> None:
        (uvloop.run if loop == "uvloop" else asyncio.run)(scenario())  # type: ignore[arg-type]

    test.__name__, test.__doc__ = scenario.__name__, scenario.__doc__
    return test


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A server on 127.0.0.1 running `handler` per connection; yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's body (the head is read and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


def answer(body: bytes, *, close: bool = False) -> bytes:
    connection = b"close" if close else b"keep-alive"
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s" % (
        len(body),
        connection,
        body,
    )


@on_both_loops
async def test_tls_is_checked_against_the_host_name() -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(b"seen: " + await read_request(reader), close=True))
        await writer.drain()
        writer.close()

    async with serving(echo, server_tls) as port, outbound.new_pool(client_tls) as pool:
        sent = await outbound.post(
            pool, f"https://localhost:{port}/hook", LOCAL, content=b"{}", headers={}, timeout=5
        )
        assert (sent.status_code, sent.body) == (200, b"seen: {}")
        # The same server under a name its certificate does not carry: refused.
        with pytest.raises(httpcore.ConnectError, match="certificate"):
            await outbound.post(
                pool, f"https://127.0.0.1:{port}/hook", LOCAL, content=b"{}", headers={}, timeout=5
            )


@on_both_loops
async def test_bodies_larger_than_the_buffers_go_through_both_ways() -> None:
    request = bytes(range(256)) * 16 * 1024  # 4 MiB out: the send waits for room
    reply = b"r" * (1024 * 1024)  # 1 MiB back: reading pauses and resumes

    async def slow_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.2)  # let the client's buffers fill first
        body = await read_request(reader)
        writer.write(answer(reply if body == request else b"mangled", close=True))
        await writer.drain()
        writer.close()

    async with (
        serving(slow_reader) as port,
        outbound.new_pool(ssl.create_default_context()) as pool,
    ):
        sent = await outbound.post(
            pool,
            f"http://127.0.0.1:{port}/big",
            LOCAL,
            content=request,
            headers={},
            timeout=10,
            max_body=len(reply),
        )
    assert sent.status_code == 200 and sent.body == reply


@on_both_loops
async def test_a_connection_the_receiver_closed_while_idle_is_not_reused() -> None:
    connections = 0

    async def one_answer_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(answer(b"ok"))  # says keep-alive, then closes anyway
        await writer.drain()
        writer.close()

    async with (
        serving(one_answer_then_close) as port,
        outbound.new_pool(ssl.create_default_context()) as pool,
    ):
        for _ in range(3):
            sent = await outbound.post(
                pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=5
            )
            assert sent.status_code == 200
            await asyncio.sleep(0.05)  # the close arrives while the connection is idle
    assert connections == 3


@on_both_loops
async def test_a_receiver_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # until the client gives up and closes

    async with serving(silent) as port, outbound.new_pool(ssl.create_default_context()) as pool:
        outcome = await outbound.send(
            pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=0.3
        )
    assert (outcome.status_code, outcome.error) == (None, "No answer within 0.3 s.")
