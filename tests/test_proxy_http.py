"""HTTP proxies on real loopback sockets: forwarding, CONNECT tunnels, https:// proxies.

Checklist rows PX-01 (tunnel replies), PX-02 and P-02 (where credentials go), PX-03 (the
environment, end to end), PX-04 (unreachable proxies), PL-05 (no leak on failure), PL-06
(pool separation). The origin is ``hyperhttp.testing.HTTPServer`` (plain, TLS, HTTP/2) or a
scripted server when the raw bytes it received matter; the proxy is tests/proxy_server.py.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trustme

from hyperhttp import (
    Client,
    ConnectError,
    ConnectTimeout,
    DNSError,
    InvalidURL,
    ProxyError,
    RetryError,
    TLSError,
)
from hyperhttp._protocol.proxy import MAX_CONNECT_REPLY_BYTES
from hyperhttp.errors.retry import RetryPolicy
from hyperhttp.testing import HTTPServer
from hyperhttp.testing._tls import default_certificates
from hyperhttp.utils.backoff import ConstantBackoff

from .conftest import ServerFactory
from .proxy_server import TestProxy
from .scripted import SECRET, ServerConn, check_error, free_port, keep_alive, response, wait_until

ProxyFactory = Callable[..., Awaitable[TestProxy]]
CERTS = default_certificates()


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
async def proxy() -> AsyncIterator[ProxyFactory]:
    started: list[TestProxy] = []

    async def start(**kwargs: Any) -> TestProxy:
        server = await TestProxy(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.aclose()


def client(proxies: object, **kwargs: Any) -> Client:
    kwargs.setdefault("verify", CERTS.client_ssl_context())
    kwargs.setdefault("trust_env", False)
    return Client(proxies=proxies, **kwargs)


def header_values(head: bytes, name: bytes) -> list[bytes]:
    return [
        line.partition(b":")[2].strip()
        for line in head.split(b"\r\n")[1:]
        if line.partition(b":")[0].strip().lower() == name
    ]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- forwarding and tunnels work --------------------------------------------------------------


async def test_http_origin_is_forwarded_in_absolute_form_with_proxy_auth(
    proxy: ProxyFactory, origin: HTTPServer
) -> None:
    server = await proxy(credentials="user:pw")
    async with client(server.url("user:pw")) as c:
        response = await c.get(origin.url_for("/x?q=1"))
        again = await c.get(origin.url_for("/x"))
    assert (response.text, again.text) == ("plain", "plain")
    assert server.accepted == 1  # the connection to the proxy was kept alive
    head = server.heads[0]
    assert head.startswith(f"GET {origin.url_for('/x?q=1')} HTTP/1.1\r\n".encode())
    assert header_values(head, b"host") == [f"127.0.0.1:{origin.port}".encode()]
    assert header_values(head, b"proxy-authorization") == [b"Basic dXNlcjpwdw=="]
    # The credentials live on the wire only, never in the request the caller sees.
    assert "proxy-authorization" not in response.request.headers


async def test_https_origin_through_a_connect_tunnel_speaks_http2(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    server = await proxy()
    async with client(server.url()) as c:
        responses = await asyncio.gather(*(c.get(tls_origin.url_for("/x")) for _ in range(5)))
    assert [r.text for r in responses] == ["secure"] * 5
    assert {r.http_version for r in responses} == {"HTTP/2"}
    assert server.accepted == 1  # one tunnel, every stream multiplexed in it
    target = f"127.0.0.1:{tls_origin.port}".encode()
    assert server.heads == [b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)]


async def test_https_origin_http1_through_a_tunnel(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    server = await proxy()
    async with client(server.url(), http2=False) as c:
        for _ in range(3):
            response = await c.get(tls_origin.url_for("/x"))
            assert (response.text, response.http_version) == ("secure", "HTTP/1.1")
    assert server.accepted == 1


async def test_ipv6_tunnel_target_is_bracketed(proxy: ProxyFactory) -> None:
    with HTTPServer(host="::1", tls=True) as v6:
        v6.expect_request("/x").respond_with_data("six")
        server = await proxy()
        async with client(server.url()) as c:
            response = await c.get(f"https://[::1]:{v6.port}/x")
    assert response.text == "six"
    target = f"[::1]:{v6.port}".encode()
    assert server.heads[0] == b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)


async def test_proxy_on_ipv6_loopback(
    proxy: ProxyFactory, origin: HTTPServer, tls_origin: HTTPServer
) -> None:
    server = await proxy(host="::1")
    async with client(server.url()) as c:
        assert (await c.get(origin.url_for("/x"))).text == "plain"
        assert (await c.get(tls_origin.url_for("/x"))).text == "secure"
    assert server.url().startswith("http://[::1]:")


async def test_https_proxy_is_tls_to_the_proxy_and_tls_inside_for_https_origins(
    proxy: ProxyFactory, origin: HTTPServer, tls_origin: HTTPServer
) -> None:
    server = await proxy(ssl=CERTS.server_ssl_context(), credentials="u:p")
    async with client(server.url("u:p")) as c:
        plain = await c.get(origin.url_for("/x"))
        secure = await c.get(tls_origin.url_for("/x"))
    assert (plain.text, secure.text, secure.http_version) == ("plain", "secure", "HTTP/2")
    assert header_values(server.heads[0], b"proxy-authorization") == [b"Basic dTpw"]
    assert server.heads[1].startswith(b"CONNECT ")


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.0 200 Connection established\r\nProxy-Agent: test\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    ],
    ids=["204", "200-with-cl-and-te", "http1.0", "interim-first"],
)
async def test_any_2xx_opens_the_tunnel_whatever_its_framing_headers(
    proxy: ProxyFactory, tls_origin: HTTPServer, reply: bytes
) -> None:
    server = await proxy(tunnel_reply=reply)
    async with client(server.url()) as c:
        assert (await c.get(tls_origin.url_for("/x"))).text == "secure"


# -- PX-01: refusals and malformed replies ----------------------------------------------------


@pytest.mark.parametrize("status", [407, 403, 502, 500, 301])
async def test_non_2xx_to_connect_is_a_proxy_error_never_the_response(
    proxy: ProxyFactory, tls_origin: HTTPServer, status: int
) -> None:
    body = b"<h1>the proxy's own page</h1>"
    reply = b"HTTP/1.1 %d Nope\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)
    server = await proxy(connect_reply=reply)
    async with client(server.url(f"user:{SECRET}")) as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(tls_origin.url_for("/x"))
        assert c.get_pool_stats()["open"] == 0
    error = caught.value
    check_error(error)
    assert error.status_code == status
    assert str(status) in str(error)
    assert "own page" not in str(error)
    await wait_until(lambda: server.open == 0)


@pytest.mark.parametrize(("status", "attempts"), [(407, 1), (403, 1), (502, 3)])
async def test_retries_follow_the_status_of_the_proxys_answer(
    proxy: ProxyFactory, tls_origin: HTTPServer, status: int, attempts: int
) -> None:
    # Credentials a proxy refused will not work on the next try; a 502 from it may.
    reply = b"HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n" % status
    server = await proxy(connect_reply=reply)
    policy = RetryPolicy(max_retries=2, backoff_strategy=ConstantBackoff(0.0))
    async with client(server.url(), retry=policy) as c:
        with pytest.raises((ProxyError, RetryError)):
            await c.get(tls_origin.url_for("/x"))
    assert server.accepted == attempts


async def test_407_from_the_test_proxy_without_credentials(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    server = await proxy(credentials="user:pw")
    async with client(server.url()) as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(tls_origin.url_for("/x"))
    assert caught.value.status_code == 407
    async with client(server.url("user:wrong")) as c:
        with pytest.raises(ProxyError, match="407"):
            await c.get(tls_origin.url_for("/x"))


@pytest.mark.parametrize(
    "reply",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nunexpected tunnel bytes",
        b"",
        b"HTTP/1.1 100 Continue\r\n\r\n" * 20,
    ],
    ids=[
        "garbage",
        "nul-in-header",
        "no-colon",
        "space-in-name",
        "4-digit-status",
        "http2-version",
        "early-eof-in-head",
        "bytes-after-head",
        "eof-without-reply",
        "endless-interim",
    ],
)
async def test_malformed_connect_replies_are_proxy_errors(
    proxy: ProxyFactory, tls_origin: HTTPServer, reply: bytes
) -> None:
    server = await proxy(connect_reply=reply)
    async with client(server.url(), timeout=5) as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(tls_origin.url_for("/x"))
        assert c.get_pool_stats()["open"] == 0
    check_error(caught.value)
    assert caught.value.status_code is None


async def test_early_eof_right_after_connect_is_a_proxy_error(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    server = await proxy(close_after_head=True)
    async with client(server.url()) as c:
        with pytest.raises(ProxyError, match="without replying"):
            await c.get(tls_origin.url_for("/x"))


async def test_reply_head_limit_and_limit_plus_one(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    def reply_of_size(size: int) -> bytes:
        start = b"HTTP/1.1 200 OK\r\nX-Pad: "
        end = b"\r\n\r\n"
        return start + b"a" * (size - len(start) - len(end)) + end

    at_limit = reply_of_size(MAX_CONNECT_REPLY_BYTES)
    assert len(at_limit) == MAX_CONNECT_REPLY_BYTES
    server = await proxy(tunnel_reply=at_limit)
    async with client(server.url()) as c:
        assert (await c.get(tls_origin.url_for("/x"))).text == "secure"
    server = await proxy(tunnel_reply=reply_of_size(MAX_CONNECT_REPLY_BYTES + 1))
    async with client(server.url()) as c:
        with pytest.raises(ProxyError, match="exceeds"):
            await c.get(tls_origin.url_for("/x"))


async def test_endless_header_is_cut_without_waiting_for_its_end(
    scripted: ServerFactory, tls_origin: HTTPServer
) -> None:
    async def endless(conn: ServerConn) -> None:
        await conn.reader.readuntil(b"\r\n\r\n")
        await conn.send(b"HTTP/1.1 200 OK\r\nX-Long: ")
        for _ in range(200):
            await conn.send(b"a" * 4096)
        await conn.wait_for_eof()

    server = await scripted(endless)
    async with client(server.url, timeout=10) as c:
        with pytest.raises(ProxyError, match="exceeds"):
            await c.get(tls_origin.url_for("/x"))


@pytest.mark.parametrize(
    "url",
    [
        "https://exa\x01mple.com/",
        "https://exa%zzmple.com/",
        "https://exa%0d%0aX-Injected:%20yes@/",
        "https://exa mple.com/",
    ],
)
async def test_an_invalid_tunnel_host_fails_before_connecting(
    proxy: ProxyFactory, url: str
) -> None:
    server = await proxy()
    async with client(server.url()) as c:
        with pytest.raises(InvalidURL):
            await c.get(url)
    assert server.accepted == 0


# -- PX-04: the proxy cannot be reached -----------------------------------------------------


async def test_unreachable_proxy_is_a_proxy_error_wrapping_connect_error(
    tls_origin: HTTPServer, origin: HTTPServer
) -> None:
    async with client(f"http://user:{SECRET}@127.0.0.1:{free_port()}") as c:
        for url in (tls_origin.url_for("/x"), origin.url_for("/x")):
            with pytest.raises(ProxyError) as caught:
                await c.get(url)
            check_error(caught.value)
            assert isinstance(caught.value.__cause__, ConnectError)
            assert not isinstance(caught.value, ConnectError)  # not the origin's error


async def test_proxy_dns_failure_is_a_proxy_error_wrapping_dns_error(
    tls_origin: HTTPServer,
) -> None:
    # .invalid never resolves (RFC 6761); the suite's guard fails the lookup locally anyway.
    async with client("http://proxy.invalid:3128") as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(tls_origin.url_for("/x"))
    assert isinstance(caught.value.__cause__, DNSError)


async def test_tls_error_to_an_https_proxy_is_a_proxy_error(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    # The proxy's certificate comes from a CA the client does not trust.
    other = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.issue_cert("127.0.0.1").configure_cert(context)
    server = await proxy(ssl=context)
    async with client(server.url()) as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(tls_origin.url_for("/x"))
    assert isinstance(caught.value.__cause__, TLSError)


async def test_https_proxy_hostname_is_verified(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    # Trusted CA, but the certificate names another host.
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("proxy.example").configure_cert(context)
    server = await proxy(ssl=context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with client(server.url(), verify=trusting) as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(tls_origin.url_for("/x"))
    assert isinstance(caught.value.__cause__, TLSError)


async def test_slow_proxy_is_a_proxy_error_wrapping_connect_timeout(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    server = await proxy(delay=5)
    async with client(server.url(), timeout=5, connect_timeout=0.2) as c:
        with pytest.raises(ProxyError) as caught:
            await c.get(tls_origin.url_for("/x"))
    assert isinstance(caught.value.__cause__, ConnectTimeout)


async def test_origin_tls_failure_inside_the_tunnel_is_the_origins_error(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    server = await proxy()
    async with client(server.url(), verify=ssl.create_default_context()) as c:
        with pytest.raises(TLSError) as caught:
            await c.get(tls_origin.url_for("/x"))
    assert not isinstance(caught.value, ProxyError)
    check_error(caught.value)


# -- PL-05: failures leave nothing behind --------------------------------------------------


async def test_failed_tunnels_leak_no_socket_and_no_pool_slot(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    refusing = await proxy(connect_reply=b"HTTP/1.1 403 Forbidden\r\n\r\n")
    garbage = await proxy(connect_reply=b"\x00\x01\x02\r\n\r\n")
    untrusted = await proxy()
    dead = f"http://127.0.0.1:{free_port()}"
    before = open_fds()
    for _ in range(10):
        for url, verify in (
            (refusing.url(), None),
            (garbage.url(), None),
            (dead, None),
            (untrusted.url(), ssl.create_default_context()),
        ):
            kwargs: dict[str, Any] = {"max_connections": 1}
            if verify is not None:
                kwargs["verify"] = verify
            async with client(url, **kwargs) as c:
                for _ in range(2):  # max_connections=1: a leaked slot would PoolTimeout
                    with pytest.raises((ProxyError, TLSError)):
                        await c.get(tls_origin.url_for("/x"), timeout=5)
                assert c.get_pool_stats()["open"] == 0
    await wait_until(lambda: refusing.open == garbage.open == untrusted.open == 0)
    assert open_fds() - before < 5


# -- PX-02 / P-02: credentials never cross a boundary ----------------------------------------


async def test_proxy_credentials_never_go_inside_the_tunnel(
    proxy: ProxyFactory, scripted: ServerFactory
) -> None:
    origin = await scripted(keep_alive(lambda _: response(b"ok")), ssl=CERTS.server_ssl_context())
    server = await proxy(credentials=f"user:{SECRET}")
    async with client(server.url(f"user:{SECRET}")) as c:
        # A Proxy-Authorization the caller set by hand is meant for the proxy too.
        await c.get(origin.url + "/a", headers={"Proxy-Authorization": "Basic by-hand"})
        await c.get(origin.url + "/b")
    assert len(origin.requests) == 2
    for request in origin.requests:
        assert request.header(b"proxy-authorization") is None
        assert SECRET.encode() not in request.head
        assert b"by-hand" not in request.head
    assert header_values(server.heads[0], b"proxy-authorization") != []
    assert server.heads[0].startswith(b"CONNECT ")


async def test_forwarded_requests_carry_only_our_proxy_authorization(
    proxy: ProxyFactory, origin: HTTPServer
) -> None:
    server = await proxy(credentials="user:pw")
    async with client(server.url("user:pw")) as c:
        await c.get(origin.url_for("/x"), headers={"Proxy-Authorization": "Basic other"})
    assert header_values(server.heads[0], b"proxy-authorization") == [b"Basic dXNlcjpwdw=="]


async def test_a_proxy_never_receives_another_proxys_credentials(
    proxy: ProxyFactory, origin: HTTPServer, tls_origin: HTTPServer
) -> None:
    first = await proxy(credentials=f"user:{SECRET}")
    second = await proxy()
    proxies = {"http": first.url(f"user:{SECRET}"), "https": second.url()}
    async with client(proxies) as c:
        await c.get(origin.url_for("/x"))
        await c.get(tls_origin.url_for("/x"))
        await c.get(origin.url_for("/x"))
    assert first.targets[0].startswith("http://") and len(first.heads) == 2
    assert [target.startswith("127.0.0.1:") for target in second.targets] == [True]
    for head in second.heads:
        assert header_values(head, b"proxy-authorization") == []


async def test_cross_origin_redirect_drops_a_user_set_proxy_authorization(
    scripted: ServerFactory,
) -> None:
    target = await scripted(keep_alive(lambda _: response(b"landed")))
    start = await scripted(
        keep_alive(lambda _: response(status=302, headers=[("Location", target.url + "/b")]))
    )
    async with Client(follow_redirects=True, trust_env=False) as c:
        result = await c.get(start.url + "/a", headers={"Proxy-Authorization": f"Basic {SECRET}"})
    assert result.text == "landed"
    assert start.requests[0].header(b"proxy-authorization") is not None
    assert target.requests[0].header(b"proxy-authorization") is None
    assert SECRET.encode() not in target.requests[0].head


async def test_redirect_to_another_origin_through_the_tunnel_keeps_credentials_out(
    proxy: ProxyFactory, scripted: ServerFactory
) -> None:
    context = CERTS.server_ssl_context()
    second = await scripted(keep_alive(lambda _: response(b"second")), ssl=context)
    first = await scripted(
        keep_alive(lambda _: response(status=307, headers=[("Location", second.url + "/")])),
        ssl=context,
    )
    server = await proxy(credentials=f"user:{SECRET}")
    async with client(server.url(f"user:{SECRET}"), follow_redirects=True) as c:
        result = await c.get(first.url + "/")
    assert result.text == "second"
    assert [head.startswith(b"CONNECT ") for head in server.heads] == [True, True]
    for request in first.requests + second.requests:
        assert SECRET.encode() not in request.head
        assert request.header(b"proxy-authorization") is None


# -- PL-06: pools are kept apart -------------------------------------------------------------


async def test_proxied_and_direct_connections_are_separate(
    proxy: ProxyFactory, origin: HTTPServer, tls_origin: HTTPServer
) -> None:
    server = await proxy()
    async with client({"https": server.url(), "http": None}) as c:
        await c.get(origin.url_for("/x"))
        await c.get(tls_origin.url_for("/x"))
        await c.get(origin.url_for("/x"))
        assert c.get_pool_stats()["open"] == 2
    assert len(server.heads) == 1  # only the https origin went through the proxy


async def test_one_forwarding_connection_serves_every_http_origin(
    proxy: ProxyFactory, origin: HTTPServer
) -> None:
    with HTTPServer(host="127.0.0.1") as other:
        other.expect_request("/x").respond_with_data("other")
        server = await proxy()
        async with client(server.url()) as c:
            assert (await c.get(origin.url_for("/x"))).text == "plain"
            assert (await c.get(other.url_for("/x"))).text == "other"
    assert server.accepted == 1


# -- PX-03 end to end ------------------------------------------------------------------------


async def test_environment_proxy_and_no_proxy_end_to_end(
    proxy: ProxyFactory, origin: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await proxy()
    monkeypatch.setenv("http_proxy", server.url())
    async with Client() as c:
        assert (await c.get(origin.url_for("/x"))).text == "plain"
    assert len(server.heads) == 1
    async with Client(trust_env=False) as c:
        await c.get(origin.url_for("/x"))
    monkeypatch.setenv("no_proxy", f"127.0.0.1:{origin.port}")
    async with Client() as c:
        await c.get(origin.url_for("/x"))
    assert len(server.heads) == 1


# -- cancellation and event loops without TLS inside TLS -----------------------------------


async def test_cancelled_during_the_tunnel_setup_leaves_the_client_usable(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    slow = await proxy(delay=5)
    async with client(slow.url(), max_connections=1) as c:
        before = open_fds()
        task = asyncio.create_task(c.get(tls_origin.url_for("/x")))
        await wait_until(lambda: slow.heads != [])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert c.get_pool_stats()["open"] == 0
        await slow.aclose()  # its side of the socket; what is left open would be ours
        assert open_fds() <= before
    fast = await proxy()
    async with client(fast.url(), max_connections=1) as c:
        assert (await c.get(tls_origin.url_for("/x"))).text == "secure"


class _LoopWithoutTLSInTLS(asyncio.SelectorEventLoop):
    """Refuses start_tls on a TLS transport, as Python 3.10's asyncio does."""

    async def start_tls(self, transport: Any, *args: Any, **kwargs: Any) -> Any:
        if transport.get_extra_info("ssl_object") is not None:
            raise TypeError(f"transport {transport!r} is not supported by start_tls()")
        return await super().start_tls(transport, *args, **kwargs)


def test_tls_inside_tls_on_a_loop_without_it_is_a_clear_proxy_error() -> None:
    async def scenario(plain_url: str, tls_url: str) -> tuple[str, ProxyError]:
        server = await TestProxy(ssl=CERTS.server_ssl_context()).start()
        try:
            async with client(server.url()) as c:
                forwarded = (await c.get(plain_url)).text  # TLS to the proxy alone works
                with pytest.raises(ProxyError) as caught:
                    await c.get(tls_url)
                assert c.get_pool_stats()["open"] == 1  # the forwarding connection only
                return forwarded, caught.value
        finally:
            await server.aclose()

    with (
        HTTPServer(host="127.0.0.1", tls=True) as tls_server,
        HTTPServer(host="127.0.0.1") as plain,
    ):
        tls_server.expect_request("/x").respond_with_data("secure")
        plain.expect_request("/x").respond_with_data("plain")
        loop = _LoopWithoutTLSInTLS()
        try:
            forwarded, error = loop.run_until_complete(
                scenario(plain.url_for("/x"), tls_server.url_for("/x"))
            )
        finally:
            loop.close()
    assert forwarded == "plain"
    check_error(error)
    assert "TLS inside TLS" in str(error)


async def test_https_proxy_verified_with_a_ca_file(
    proxy: ProxyFactory, tls_origin: HTTPServer, origin: HTTPServer
) -> None:
    # verify= as a path: the proxy gets a context of its own (ALPN http/1.1 only).
    server = await proxy(ssl=CERTS.server_ssl_context(http2=True))
    async with client(server.url(), verify=CERTS.ca_file) as c:
        assert (await c.get(origin.url_for("/x"))).text == "plain"
        secure = await c.get(tls_origin.url_for("/x"))
    assert (secure.text, secure.http_version) == ("secure", "HTTP/2")


async def test_a_proxy_that_picks_http2_for_itself_is_refused(
    proxy: ProxyFactory, tls_origin: HTTPServer
) -> None:
    # A caller's own SSLContext is used as given, so it offers h2 to the proxy too.
    server = await proxy(ssl=CERTS.server_ssl_context(http2=True))
    async with client(server.url()) as c:
        with pytest.raises(ProxyError, match="HTTP/2"):
            await c.get(tls_origin.url_for("/x"))
