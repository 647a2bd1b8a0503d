"""Shared fixtures: scripted loopback servers, byte-exact HTTP/2 peers, proxy test origins."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from ssl import SSLContext
from typing import Any

import pytest

from hyperhttp.testing import HTTPServer

from .h2_raw_peer import RawH2Server
from .scripted import Script, ScriptedServer

ServerFactory = Callable[..., Awaitable[ScriptedServer]]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


def _resolvable(host: object) -> bool:
    """Loopback names and IP literals (which need no query) may be looked up."""
    if host is None:
        return True
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    if name.lower() in _LOOPBACK_NAMES:
        return True
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True, scope="session")
def loopback_only_name_resolution() -> Iterator[None]:
    """Tests talk to loopback only: a lookup of any other name fails here, as "name not
    known", instead of sending a DNS query off the machine (tests that need names map them
    to 127.0.0.1 themselves, on the running loop)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if not _resolvable(host):
            raise socket.gaierror(
                socket.EAI_NONAME, f"tests resolve loopback names only, not {host!r}"
            )
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.fixture
async def scripted() -> AsyncIterator[ServerFactory]:
    """``await scripted(script)`` starts a ScriptedServer on 127.0.0.1, closed after the test."""
    servers: list[ScriptedServer] = []

    async def start(
        script: Script, host: str = "127.0.0.1", ssl: SSLContext | None = None
    ) -> ScriptedServer:
        server = await ScriptedServer(script, host=host, ssl=ssl).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.aclose()


@pytest.fixture
async def raw_h2() -> AsyncIterator[Callable[..., Awaitable[RawH2Server]]]:
    """``await raw_h2(settings=...)`` starts a byte-exact HTTP/2 peer on 127.0.0.1.

    After the test, every connection it accepted must show no client misbehaviour (frame
    size, flow control, stream limits: see ``RawPeer.violations``).
    """
    servers: list[RawH2Server] = []

    async def start(**kwargs: Any) -> RawH2Server:
        server = await RawH2Server(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.aclose()
    for server in servers:
        for peer in server.peers:
            assert not peer.violations, peer.violations


@pytest.fixture
def origin() -> Iterator[HTTPServer]:
    """A plain HTTP/1.1 origin answering ``/x`` with ``plain`` (behind the test proxies)."""
    with HTTPServer(host="127.0.0.1") as server:
        server.expect_request("/x").respond_with_data("plain")
        yield server


@pytest.fixture
def tls_origin() -> Iterator[HTTPServer]:
    """A TLS origin (HTTP/2 by ALPN) answering ``/x`` with ``secure``."""
    with HTTPServer(host="127.0.0.1", tls=True, http2=True) as server:
        server.expect_request("/x").respond_with_data("secure")
        yield server
