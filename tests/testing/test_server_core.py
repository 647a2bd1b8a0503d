"""The server itself: keep-alive, streaming, pipelining, HEAD/204, Expect, concurrency."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from werkzeug import Request, Response

from hyperhttp.testing import HTTPServer

from .wire import exchange, read_response, read_until_close, status_of


def test_keep_alive_reuses_one_connection(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/k").respond_with_data("k")
    connection = http.client.HTTPConnection("127.0.0.1", httpserver.port, timeout=5)
    try:
        ports = set()
        for _ in range(20):
            connection.request("GET", "/k")
            response = connection.getresponse()
            assert response.read() == b"k"
            assert response.getheader("Connection") is None
            assert connection.sock is not None
            ports.add(connection.sock.getsockname()[1])
        assert len(ports) == 1
    finally:
        connection.close()


def test_connection_close_and_http10(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/c").respond_with_data("c")
    closed = exchange(httpserver.port, b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Connection: close" in closed and closed.endswith(b"c")
    old = exchange(httpserver.port, b"GET /c HTTP/1.0\r\n\r\n")
    assert old.startswith(b"HTTP/1.1 200") and old.endswith(b"c")
    with socket.create_connection(("127.0.0.1", httpserver.port)) as sock:
        sock.sendall(b"GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = read_response(sock)
        assert b"Connection: keep-alive" in first
        sock.sendall(b"GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert read_response(sock).endswith(b"c")


def test_streaming_response_flushes_each_chunk(httpserver: HTTPServer) -> None:
    second_may_go = threading.Event()

    def stream(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b"first;"
            second_may_go.wait(5)
            yield b"second"

        return Response(body(), mimetype="text/plain")

    httpserver.expect_request("/stream").respond_with_handler(stream)
    with requests.get(httpserver.url_for("/stream"), stream=True, timeout=5) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        chunks = response.iter_content(chunk_size=None)
        assert next(chunks) == b"first;"  # arrived before the generator went on
        second_may_go.set()
        assert b"".join(chunks) == b"second"


def test_respond_with_data_generator(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/g").respond_with_data(x.encode() for x in "abc")
    assert requests.get(httpserver.url_for("/g")).content == b"abc"


def test_head_and_204_304_have_no_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/h").respond_with_data("body!")
    httpserver.expect_request("/204").respond_with_data("ignored", status=204)
    httpserver.expect_request("/304").respond_with_data("ignored", status=304)
    with socket.create_connection(("127.0.0.1", httpserver.port)) as sock:
        sock.sendall(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.sendall(b"GET /304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 5" in head
    assert rest.startswith(b"HTTP/1.1 204 NO CONTENT\r\n")
    _, _, third = rest.partition(b"\r\n\r\n")
    assert third.startswith(b"HTTP/1.1 304 NOT MODIFIED\r\n")
    assert third.endswith(b"\r\n\r\n")


def test_pipelined_requests_answered_in_order(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p").respond_with_handler(
        lambda r: Response(r.args["i"], headers={"X-I": r.args["i"]})
    )
    requests_bytes = (
        b"".join(b"GET /p?i=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(200))
        + b"GET /p?i=last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    data = exchange(httpserver.port, requests_bytes, timeout=10)
    bodies = [part.split(b"\r\n")[0] for part in data.split(b"X-I: ")[1:]]
    assert bodies == [str(i).encode() for i in range(200)] + [b"last"]


def test_expect_100_continue(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/up", method="POST", data=b"hello").respond_with_data("got it")
    with socket.create_connection(("127.0.0.1", httpserver.port)) as sock:
        sock.settimeout(5)
        sock.sendall(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert read_response(sock).endswith(b"got it")


def test_chunked_request_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/c", data=b"hello world").respond_with_data("ok")
    response = exchange(
        httpserver.port,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    assert status_of(response) == 200


def test_slow_handler_does_not_block_other_connections(httpserver: HTTPServer) -> None:
    release = threading.Event()
    httpserver.expect_request("/slow").respond_with_handler(lambda r: release.wait(5) and "s")
    httpserver.expect_request("/fast").respond_with_data("f")
    thread = threading.Thread(target=requests.get, args=(httpserver.url_for("/slow"),))
    thread.start()
    try:
        time.sleep(0.05)
        t0 = time.perf_counter()
        for _ in range(10):
            assert requests.get(httpserver.url_for("/fast")).text == "f"
        assert time.perf_counter() - t0 < 2
    finally:
        release.set()
        thread.join(5)


def test_many_concurrent_connections(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/c").respond_with_handler(lambda r: r.args["i"])
    results: dict[int, str] = {}

    def worker(i: int) -> None:
        with requests.Session() as session:
            for j in range(5):
                results[i * 10 + j] = session.get(httpserver.url_for(f"/c?i={i * 10 + j}")).text

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == {k: str(k) for k in results} and len(results) == 100


def test_absolute_form_target(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/abs", query_string="q=1").respond_with_data("ok")
    response = exchange(
        httpserver.port,
        b"GET http://example.test/abs?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close"
        b"\r\n\r\n",
    )
    assert status_of(response) == 200


def test_location_header_and_redirect(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/from").respond_with_data(
        "", status=302, headers={"Location": "/to"}
    )
    httpserver.expect_request("/to").respond_with_data("landed")
    assert requests.get(httpserver.url_for("/from")).text == "landed"


def test_error_inside_a_streaming_body_is_recorded_and_cuts_the_response(
    httpserver: HTTPServer,
) -> None:
    def stream(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b"first"
            raise RuntimeError("generator broke")

        return Response(body())

    httpserver.expect_request("/broken").respond_with_handler(stream)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(httpserver.url_for("/broken"))
    assert any(isinstance(e, RuntimeError) for e in httpserver.handler_errors)
    httpserver.clear_handler_errors()
    httpserver.expect_request("/ok").respond_with_data("still serving")
    assert requests.get(httpserver.url_for("/ok")).text == "still serving"
