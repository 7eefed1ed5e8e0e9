"""The HTTP/1.1 client of outbound sends (`core.outbound`): h11 on asyncio's transports, and
a pool of kept-alive connections.

A send to a channel or a webhook is one request and one answer: no redirects, cookies,
proxies, content decoding or HTTP/2. httpx, and httpcore under it, carry all of those, and
guard each request with locks and cancel scopes made to run on any async library: through
them a send cost about 350 µs of CPU against a local receiver, through this client about 100
(scripts/bench/README.md). h11 does the protocol: it frames the request, parses the answer
(refusing a malformed one) and says whether the connection may carry another request.

Connections are kept per (address, port, TLS host name): a kept-alive TLS connection only
serves the host name its certificate was checked for. A kept connection is checked before it
is used again (the receiver may have closed it meanwhile); when the receiver closes it as
the request goes out (its idle timeout), with no answer, the request goes again on a new
connection.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from dataclasses import dataclass
from typing import cast

import h11

# Past this many unread bytes the connection stops reading from its socket until read.
READ_LIMIT = 64 * 1024
_BODY_METHODS = (b"POST", b"PUT", b"PATCH")


class TransportError(Exception):
    """The receiver could not be reached, or what it answered was not HTTP/1.1."""


class ConnectError(TransportError):
    """No connection (refused, unreachable, or a certificate that does not verify)."""


class WriteError(TransportError):
    """The connection closed before the request could be sent."""


class ReadError(TransportError):
    """The connection was lost (reset) while waiting for the answer."""


class RemoteProtocolError(TransportError):
    """The answer broke HTTP/1.1, or the receiver closed the connection in the middle of it."""


@dataclass(frozen=True)
class Origin:
    """Where a connection goes: the checked address, the port, and for TLS the host name the
    certificate must carry (None for plain HTTP)."""

    address: str
    port: int
    tls_name: str | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes  # at most the `max_body` asked for


class _Closed(Exception):
    """A kept connection was closed by the receiver before it answered anything: the
    request goes again on a new one."""


class Connection(asyncio.Protocol):
    """One connection: asyncio's protocol for its socket, h11's state for its exchanges."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport
        self._http = h11.Connection(h11.CLIENT)
        self._received = bytearray()
        self._ended = False  # the receiver closed its side, or the connection was lost
        self._lost: Exception | None = None
        self._arrival: asyncio.Future[None] | None = None  # a read waiting for bytes
        self._paused = False  # not reading from the socket until the buffer is read down
        self.exchanges = 0
        self.idle_since = 0.0
        self._heard = False  # bytes of an answer arrived in the current exchange

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

    # the client's side

    @property
    def open(self) -> bool:
        return not (self._ended or self._transport.is_closing())

    def usable(self) -> bool:
        """Whether a kept connection can carry the next request: the receiver has not closed
        it nor sent anything unasked. A close that came while the loop was busy is still
        only in the socket, so the socket is asked too."""
        return self.open and not self._received and not _readable_now(self._transport)

    async def exchange(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        max_body: int,
    ) -> Response:
        """Send one request and read its answer (its body up to `max_body` bytes). Whatever
        goes wrong, the connection is closed; it stays open only when h11 says another
        request may follow and nothing came after the answer."""
        reused = self.exchanges > 0
        if not self.open:
            if reused:
                raise _Closed
            raise WriteError("The connection was closed before the request was sent.")
        self.exchanges += 1
        self._heard = False
        try:
            if body or method in _BODY_METHODS:
                headers = [*headers, (b"Content-Length", b"%d" % len(body))]
            http = self._http
            # Head and body in one write. Nothing waits for them to drain: the answer may
            # come first (a receiver refusing a large body), and a timeout closes it all.
            self._transport.write(
                http.send(h11.Request(method=method, target=target, headers=headers))
                + (http.send(h11.Data(data=body)) if body else b"")
                + http.send(h11.EndOfMessage())
            )
            response = await self._read_answer(max_body)
        except (h11.RemoteProtocolError, ReadError) as exc:
            self.close()
            if reused and not self._heard:
                # A kept connection the receiver closed as the request went out (its idle
                # timeout): nothing was answered, so it goes again on a new connection.
                # Sends carry their idempotency key (`webhook-id`) all the same.
                raise _Closed from exc
            if isinstance(exc, ReadError):
                raise
            raise RemoteProtocolError(str(exc)) from exc
        except BaseException:
            self.close()
            raise
        if http.our_state is h11.DONE and http.their_state is h11.DONE and not _unread(http):
            http.start_next_cycle()
            self.idle_since = time.monotonic()
        else:
            # The receiver said close, the body was cut at `max_body`, or bytes came after
            # the answer (they would be read as the next request's answer).
            self.close()
        return response

    async def _read_answer(self, max_body: int) -> Response:
        http = self._http
        status, headers, body = 0, [], bytearray()
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await self._read())
            elif isinstance(event, h11.Response):
                status, headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) >= max_body:
                    break
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise RemoteProtocolError("The receiver closed the connection without answering.")
            elif event is h11.PAUSED:  # a protocol switch, which no request here asks for
                raise RemoteProtocolError("The receiver switched protocols.")
            # InformationalResponse (1xx) and the like: the final answer follows.
        return Response(status, headers, bytes(body[:max_body]))

    async def _read(self) -> bytes:
        """What arrived since the last read; b"" once the receiver closed its side."""
        while not self._received and not self._ended:
            self._arrival = asyncio.get_running_loop().create_future()
            await self._arrival
        if not self._received:
            if self._lost is not None:
                raise ReadError(str(self._lost) or type(self._lost).__name__)
            return b""
        data = bytes(self._received)
        self._received.clear()
        self._heard = True
        if self._paused and not self._ended:
            self._transport.resume_reading()
            self._paused = False
        return data

    def close(self) -> None:
        # At once: a graceful close would wait, without a limit, for a receiver that
        # stopped reading to take what is still buffered.
        self._transport.abort()


class Pool:
    """The connections of a process's sends: at most `max_connections` sends at once;
    after a send its connection is kept for the next send to the same origin, up to
    `max_idle` connections for at most `idle_seconds` each."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        *,
        max_connections: int = 100,
        max_idle: int = 20,
        idle_seconds: float = 4.0,
    ) -> None:
        self._tls = tls
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._idle: list[tuple[Origin, Connection]] = []  # the most recently used last
        self._closed = False  # then connections are closed after their send, not kept

    async def request(
        self,
        method: bytes,
        origin: Origin,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        *,
        max_body: int,
    ) -> Response:
        """One exchange on a kept connection to `origin`, or on a new one. Raises
        TransportError; a timeout is the caller's (the whole exchange is cancelled)."""
        async with self._slots:
            kept = self._take(origin)
            if kept is not None:
                try:
                    response = await kept.exchange(method, target, headers, body, max_body)
                except _Closed:
                    kept.close()
                else:
                    self._keep(origin, kept)
                    return response
            connection = await self._connect(origin)
            response = await connection.exchange(method, target, headers, body, max_body)
            self._keep(origin, connection)
            return response

    async def _connect(self, origin: Origin) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                Connection,
                origin.address,
                origin.port,
                ssl=self._tls if origin.tls_name else None,
                server_hostname=origin.tls_name,
            )
        except OSError as exc:  # ssl.SSLError included: a certificate that does not verify
            raise ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    def _take(self, origin: Origin) -> Connection | None:
        """The most recently used kept connection to `origin` that is still usable."""
        self._drop_expired()
        for index in range(len(self._idle) - 1, -1, -1):  # popping leaves those below in place
            if self._idle[index][0] == origin:
                connection = self._idle.pop(index)[1]
                if connection.usable():
                    return connection
                connection.close()
        return None

    def _keep(self, origin: Origin, connection: Connection) -> None:
        self._drop_expired()
        if not connection.open or self._closed:
            connection.close()
            return
        self._idle.append((origin, connection))
        if len(self._idle) > self._max_idle:
            self._idle.pop(0)[1].close()

    def _drop_expired(self) -> None:
        cutoff = time.monotonic() - self._idle_seconds
        while self._idle and self._idle[0][1].idle_since < cutoff:
            self._idle.pop(0)[1].close()

    async def aclose(self) -> None:
        """Close the kept connections; sends under way finish, and close theirs after."""
        self._closed = True
        for _, connection in self._idle:
            connection.close()
        self._idle.clear()

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _unread(http: h11.Connection) -> bool:
    """Whether h11 holds bytes past the answer it parsed."""
    data, closed = http.trailing_data
    return bool(data) or closed


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
