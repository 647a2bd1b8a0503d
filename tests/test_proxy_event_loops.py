"""Proxies on both event loops: forwarding, CONNECT (HTTP/2 inside), an https:// proxy with
TLS inside TLS, SOCKS5, and a refused tunnel; on asyncio's loop and on uvloop's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import hyperhttp
from hyperhttp.testing import HTTPServer
from hyperhttp.testing._tls import default_certificates

from .proxy_server import Socks5Proxy, TestProxy

uvloop = pytest.importorskip("uvloop")
CERTS = default_certificates()


async def _scenario(origin: HTTPServer, tls_origin: HTTPServer) -> list[str]:
    plain_proxy = await TestProxy(credentials="u:p").start()
    tls_proxy = await TestProxy(ssl=CERTS.server_ssl_context()).start()
    refusing = await TestProxy(connect_reply=b"HTTP/1.1 403 Forbidden\r\n\r\n").start()
    socks = await Socks5Proxy().start()
    seen = []
    try:
        for url in (plain_proxy.url("u:p"), tls_proxy.url(), socks.url()):
            async with hyperhttp.Client(
                proxies=url, verify=CERTS.client_ssl_context(), trust_env=False
            ) as client:
                plain = await client.get(origin.url_for("/x"))
                secure = await client.get(tls_origin.url_for("/x"))
                seen.append(f"{plain.text} {secure.text} {secure.http_version}")
        async with hyperhttp.Client(
            proxies=refusing.url(), verify=CERTS.client_ssl_context(), trust_env=False
        ) as client:
            try:
                await client.get(tls_origin.url_for("/x"))
            except hyperhttp.ProxyError as exc:
                seen.append(f"refused {exc.status_code}")
    finally:
        for server in (plain_proxy, tls_proxy, refusing, socks):
            await server.aclose()
    return seen


@pytest.mark.parametrize(
    "new_loop",
    [asyncio.new_event_loop, uvloop.new_event_loop],
    ids=["asyncio", "uvloop"],
)
def test_proxies_work_on_each_loop(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    with (
        HTTPServer(host="127.0.0.1") as origin,
        HTTPServer(host="127.0.0.1", tls=True, http2=True) as tls_origin,
    ):
        origin.expect_request("/x").respond_with_data("plain")
        tls_origin.expect_request("/x").respond_with_data("secure")
        loop = new_loop()
        try:
            seen = loop.run_until_complete(_scenario(origin, tls_origin))
        finally:
            loop.close()
    assert seen == ["plain secure HTTP/2"] * 3 + ["refused 403"]
