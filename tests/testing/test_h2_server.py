"""HTTP/2 in the test server: h2c by prior knowledge and h2 over TLS (ALPN), same expectations."""

from __future__ import annotations

import asyncio
import http.client
import shutil
import subprocess
import threading
from collections.abc import Iterator

import pytest
from werkzeug import Request, Response

import hyperhttp
from hyperhttp.testing import Fault, HTTPServer, ServerLimits


@pytest.fixture
def h2server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", http2=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def h2tls() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", http2=True, tls=True)
    server.start()
    yield server
    if server.is_running():
        server.stop()


def h2c() -> hyperhttp.Client:
    return hyperhttp.Client(http2="prior-knowledge")


async def test_h2c_prior_knowledge_serves_expectations(h2server: HTTPServer) -> None:
    h2server.expect_request("/hello", method="GET", query_string="a=1").respond_with_json(
        {"ok": True}, headers={"X-Extra": "yes"}
    )
    async with h2c() as client:
        response = await client.get(h2server.url_for("/hello?a=1"), headers={"X-Test": "1"})
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-extra"] == "yes"
    request, _ = h2server.log[0]
    assert request.environ["SERVER_PROTOCOL"] == "HTTP/2"
    assert request.headers["X-Test"] == "1"
    assert request.host == f"127.0.0.1:{h2server.port}"
    h2server.check_assertions()


async def test_h2_over_tls_alpn(h2tls: HTTPServer) -> None:
    h2tls.expect_request("/secure").respond_with_data("over tls")
    async with hyperhttp.Client(http2=True, verify=h2tls.client_ssl_context()) as client:
        response = await client.get(h2tls.url_for("/secure"))
    assert (response.http_version, response.text) == ("HTTP/2", "over tls")
    assert h2tls.log[0][0].scheme == "https"


async def test_http11_clients_still_served_with_http2_on(h2server: HTTPServer) -> None:
    h2server.expect_request("/one").respond_with_data("h1")
    connection = http.client.HTTPConnection("127.0.0.1", h2server.port, timeout=5)
    try:
        connection.request("GET", "/one")
        assert connection.getresponse().read() == b"h1"
    finally:
        connection.close()
    async with hyperhttp.Client() as client:  # HTTP/1.1 over TLS-less hyperhttp
        assert (await client.get(h2server.url_for("/one"))).http_version == "HTTP/1.1"
    await asyncio.sleep(0.01)


async def test_tls_alpn_http11_client_with_http2_on(h2tls: HTTPServer) -> None:
    h2tls.expect_request("/x").respond_with_data("h1 over tls")
    async with hyperhttp.Client(http2=False, verify=h2tls.client_ssl_context()) as client:
        response = await client.get(h2tls.url_for("/x"))
    assert (response.http_version, response.text) == ("HTTP/1.1", "h1 over tls")


async def test_plain_server_does_not_offer_h2() -> None:
    with HTTPServer(host="127.0.0.1", tls=True) as server:
        server.expect_request("/x").respond_with_data("h1 only")
        async with hyperhttp.Client(http2=True, verify=server.client_ssl_context()) as c:
            response = await c.get(server.url_for("/x"))
    assert response.http_version == "HTTP/1.1"


async def test_plain_server_rejects_the_h2c_preface() -> None:
    with HTTPServer(host="127.0.0.1") as server:
        async with h2c() as client:
            with pytest.raises(hyperhttp.HyperHTTPError):
                await client.get(server.url_for("/x"), retry=None)
    assert not server.log


async def test_no_handler_diff_and_oneshot_ordered(h2server: HTTPServer) -> None:
    h2server.expect_oneshot_request("/once").respond_with_data("first")
    h2server.expect_ordered_request("/a").respond_with_data("A")
    h2server.expect_ordered_request("/b").respond_with_data("B")
    async with h2c() as client:
        assert (await client.get(h2server.url_for("/a"))).text == "A"
        assert (await client.get(h2server.url_for("/b"))).text == "B"
        assert (await client.get(h2server.url_for("/once"))).text == "first"
        missing = await client.get(h2server.url_for("/once"))
    assert missing.status_code == 500
    assert "No handler found" in missing.text
    with pytest.raises(AssertionError):
        h2server.check_assertions()
    h2server.assert_request_made(h2server.create_matcher("/a"))


async def test_concurrent_streams_on_one_connection(h2server: HTTPServer) -> None:
    barrier = threading.Barrier(20, timeout=5)

    def handler(request: Request) -> Response:
        barrier.wait()  # all 20 handlers run at once: the streams are really concurrent
        return Response(request.path)

    h2server.expect_request("/c").respond_with_handler(handler)
    async with h2c() as client:
        responses = await asyncio.gather(*(client.get(h2server.url_for("/c")) for _ in range(20)))
    assert [r.text for r in responses] == ["/c"] * 20
    ports = {request.environ["REMOTE_PORT"] for request, _ in h2server.log}
    assert len(ports) == 1


@pytest.mark.parametrize("size", [0, 1, 70_000, 5 * 1024 * 1024])
async def test_request_and_response_bodies_of_any_size(h2server: HTTPServer, size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)

    def echo(request: Request) -> Response:
        return Response(request.get_data())

    h2server.expect_request("/echo", method="POST").respond_with_handler(echo)
    async with h2c() as client:
        response = await client.post(h2server.url_for("/echo"), content=payload)
    assert response.content == payload


async def test_tiny_initial_window_upload() -> None:
    limits = ServerLimits(h2_initial_window_size=1024)
    with HTTPServer(host="127.0.0.1", http2=True, limits=limits) as server:
        server.expect_request("/up").respond_with_handler(
            lambda r: Response(str(len(r.get_data())))
        )
        async with h2c() as client:
            response = await client.post(server.url_for("/up"), content=b"u" * 100_000)
    assert response.text == "100000"


async def test_streaming_generator_response(h2server: HTTPServer) -> None:
    def gen() -> Iterator[bytes]:
        for i in range(50):
            yield b"%d," % i

    h2server.expect_request("/stream").respond_with_response(Response(gen()))
    async with h2c() as client, client.stream("GET", h2server.url_for("/stream")) as response:
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert body == b"".join(b"%d," % i for i in range(50))


async def test_head_204_304(h2server: HTTPServer) -> None:
    h2server.expect_request("/head").respond_with_data("ignored body")
    h2server.expect_request("/empty").respond_with_data("", status=204)
    h2server.expect_request("/same").respond_with_data("", status=304)
    async with h2c() as client:
        head = await client.head(h2server.url_for("/head"))
        empty = await client.get(h2server.url_for("/empty"))
        same = await client.get(h2server.url_for("/same"))
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == "12"
    assert (empty.status_code, empty.content) == (204, b"")
    assert (same.status_code, same.content) == (304, b"")


async def test_connection_specific_headers_are_dropped(h2server: HTTPServer) -> None:
    h2server.expect_request("/h").respond_with_data("x", headers={"Connection": "close"})
    async with h2c() as client:
        response = await client.get(h2server.url_for("/h"))
        again = await client.get(h2server.url_for("/h"))
    assert response.status_code == again.status_code == 200
    assert "connection" not in response.headers


# -- faults ----------------------------------------------------------------------------------


async def test_delay_and_drip_faults(h2server: HTTPServer) -> None:
    h2server.expect_request("/slow").respond_with_data("0123456789").with_fault(
        Fault.delay(0.05) + Fault.drip(3, 0.01)
    )
    async with h2c() as client:
        response = await client.get(h2server.url_for("/slow"))
    assert response.text == "0123456789"


async def test_close_fault_fails_the_request(h2server: HTTPServer) -> None:
    h2server.expect_request("/close").with_fault(Fault.close())
    async with h2c() as client:
        with pytest.raises(hyperhttp.HyperHTTPError):
            await client.get(h2server.url_for("/close"), retry=None)


async def test_rst_stream_fault_fails_only_its_stream(h2server: HTTPServer) -> None:
    h2server.expect_request("/bad").respond_with_data("never").with_fault(Fault.rst_stream(2))
    h2server.expect_request("/good").respond_with_data("fine").with_fault(Fault.delay(0.05))
    async with h2c() as client:
        results = await asyncio.gather(
            client.get(h2server.url_for("/bad"), retry=None),
            client.get(h2server.url_for("/good")),
            return_exceptions=True,
        )
    assert isinstance(results[0], hyperhttp.HyperHTTPError)
    assert isinstance(results[1], hyperhttp.Response)
    assert results[1].text == "fine"


async def test_rst_stream_after_body_bytes(h2server: HTTPServer) -> None:
    h2server.expect_request("/cut").respond_with_data(b"z" * 1000).with_fault(
        Fault.rst_stream(2, after_bytes=100)
    )
    async with h2c() as client:
        with pytest.raises(hyperhttp.HyperHTTPError):
            await client.get(h2server.url_for("/cut"), retry=None)


async def test_goaway_below_the_stream_is_retried_elsewhere(h2server: HTTPServer) -> None:
    h2server.expect_oneshot_request("/g").respond_with_data("no").with_fault(Fault.goaway(0))
    h2server.expect_request("/g").respond_with_data("retried")
    async with h2c() as client:
        response = await client.get(h2server.url_for("/g"))
    assert response.text == "retried"
    ports = [request.environ["REMOTE_PORT"] for request, _ in h2server.log]
    assert len(ports) == 2 and ports[0] != ports[1]  # the retry used a new connection


async def test_goaway_covering_the_stream_still_answers_then_closes(
    h2server: HTTPServer,
) -> None:
    h2server.expect_request("/last").respond_with_data("done").with_fault(Fault.goaway())
    async with h2c() as client:
        first = await client.get(h2server.url_for("/last"))
        second = await client.get(h2server.url_for("/last"))
    assert first.text == second.text == "done"
    ports = [request.environ["REMOTE_PORT"] for request, _ in h2server.log]
    assert ports[0] != ports[1]


async def test_settings_change_mid_connection(h2server: HTTPServer) -> None:
    h2server.expect_oneshot_request("/shrink").respond_with_data("ok").with_fault(
        Fault.h2_settings_change(max_concurrent_streams=1) + Fault.tiny_window(512)
    )
    h2server.expect_request("/up", method="POST").respond_with_handler(
        lambda r: Response(str(len(r.get_data())))
    )
    async with h2c() as client:
        assert (await client.get(h2server.url_for("/shrink"))).text == "ok"
        responses = await asyncio.gather(
            *(client.post(h2server.url_for("/up"), content=b"p" * 20_000) for _ in range(3))
        )
    assert [r.text for r in responses] == ["20000"] * 3


def test_frame_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        Fault.h2_settings_change(no_such_setting=1)
    with pytest.raises(ValueError):
        Fault.tiny_window(-1)
    with pytest.raises(ValueError):
        Fault.goaway(-1)
    with pytest.raises(ValueError):
        Fault.rst_stream(after_bytes=-1)


async def test_frame_faults_are_ignored_over_http11(h2server: HTTPServer) -> None:
    h2server.expect_request("/x").respond_with_data("h1").with_fault(Fault.tiny_window(1))
    async with hyperhttp.Client() as client:
        assert (await client.get(h2server.url_for("/x"))).text == "h1"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_http2_prior_knowledge(h2server: HTTPServer) -> None:
    version = subprocess.run(["curl", "--version"], capture_output=True, text=True, timeout=10)
    if "HTTP2" not in version.stdout:
        pytest.skip("this curl has no HTTP/2 support")
    h2server.expect_request("/curl").respond_with_data("curl over h2c")
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--http2-prior-knowledge",
            "-w",
            "\n%{http_version}",
            h2server.url_for("/curl"),
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.stdout == "curl over h2c\n2"


# -- RFC 9113 §8.3.1 / checklist SV-02: Host against :authority ---------------------------------


@pytest.mark.parametrize("host", ["y", "x:8080", "X"])
def test_a_host_that_differs_from_authority_is_refused(host: str) -> None:
    # h2 compares the two strings exactly and answers any difference with
    # GOAWAY(PROTOCOL_ERROR) (RFC 9113 §8.3.1 calls such a request malformed): stricter than
    # HTTP/1.1's 400, and a Host differing only in case is refused too.
    from hyperframe.frame import HeadersFrame

    from .h2peer import PROTOCOL_ERROR, Peer

    with HTTPServer(http2=True) as server:
        server.expect_request("/").respond_with_data("ok")
        peer = Peer(server.port)
        try:
            block = peer.block(("host", host))
            peer.send(HeadersFrame(1, block, flags={"END_HEADERS", "END_STREAM"}))
            peer.connection_error(PROTOCOL_ERROR)
        finally:
            peer.close()
        assert not server.log  # the handler never ran


def test_host_equal_to_authority_is_served() -> None:
    from hyperframe.frame import HeadersFrame

    from .h2peer import Peer

    with HTTPServer(http2=True) as server:
        server.expect_request("/").respond_with_data("ok")
        peer = Peer(server.port)
        try:
            block = peer.block(("host", "x"))
            peer.send(HeadersFrame(1, block, flags={"END_HEADERS", "END_STREAM"}))
            assert dict(peer.response(1))[":status"] == "200"
        finally:
            peer.close()
