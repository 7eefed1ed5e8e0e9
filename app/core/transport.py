"""httpcore's network backend on asyncio itself, for the sends of `outbound`.

httpcore reaches asyncio through anyio by default, which opens a cancel scope around every
read and write and answers each question about a connection through its typed attributes;
and a request's head and body go out in two system calls. This backend (httpcore's documented
`network_backend` extension) reads into a buffer of its own, and it holds what a request
writes until the request first reads, then sends it in one write: an HTTP/1.1 exchange
always reads after writing (the pool speaks HTTP/1.1 only, and never upgrades a
connection). Measured on a local receiver: about 70 µs less of a send's 450 (see
scripts/bench/README.md).
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar, cast

import httpcore

# Past this many unread bytes the connection stops reading from its socket until read.
READ_LIMIT = 64 * 1024
T = TypeVar("T")


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        transport, connection = await _connecting(
            loop.create_connection(Connection, host, port, local_addr=local),
            timeout,
            "Timed out while connecting.",
        )
        try:
            sock: socket.socket = transport.get_extra_info("socket")
            for option in socket_options or ():
                sock.setsockopt(*option)
        except OSError as exc:
            transport.abort()
            raise httpcore.ConnectError(str(exc)) from exc
        return connection

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Connection(asyncio.Protocol, httpcore.AsyncNetworkStream):
    """One connection, as asyncio's protocol and as httpcore's stream."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport
        self._received = bytearray()
        self._ended = False  # the receiver closed its side, or the connection was lost
        self._lost: Exception | None = None
        self._arrival: asyncio.Future[None] | None = None  # a read waiting for bytes
        self._room: asyncio.Future[None] | None = None  # while the send buffer is full
        self._held: list[bytes] = []  # written, sent with the next read
        self._paused = False  # not reading from the socket until the buffer is read down
        self._requests = 0  # sent on this connection

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports (under `hearth serve`) are not asyncio.Transport subclasses.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received += data
        if len(self._received) > READ_LIMIT and not self._paused:
            self._transport.pause_reading()
            self._paused = True
        _wake(self._arrival)

    def eof_received(self) -> None:
        self._ended = True
        _wake(self._arrival)  # returning None closes the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended, self._lost = True, exc
        _wake(self._arrival)
        _wake(self._room)

    def pause_writing(self) -> None:
        self._room = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        _wake(self._room)
        self._room = None

    # httpcore's side

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._held.append(buffer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                await self._send_held()
                while not self._received and not self._ended:
                    self._arrival = asyncio.get_running_loop().create_future()
                    await self._arrival
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("Timed out while waiting for the answer.") from exc
        if not self._received:
            if self._lost is not None:
                raise httpcore.ReadError(str(self._lost) or type(self._lost).__name__)
            return b""
        data = bytes(self._received[:max_bytes])
        del self._received[:max_bytes]
        if self._paused and len(self._received) <= READ_LIMIT and not self._ended:
            self._transport.resume_reading()
            self._paused = False
        return data

    async def _send_held(self) -> None:
        if not self._held:
            return
        if self._transport.is_closing():
            if self._requests:
                # The receiver closed this kept-alive connection just now, and nothing of
                # the request went out: the pool sends it on another connection.
                raise httpcore.ConnectionNotAvailable()
            raise httpcore.WriteError("The connection was closed before the request was sent.")
        self._requests += 1
        self._transport.write(b"".join(self._held))
        self._held.clear()
        if self._room is not None:
            await self._room

    async def aclose(self) -> None:
        # At once, as anyio's backend does: a graceful close would wait, without a limit,
        # for a receiver that stopped reading to take what is still buffered.
        self._transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        transport = await _connecting(
            loop.start_tls(self._transport, self, ssl_context, server_hostname=server_hostname),
            timeout,
            "Timed out during the TLS handshake.",
        )
        self._transport = cast(asyncio.Transport, transport)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # on an idle connection: closed by the receiver
            # Known here once the loop has seen it; a close that came while the loop was
            # busy is still only in the socket.
            return self._ended or bool(self._received) or _readable_now(self._transport)
        names = {"client_addr": "sockname", "server_addr": "peername"}
        if info in ("ssl_object", "socket", *names):
            return self._transport.get_extra_info(names.get(info, info))
        return None


async def _connecting(step: Awaitable[T], timeout: float | None, timed_out: str) -> T:
    """A step of opening a connection, within `timeout`, failing as httpcore's errors."""
    try:
        async with asyncio.timeout(timeout):
            return await step
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(timed_out) from exc
    except OSError as exc:  # ssl.SSLError included: a certificate that does not verify
        raise httpcore.ConnectError(str(exc)) from exc


def _readable_now(transport: asyncio.BaseTransport) -> bool:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
