"""SOCKS5 proxies on loopback (checklist PX-05): no-auth and username/password (RFC 1928,
RFC 1929), remote and local name resolution, and a typed error for each refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hyperhttp import Client, ConnectError, InvalidURL, ProxyError
from hyperhttp.testing import HTTPServer
from hyperhttp.testing._tls import default_certificates

from .proxy_server import Socks5Proxy
from .scripted import SECRET, check_error, free_port

SocksFactory = Callable[..., Awaitable[Socks5Proxy]]
CERTS = default_certificates()


@pytest.fixture
async def socks() -> AsyncIterator[SocksFactory]:
    started: list[Socks5Proxy] = []

    async def start(**kwargs: Any) -> Socks5Proxy:
        server = await Socks5Proxy(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.aclose()


def client(proxies: str, **kwargs: Any) -> Client:
    return Client(proxies=proxies, verify=CERTS.client_ssl_context(), trust_env=False, **kwargs)


async def test_socks5h_sends_the_name_and_carries_http_and_https(
    socks: SocksFactory, origin: HTTPServer, tls_origin: HTTPServer
) -> None:
    server = await socks()
    async with client(server.url("socks5h")) as c:
        plain = await c.get(f"http://localhost:{origin.port}/x")
        secure = await c.get(f"https://localhost:{tls_origin.port}/x")
        again = await c.get(f"https://localhost:{tls_origin.port}/x")
    assert (plain.text, secure.text, again.text) == ("plain", "secure", "secure")
    assert secure.http_version == "HTTP/2"
    assert server.targets == [("localhost", origin.port), ("localhost", tls_origin.port)]


async def test_socks5_resolves_names_locally(socks: SocksFactory, origin: HTTPServer) -> None:
    server = await socks()
    async with client(server.url("socks5")) as c:
        assert (await c.get(f"http://localhost:{origin.port}/x")).text == "plain"
    host, port = server.targets[0]
    assert host in ("127.0.0.1", "::1") and port == origin.port


async def test_socks5_with_username_and_password(socks: SocksFactory, origin: HTTPServer) -> None:
    server = await socks(credentials=("user", SECRET))
    async with client(server.url(userinfo=f"user:{SECRET}")) as c:
        assert (await c.get(origin.url_for("/x"))).text == "plain"


async def test_socks5_auth_required_but_not_given(socks: SocksFactory, origin: HTTPServer) -> None:
    server = await socks(credentials=("user", SECRET))
    async with client(server.url()) as c:
        with pytest.raises(ProxyError, match="requires authentication") as caught:
            await c.get(origin.url_for("/x"))
    check_error(caught.value)


async def test_socks5_wrong_credentials(socks: SocksFactory, origin: HTTPServer) -> None:
    server = await socks(credentials=("user", "right"))
    async with client(server.url(userinfo=f"user:{SECRET}")) as c:
        with pytest.raises(ProxyError, match="rejected the credentials") as caught:
            await c.get(origin.url_for("/x"))
    check_error(caught.value)


@pytest.mark.parametrize(("code", "text"), [(5, "connection refused"), (2, "not allowed")])
async def test_socks5_connect_refused(
    socks: SocksFactory, origin: HTTPServer, code: int, text: str
) -> None:
    server = await socks(reply_code=code)
    async with client(server.url()) as c:
        with pytest.raises(ProxyError, match=text) as caught:
            await c.get(origin.url_for("/x"))
        assert c.get_pool_stats()["open"] == 0
    assert caught.value.socks_reply == code


async def test_unreachable_socks_proxy(origin: HTTPServer) -> None:
    async with client(f"socks5h://127.0.0.1:{free_port()}") as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(origin.url_for("/x"))
    assert isinstance(caught.value.__cause__, ConnectError)


async def test_socks5_credentials_of_255_bytes_and_limit_plus_one(
    socks: SocksFactory, origin: HTTPServer
) -> None:
    server = await socks(credentials=("u" * 255, "p" * 255))
    async with client(server.url(userinfo="u" * 255 + ":" + "p" * 255)) as c:
        assert (await c.get(origin.url_for("/x"))).text == "plain"
    with pytest.raises(InvalidURL, match="1-255 bytes"):
        client(server.url(userinfo="u:" + "p" * 256))
    with pytest.raises(InvalidURL, match="1-255 bytes"):
        client(server.url(userinfo="u" * 256 + ":p"))
