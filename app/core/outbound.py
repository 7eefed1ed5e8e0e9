"""Outbound HTTP to user-supplied URLs, guarded against SSRF.

Every URL is resolved and every address checked (no loopback, private, link-local,
multicast, reserved or otherwise non-global address, IPv4-mapped IPv6 included) both when it
is registered and at every send; the connection is then pinned to the checked address, so a
DNS answer that changes between check and connect (rebinding) cannot redirect it. Hosts and
networks listed in `HEARTH_OUTBOUND_ALLOWED_HOSTS` are exempt (self-hosted receivers, tests).

Sends go through a small HTTP/1.1 client of Hearth's own (`app.core.http1`, h11 on asyncio),
not httpx: a send needs none of its cookies, redirects, authentication, proxies or content
decoding, and through httpx's layers it cost three to four times the CPU. No cookie jar
also means nothing one receiver sets can ride along to another.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import random
import re
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import structlog

from app import __version__
from app.core import http1
from app.core.errors import RuleViolation

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


log = structlog.get_logger("hearth.outbound")


class UnsafeURL(RuleViolation):
    slug = "unsafe-url"
    title = "URL refused"
    code = "UNSAFE_URL"


@dataclass(frozen=True)
class OutboundPolicy:
    allowed_hostnames: frozenset[str]
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> OutboundPolicy:
        names: set[str] = set()
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def address_allowed(self, address: IPAddress) -> bool:
        if any(address in net for net in self.allowed_networks):
            return True
        return _is_public(address)


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: embeds an IPv4 address
# Not global, though Python 3.11 does not say so for all of them: NAT64 local use (RFC 8215),
# site-local (deprecated), IPv4-compatible (deprecated) and IPv4-translated addresses.
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in ("64:ff9b:1::/48", "fec0::/10", "::/96", "::ffff:0:0:0/96")
)


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:
            return _is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return _is_public(embedded)
        if address.teredo is not None or any(address in net for net in _REFUSED_V6):
            return False
    return address.is_global and not address.is_multicast


@functools.lru_cache(maxsize=4096)
def parse_target(url: str) -> httpx.URL:
    """Refuse URLs that are not plain http(s) to a named host. Kept per URL: a busy
    channel's every send would parse the same string again (httpx.URL is immutable; a
    refusal raises and is not kept)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnsafeURL("Only http:// and https:// URLs are accepted.")
    if not parsed.host:
        raise UnsafeURL("The URL has no host.")
    if parsed.userinfo:
        raise UnsafeURL("URLs with a user name or password are not accepted.")
    return parsed


async def resolve_checked(url: httpx.URL, policy: OutboundPolicy) -> IPAddress:
    """Resolve the URL's host; every address must be allowed. Returns the one to connect to."""
    host = url.host.lower().rstrip(".")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, port)
    if host in policy.allowed_hostnames:
        return addresses[0]
    refused = [a for a in addresses if not policy.address_allowed(a)]
    if refused:
        where = f"{url.host} is" if url.host == str(refused[0]) else f"{url.host} resolves to"
        raise UnsafeURL(
            f"{where} {refused[0]}, a loopback, private, link-local or reserved address."
            " Hearth only calls public addresses unless the host is listed in"
            " HEARTH_OUTBOUND_ALLOWED_HOSTS."
        )
    return addresses[0]


# Names resolved lately: every send to a Discord webhook would otherwise ask the system's
# resolver (a thread hop) again. Safe to keep for a while: each send still checks the
# addresses it is given and connects to the one it checked, so a DNS answer that changes
# (rebinding) can only ever be an address that passed the check.
RESOLVED_SECONDS = 30.0
_MAX_RESOLVED = 1_000
_resolved: OrderedDict[tuple[str, int], tuple[float, list[IPAddress]]] = OrderedDict()


async def _resolve(host: str, port: int) -> list[IPAddress]:
    key = (host, port)
    kept = _resolved.get(key)
    if kept is not None and time.monotonic() < kept[0]:
        return kept[1]
    addresses = await _lookup(host, port)
    _resolved[key] = (time.monotonic() + RESOLVED_SECONDS, addresses)
    _resolved.move_to_end(key)
    while len(_resolved) > _MAX_RESOLVED:
        _resolved.popitem(last=False)
    return addresses


async def _lookup(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5
        )
    except (TimeoutError, OSError, UnicodeError, ValueError) as exc:
        # UnicodeError: a malformed name (empty label, label over 63 characters).
        raise UnsafeURL(f"Could not resolve {host}: {exc or exc.__class__.__name__}") from exc
    seen: list[IPAddress] = []
    for *_ignored, sockaddr in infos:
        # Strip an IPv6 zone id ("fe80::1%eth0") before parsing.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise UnsafeURL(f"{host} has no address.")
    return seen


async def check_url(url: str, policy: OutboundPolicy, *, loc: list[str] | None = None) -> str:
    """Validate a URL at registration time; returns it normalised.

    `loc` names the request field, so the 422 points at it like a validation error does.
    """
    try:
        parsed = parse_target(url)
        await resolve_checked(parsed, policy)
    except UnsafeURL as exc:
        if loc:
            exc.errors = [{"loc": loc, "message": exc.detail, "type": "unsafe_url"}]
        raise
    return str(parsed)


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: status, headers, and the start of its body."""

    status_code: int
    headers: httpx.Headers
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


USER_AGENT = f"Hearth/{__version__} (+https://hearth.dev)".encode()
# Every way a receiver can be unreachable or speak broken HTTP.
TRANSPORT_ERRORS = (http1.TransportError,)


def new_pool(tls: ssl.SSLContext) -> http1.Pool:
    """The connections of a process's sends: at most 100 at once; kept alive per address,
    port and TLS host name, 20 at most, for 4 s (under the 5 s that common servers, Node's
    and uvicorn's among them, keep an idle connection). Sends connect straight to the
    checked address: no proxy from the environment applies (a proxy would resolve the name
    again, past the check)."""
    return http1.Pool(tls, max_connections=100, max_idle=20, idle_seconds=4.0)


async def post(
    pool: http1.Pool,
    url: str,
    policy: OutboundPolicy,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
    max_body: int = 2048,
    method: str = "POST",
) -> Answer:
    """POST (or `method`) to `url`, connecting only to the address that passed the check.
    Redirects are answers like any other: never followed (the target was not checked).

    `timeout` bounds the whole exchange (DNS, connect, send, answer): a receiver trickling
    its answer must not outlive a delivery's lease.
    Raises TimeoutError, one of TRANSPORT_ERRORS or UnsafeURL.
    """
    async with asyncio.timeout(timeout):
        target = parse_target(url)
        address = await resolve_checked(target, policy)
        tls = target.scheme == "https"
        origin = http1.Origin(
            # TLS still verifies the certificate against the real host name.
            str(address),
            target.port or (443 if tls else 80),
            target.host if tls else None,
        )
        request_headers = [
            (b"Host", _host_header(target)),
            (b"User-Agent", USER_AGENT),
            (b"Accept", b"*/*"),
            # The answer is kept as sent (for the delivery log, a Discord message id):
            # nothing here would decompress it.
            (b"Accept-Encoding", b"identity"),
            *([(b"Content-Type", b"application/json")] if content else []),
            *((name.encode(), value.encode()) for name, value in headers.items()),
        ]
        response = await pool.request(
            method.encode(),
            origin,
            target.raw_path,
            request_headers,
            content,
            max_body=max_body,
        )
    return Answer(response.status, httpx.Headers(response.headers), response.body)


@dataclass(frozen=True)
class Outcome:
    """One send, summarised for a delivery log: never raises, whatever the receiver did."""

    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: float
    retry_after: float | None = None
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def label(self) -> str:
        """For metrics: success, failure (non-2xx), error (no answer) or blocked (SSRF)."""
        if self.blocked:
            return "blocked"
        if self.status_code is None:
            return "error"
        return "success" if self.ok else "failure"


async def send(
    pool: http1.Pool,
    url: str,
    policy: OutboundPolicy,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
    max_body: int = 2048,
    method: str = "POST",
) -> Outcome:
    """`post`, with every way it can go wrong turned into an Outcome."""
    started = time.perf_counter()

    def failed(error: str, *, blocked: bool = False) -> Outcome:
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        return Outcome(None, error, None, elapsed, blocked=blocked)

    try:
        answer = await post(
            pool,
            url,
            policy,
            content=content,
            headers=headers,
            timeout=timeout,
            max_body=max_body,
            method=method,
        )
    except UnsafeURL as exc:
        return failed(exc.detail, blocked=True)
    except TimeoutError:
        return failed(f"No answer within {timeout:g} s.")
    except TRANSPORT_ERRORS as exc:
        return failed(f"Could not reach the receiver: {exc.__class__.__name__}: {exc}")
    except Exception as exc:  # a bug must not leave a claimed delivery unrecorded
        log.exception("outbound_send_failed", url=url)
        return failed(f"Unexpected error while sending: {exc.__class__.__name__}.")
    return Outcome(
        status_code=answer.status_code,
        error=None,
        response_body=answer.body.decode("utf-8", "replace"),
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        retry_after=parse_retry_after(answer.headers.get("retry-after")),
    )


def _host_header(url: httpx.URL) -> bytes:
    """The Host header of the original URL: its name in ASCII (punycode), with the port."""
    host = url.raw_host if b":" not in url.raw_host else b"[%b]" % url.raw_host
    return host if url.port is None else b"%b:%d" % (host, url.port)


_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None


MAX_RETRY_AFTER = 24 * 3600.0


def retry_delay(
    schedule: Sequence[float], attempts_made: int, retry_after: float | None
) -> float | None:
    """Seconds until the next attempt, or None when the schedule is used up.

    The schedule's delay with ±10 % jitter (so a receiver coming back is not hit by every
    retry at once); a longer `Retry-After` from the receiver wins, capped at a day.
    """
    if attempts_made > len(schedule):
        return None
    delay = schedule[attempts_made - 1] * random.uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
