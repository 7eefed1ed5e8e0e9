"""Outbound HTTP to user-supplied URLs, guarded against SSRF.

Every URL is resolved and every address checked (no loopback, private, link-local,
multicast, reserved or otherwise non-global address, IPv4-mapped IPv6 included) both when it
is registered and at every send; the connection is then pinned to the checked address, so a
DNS answer that changes between check and connect (rebinding) cannot redirect it. Hosts and
networks listed in `HEARTH_OUTBOUND_ALLOWED_HOSTS` are exempt (self-hosted receivers, tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from app.core.errors import RuleViolation

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local-use translation


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:
            return _is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return _is_public(embedded)
        if address.teredo is not None or address in _NAT64_LOCAL:
            return False
    return address.is_global and not address.is_multicast


def parse_target(url: str) -> httpx.URL:
    """Refuse URLs that are not plain http(s) to a named host."""
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
        raise UnsafeURL(
            f"{url.host} resolves to {refused[0]}, a loopback, private, link-local or reserved"
            " address. Hearth only calls public addresses unless the host is listed in"
            " HEARTH_OUTBOUND_ALLOWED_HOSTS."
        )
    return addresses[0]


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5
        )
    except (TimeoutError, OSError) as exc:
        raise UnsafeURL(f"Could not resolve {host}: {exc}") from exc
    seen: list[IPAddress] = []
    for *_ignored, sockaddr in infos:
        # Strip an IPv6 zone id ("fe80::1%eth0") before parsing.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise UnsafeURL(f"{host} has no address.")
    return seen


async def check_url(url: str, policy: OutboundPolicy) -> str:
    """Validate a URL at registration time; returns it normalised."""
    parsed = parse_target(url)
    await resolve_checked(parsed, policy)
    return str(parsed)


async def post(
    client: httpx.AsyncClient,
    url: str,
    policy: OutboundPolicy,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
) -> httpx.Response:
    """POST to `url`, connecting only to the address that passed the check."""
    target = parse_target(url)
    address = await resolve_checked(target, policy)
    pinned = target.copy_with(host=str(address))
    request_headers = {"Host": _host_header(target), "Content-Type": "application/json", **headers}
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        # TLS still verifies the certificate against the real host name.
        extensions["sni_hostname"] = target.host
    request = client.build_request(
        "POST",
        pinned,
        content=content,
        headers=request_headers,
        timeout=timeout,
        extensions=extensions,
    )
    return await client.send(request, follow_redirects=False)


def _host_header(url: httpx.URL) -> str:
    host = url.host if ":" not in url.host else f"[{url.host}]"
    return host if url.port is None else f"{host}:{url.port}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None
