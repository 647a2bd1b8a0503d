"""Every fault mode, seen from real clients (http.client and raw sockets)."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from hyperhttp.testing import Fault, HTTPServer


@pytest.fixture
def conn(httpserver: HTTPServer) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("localhost", httpserver.port, timeout=5)
    yield connection
    connection.close()


def test_delay_is_non_blocking(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/slow").respond_with_data("slow").with_fault(Fault.delay(0.5))
    httpserver.expect_request("/fast").respond_with_data("fast")
    with socket.create_connection(("127.0.0.1", httpserver.port)) as slow:
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.perf_counter()
        assert requests.get(httpserver.url_for("/fast")).text == "fast"
        assert time.perf_counter() - t0 < 0.4  # not queued behind the delayed response
        slow.settimeout(5)
        data = b""
        while not data.endswith(b"slow"):
            data += slow.recv(4096)
        assert time.perf_counter() - t0 >= 0.45


def test_close_before_response(httpserver: HTTPServer, conn: http.client.HTTPConnection) -> None:
    httpserver.expect_request("/c").with_fault(Fault.close())
    conn.request("GET", "/c")
    with pytest.raises(http.client.RemoteDisconnected):
        conn.getresponse()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(httpserver.url_for("/c"))
    assert httpserver.log[-1][0].path == "/c"


def test_reset(httpserver: HTTPServer, conn: http.client.HTTPConnection) -> None:
    httpserver.expect_request("/r").respond_with_data("never").with_fault(Fault.reset())
    conn.request("GET", "/r")
    with pytest.raises(ConnectionResetError):
        conn.getresponse()


def test_close_mid_body(httpserver: HTTPServer, conn: http.client.HTTPConnection) -> None:
    httpserver.expect_request("/m").respond_with_data(b"x" * 1000).with_fault(
        Fault.close_mid_body(100)
    )
    conn.request("GET", "/m")
    response = conn.getresponse()
    assert response.getheader("Content-Length") == "1000"
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert len(info.value.partial) == 100


def test_close_mid_body_streaming(httpserver: HTTPServer, conn: http.client.HTTPConnection) -> None:
    httpserver.expect_request("/s").respond_with_handler(
        lambda r: __import__("werkzeug").Response(iter([b"a" * 50, b"b" * 50]))
    ).with_fault(Fault.close_mid_body(10))
    conn.request("GET", "/s")
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_wrong_content_length(httpserver: HTTPServer, conn: http.client.HTTPConnection) -> None:
    httpserver.expect_request("/w").respond_with_data("short").with_fault(
        Fault.wrong_content_length(50)
    )
    conn.request("GET", "/w")
    response = conn.getresponse()
    assert response.getheader("Content-Length") == "50"
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert info.value.partial == b"short"


def test_drip_feed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/d").respond_with_data("abcdefghij").with_fault(Fault.drip(64, 0.01))
    t0 = time.perf_counter()
    response = requests.get(httpserver.url_for("/d"))
    assert response.text == "abcdefghij"
    assert time.perf_counter() - t0 >= 0.02  # head + body took several drips

    with socket.create_connection(("127.0.0.1", httpserver.port)) as sock:
        httpserver.expect_request("/e").respond_with_data("xyz").with_fault(Fault.drip(1, 0.0))
        sock.sendall(b"GET /e HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        reads = []
        data = b""
        while not data.endswith(b"xyz"):
            piece = sock.recv(1)
            reads.append(piece)
            data += piece
        assert all(len(piece) == 1 for piece in reads)


def test_malformed_status_line(httpserver: HTTPServer, conn: http.client.HTTPConnection) -> None:
    httpserver.expect_request("/s").respond_with_data("x").with_fault(Fault.malformed_status_line())
    conn.request("GET", "/s")
    with pytest.raises(http.client.BadStatusLine):
        conn.getresponse()


def test_malformed_headers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/h").respond_with_data("x").with_fault(Fault.malformed_headers())
    with socket.create_connection(("127.0.0.1", httpserver.port)) as sock:
        sock.sendall(b"GET /h HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nThis is not a header" in head
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_raw_bytes(httpserver: HTTPServer) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Raw: yes\r\n\r\nhi"
    httpserver.expect_request("/raw").with_fault(Fault.raw(raw))
    with socket.create_connection(("127.0.0.1", httpserver.port)) as sock:
        sock.sendall(b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data == raw
    response = requests.get(httpserver.url_for("/raw"))
    assert (response.text, response.headers["X-Raw"]) == ("hi", "yes")


def test_raw_keep_open(httpserver: HTTPServer, conn: http.client.HTTPConnection) -> None:
    httpserver.expect_oneshot_request("/a").with_fault(
        Fault.raw(b"HTTP/1.1 204 No Content\r\n\r\n", close=False)
    )
    httpserver.expect_oneshot_request("/b").respond_with_data("b")
    conn.request("GET", "/a")
    first = conn.getresponse()
    assert (first.status, first.read()) == (204, b"")
    conn.request("GET", "/b")
    assert conn.getresponse().read() == b"b"


def test_faults_combine(httpserver: HTTPServer) -> None:
    fault = Fault.delay(0.1) + Fault.wrong_content_length(3)
    assert (fault.delay_seconds, fault.content_length) == (0.1, 3)
    httpserver.expect_request("/x").respond_with_data("abc").with_fault(
        Fault.delay(0.1)
    ).with_fault(Fault.drip(1, 0))
    t0 = time.perf_counter()
    assert requests.get(httpserver.url_for("/x")).text == "abc"
    assert time.perf_counter() - t0 >= 0.1


@pytest.mark.parametrize(
    "make",
    [
        lambda: Fault.delay(-1),
        lambda: Fault.close_mid_body(-1),
        lambda: Fault.wrong_content_length(-1),
        lambda: Fault.drip(0, 1),
    ],
)
def test_fault_validation(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
