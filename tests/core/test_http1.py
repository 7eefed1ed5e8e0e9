"""The HTTP/1.1 client of sends (`app.core.http1`): TLS with the certificate checked against
the host's name, kept-alive connections and when they are not reused, flow control both
ways, receivers that close, reset, stall or answer broken HTTP; on asyncio's loop
(`hearth worker`) and on uvloop (`hearth serve`). Everyday sends go through it in every
delivery test."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
import trustme
import uvloop

from app.core import http1, outbound
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


@contextmanager
def threading_server(handler: Handler) -> Iterator[int]:
    """A server like `serving`, on a loop of its own in another thread: it answers while the
    test's loop is blocked. Yields its port."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    opening = asyncio.start_server(handler, "127.0.0.1", 0)
    server = asyncio.run_coroutine_threadsafe(opening, loop).result(5)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:

        async def shut_down() -> None:
            server.close()
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            for handler_task in handlers:
                handler_task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut_down(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


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


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer each request on the connection with its body, keeping the connection open."""
    try:
        while True:
            writer.write(answer(b"seen: " + await read_request(reader)))
            await writer.drain()
    except asyncio.IncompleteReadError:
        writer.close()


def counting(handler: Handler, opened: list[int]) -> Handler:
    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(1)
        await handler(reader, writer)

    return count


@on_both_loops
async def test_tls_is_checked_against_the_host_name_and_kept_per_name() -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    opened: list[int] = []

    async with (
        serving(counting(keep_answering, opened), server_tls) as port,
        outbound.new_pool(client_tls) as pool,
    ):
        for body in (b"{}", b"[]"):
            sent = await outbound.post(
                pool, f"https://localhost:{port}/hook", LOCAL, content=body, headers={}, timeout=5
            )
            assert (sent.status_code, sent.body) == (200, b"seen: " + body)
        assert len(opened) == 1  # the second send went on the first's connection
        # The same server at the same address, under a name its certificate does not
        # carry: the kept connection is not lent to it, and a new one is refused.
        with pytest.raises(http1.ConnectError, match="certificate"):
            await outbound.post(
                pool, f"https://127.0.0.1:{port}/hook", LOCAL, content=b"{}", headers={}, timeout=5
            )


@on_both_loops
async def test_kept_connections_expire_and_are_bounded() -> None:
    opened: list[int] = []
    async with (
        serving(counting(keep_answering, opened)) as first,
        serving(counting(keep_answering, opened)) as second,
    ):
        pool = http1.Pool(ssl.create_default_context(), max_idle=1, idle_seconds=0.2)
        async with pool:

            async def send(port: int) -> None:
                sent = await outbound.post(
                    pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=5
                )
                assert sent.body == b"seen: {}"

            await send(first)
            await send(first)
            assert len(opened) == 1
            await send(second)  # one kept connection at most: the first's is closed
            await send(first)
            assert len(opened) == 3
            await asyncio.sleep(0.3)  # idle past its time: not reused
            await send(first)
            assert len(opened) == 4


@on_both_loops
async def test_an_answer_cut_short_or_broken_is_a_transport_error() -> None:
    async def long_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"x" * 10_000))  # more than the caller keeps
        await writer.drain()
        await keep_answering(reader, writer)

    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        writer.close()

    async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        writer.close()

    opened: list[int] = []
    async with outbound.new_pool(ssl.create_default_context()) as pool:
        async with serving(counting(long_answer, opened)) as port:
            for _ in range(2):
                sent = await outbound.post(
                    pool,
                    f"http://127.0.0.1:{port}/x",
                    LOCAL,
                    content=b"{}",
                    headers={},
                    timeout=5,
                    max_body=100,
                )
                assert sent.body == b"x" * 100
            # The rest of each long answer was left unread: its connection was not reused.
            assert len(opened) == 2
        for handler in (not_http, hangs_up):
            async with serving(handler) as port:
                outcome = await outbound.send(
                    pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=5
                )
            assert (outcome.error or "").startswith(
                "Could not reach the receiver: RemoteProtocolError"
            ), outcome.error


@on_both_loops
async def test_a_kept_connection_closed_as_the_request_went_out_is_retried_once() -> None:
    """The receiver drops a kept connection (its idle timeout) just as the next request
    arrives, answering nothing: the request goes again on a new connection. On a new
    connection, the same is a failed send."""
    requests: list[bytes] = []

    async def drops_the_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await read_request(reader))
        writer.write(answer(b"ok"))
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError):
            requests.append(await read_request(reader))
        writer.close()

    async def answers_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await read_request(reader))
        writer.close()

    async with outbound.new_pool(ssl.create_default_context()) as pool:
        async with serving(drops_the_second) as port:
            for body in (b"1", b"2"):
                sent = await outbound.send(
                    pool, f"http://127.0.0.1:{port}/x", LOCAL, content=body, headers={}, timeout=5
                )
                assert (sent.status_code, sent.error) == (200, None)
        assert requests == [b"1", b"2", b"2"]
        requests.clear()
        async with serving(answers_nothing) as port:
            lost = await outbound.send(
                pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"3", headers={}, timeout=5
            )
        assert (lost.error or "").startswith("Could not reach the receiver: RemoteProtocolError")
        assert requests == [b"3"]


@on_both_loops
async def test_bytes_after_an_answer_are_never_read_as_the_next_answer() -> None:
    opened: list[int] = []

    async def answers_twice_at_first(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if len(opened) == 1:
            await read_request(reader)
            writer.write(answer(b"first") + answer(b"forged"))
            await writer.drain()
        await keep_answering(reader, writer)

    async with (
        serving(counting(answers_twice_at_first, opened)) as port,
        outbound.new_pool(ssl.create_default_context()) as pool,
    ):
        bodies = [
            (
                await outbound.post(
                    pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=5
                )
            ).body
            for _ in range(2)
        ]
    assert bodies == [b"first", b"seen: {}"]
    assert len(opened) == 2


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


@on_both_loops
async def test_a_close_that_came_while_the_loop_was_busy_is_not_a_failed_send() -> None:
    """The receiver closes each kept-alive connection just after answering, while the
    sender's loop is busy (a worker rendering its next batch): the next request goes out
    on a new connection, not into the closed one."""
    connections = 0

    async def answer_then_close_soon(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(answer(b"ok"))
        await writer.drain()
        await asyncio.sleep(0.002)
        writer.close()

    with threading_server(answer_then_close_soon) as port:
        async with outbound.new_pool(ssl.create_default_context()) as pool:
            for _ in range(20):
                time.sleep(0.01)  # noqa: ASYNC251 (the loop is busy: the close waits in the socket)
                sent = await outbound.send(
                    pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=5
                )
                assert (sent.status_code, sent.error) == (200, None)
    assert connections == 20


@on_both_loops
async def test_refused_and_reset_connections_are_transport_errors() -> None:
    async def reset_mid_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # a reset, not a close

    async with (
        serving(reset_mid_answer) as port,
        outbound.new_pool(ssl.create_default_context()) as pool,
    ):
        reset = await outbound.send(
            pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=5
        )
    refused = await outbound.send(
        pool, f"http://127.0.0.1:{port}/x", LOCAL, content=b"{}", headers={}, timeout=5
    )
    assert (reset.error or "").startswith("Could not reach the receiver: ReadError")
    assert (refused.error or "").startswith("Could not reach the receiver: ConnectError")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
@on_both_loops
async def test_a_send_given_up_leaves_no_socket_open() -> None:
    """A receiver that stops reading: the send times out, and its connection is closed at
    once with the pool, not kept until the receiver takes what was buffered."""
    stalled = []

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)  # held open, never read
        await asyncio.sleep(3600)

    def open_files() -> int:
        return len(list(Path("/proc/self/fd").iterdir()))

    async with serving(never_reads) as port:
        before = open_files() + 1  # the receiver's side of the one connection
        async with outbound.new_pool(ssl.create_default_context()) as pool:
            sent = await outbound.send(
                pool,
                f"http://127.0.0.1:{port}/x",
                LOCAL,
                content=b"x" * (8 * 1024 * 1024),
                headers={},
                timeout=0.3,
            )
        assert sent.error == "No answer within 0.3 s."
        await asyncio.sleep(0.05)
        assert open_files() <= before
        for writer in stalled:
            writer.close()
