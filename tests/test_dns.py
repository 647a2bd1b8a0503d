"""Name resolution failures (checklist DNS-01): a typed ``DNSError`` carrying the request.

Nothing here sends a query off the machine: the real lookup of a ``.invalid`` name (RFC 6761
§6.4: never resolves) runs only when every resolver in /etc/resolv.conf is on loopback; the
other tests stand in for the resolver on the running loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path

import pytest

from hyperhttp import Client, ConnectError, DNSError

from .scripted import check_error, with_userinfo


def _resolvers_are_local() -> tuple[bool, str]:
    try:
        lines = Path("/etc/resolv.conf").read_text().splitlines()
    except OSError:
        return False, "no /etc/resolv.conf to check where a lookup would go"
    servers = [line.split()[1] for line in lines if line.startswith("nameserver ")]
    remote = [s for s in servers if not ipaddress.ip_address(s.split("%")[0]).is_loopback]
    if remote:
        return False, f"the resolver here is not on loopback ({', '.join(remote)})"
    return True, ""


_LOCAL, _WHY_NOT = _resolvers_are_local()


@pytest.mark.skipif(not _LOCAL, reason=f"{_WHY_NOT}: a lookup would leave the machine")
async def test_invalid_tld_does_not_resolve() -> None:
    """DNS-01, against the machine's own (loopback) resolver."""
    async with Client(timeout=10.0) as client:
        with pytest.raises(DNSError) as info:
            await client.get(with_userinfo("http://nonexistent.invalid/"))
        check_error(info.value)
        assert info.value.request is not None
        assert info.value.request.url.host == "nonexistent.invalid"
        assert client.get_pool_stats()["open"] == 0


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_resolver_failure_is_a_dns_error_with_the_request(
    monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """DNS-01: EAI_NONAME from getaddrinfo is a DNSError (a ConnectError), raised once: no
    retry without a retry policy, nothing left in the pool."""
    loop = asyncio.get_running_loop()
    lookups: list[object] = []

    async def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    async with Client(timeout=5.0) as client:
        started = loop.time()
        with pytest.raises(DNSError) as info:
            await client.get(with_userinfo(f"{scheme}://nonexistent.invalid/path"))
        assert loop.time() - started < 1.0
        check_error(info.value)
        assert isinstance(info.value, ConnectError)
        assert info.value.request is not None
        assert info.value.request.url.path == "/path"
        assert "nonexistent.invalid" in str(info.value)
        assert "Name or service not known" in str(info.value)
        assert client.get_pool_stats()["open"] == 0
    assert lookups == ["nonexistent.invalid"]


async def test_the_suite_never_resolves_names_off_the_machine() -> None:
    """The session guard in conftest: a name other than localhost fails locally, so a test
    that forgets to map its names to loopback cannot send a query out."""
    with pytest.raises(socket.gaierror, match="loopback names only"):
        socket.getaddrinfo("example.com", 443)
    async with Client(timeout=5.0) as client:
        with pytest.raises(DNSError, match="loopback names only"):
            await client.get("http://example.com/")
    assert socket.getaddrinfo("localhost", 80)
