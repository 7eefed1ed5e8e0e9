"""The SSRF guard: which addresses Hearth will call, and that sends go to the checked one."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from app.core import outbound
from app.core.outbound import OutboundPolicy, UnsafeURL
from app.core.runtime import tls_context
from tests.receiver import Receiver, Reply

STRICT = OutboundPolicy.from_entries([])


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::7f00:1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not STRICT.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert STRICT.address_allowed(ipaddress.ip_address(address))


def test_allow_list_takes_hosts_and_networks() -> None:
    policy = OutboundPolicy.from_entries(["127.0.0.1", "10.8.0.0/16", "Hooks.Internal."])
    assert policy.address_allowed(ipaddress.ip_address("127.0.0.1"))
    assert policy.address_allowed(ipaddress.ip_address("10.8.3.4"))
    assert not policy.address_allowed(ipaddress.ip_address("10.9.0.1"))
    assert not policy.address_allowed(ipaddress.ip_address("127.0.0.2"))
    assert "hooks.internal" in policy.allowed_hostnames


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "Only http"),
        ("https://user:pass@example.com/x", "user name or password"),
        ("http:///path-only", "no host"),
        ("not a url", "Only http"),
        ("http://a..example.com/x", "Could not resolve"),
        ("http://" + "x" * 64 + ".example.com/x", "Could not resolve"),
    ],
)
async def test_malformed_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL) as caught:
        await outbound.check_url(url, STRICT)
    assert reason in caught.value.detail


async def test_names_resolving_to_loopback_are_refused() -> None:
    with pytest.raises(UnsafeURL) as caught:
        await outbound.check_url("http://localhost:8080/hook", STRICT)
    assert "HEARTH_OUTBOUND_ALLOWED_HOSTS" in caught.value.detail


async def test_unresolvable_hosts_are_refused() -> None:
    with pytest.raises(UnsafeURL):
        await outbound.check_url("http://does-not-exist.invalid/hook", STRICT)


async def test_send_connects_to_the_checked_address_with_the_original_host_header() -> None:
    receiver = Receiver()
    try:
        policy = OutboundPolicy.from_entries(["127.0.0.1"])
        async with outbound.new_pool(tls_context()) as pool:
            response = await outbound.post(
                pool,
                receiver.url("/x", host="localhost"),
                policy,
                content=b"{}",
                headers={},
                timeout=5,
            )
        assert response.status_code == 200
        (request,) = receiver.received("/x")
        assert request.headers["host"] == f"localhost:{receiver.port}"
        with pytest.raises(UnsafeURL):
            async with outbound.new_pool(tls_context()) as pool:
                await outbound.post(
                    pool,
                    receiver.url("/x", host="localhost"),
                    STRICT,
                    content=b"{}",
                    headers={},
                    timeout=5,
                )
        assert len(receiver.received("/x")) == 1  # refused before connecting
    finally:
        receiver.close()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_parsing(header: str | None, seconds: float | None) -> None:
    assert outbound.parse_retry_after(header) == seconds


async def test_a_receivers_cookie_is_never_sent_to_another_receiver() -> None:
    """One pool serves every tenant's receivers on pinned addresses: a cookie set by one
    receiver must not ride along to the next (nor back to the same one)."""
    receiver = Receiver()
    try:
        receiver.script("/a", then=Reply(headers={"Set-Cookie": "session=tenant-a; Path=/"}))
        policy = OutboundPolicy.from_entries(["127.0.0.1"])
        async with outbound.new_pool(tls_context()) as pool:
            for path in ("/a", "/b", "/a"):
                answer = await outbound.post(
                    pool, receiver.url(path), policy, content=b"{}", headers={}, timeout=5
                )
                assert answer.ok
        sent = receiver.received()
        assert [r.path for r in sent] == ["/a", "/b", "/a"]
        assert all("cookie" not in {name.lower() for name in r.headers} for r in sent)
    finally:
        receiver.close()


async def test_a_name_is_resolved_once_a_while_and_still_checked_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbound._resolved.clear()
    lookups: list[str] = []
    real = outbound._lookup

    async def counted(host: str, port: int) -> list[Any]:
        lookups.append(host)
        return await real(host, port)

    monkeypatch.setattr(outbound, "_lookup", counted)
    allowed = OutboundPolicy.from_entries(["localhost"])
    for _ in range(3):
        await outbound.check_url("http://localhost:8080/hook", allowed)
    assert lookups == ["localhost"]
    with pytest.raises(UnsafeURL):  # the kept answer is checked against each send's policy
        await outbound.check_url("http://localhost:8080/hook", STRICT)
    monkeypatch.setattr(outbound, "RESOLVED_SECONDS", 0.0)
    outbound._resolved.clear()
    await outbound.check_url("http://localhost:8080/hook", allowed)
    await outbound.check_url("http://localhost:8080/hook", allowed)
    assert lookups == ["localhost"] * 3  # expired at once: asked again each time


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://localhost:8080/x", b"localhost:8080"),
        ("https://bücher.example/x", b"xn--bcher-kva.example"),  # a name in ASCII (punycode)
        ("http://[::1]:9/x", b"[::1]:9"),
    ],
)
def test_the_host_header_names_the_original_host(url: str, host: bytes) -> None:
    assert outbound._host_header(httpx.URL(url)) == host
