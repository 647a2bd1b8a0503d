"""Hostile peers (reliability checklist SV-01 ... SV-07, SV-10, SV-11): the server survives."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from werkzeug import Response

from hyperhttp.testing import HTTPServer, ServerLimits

from .wire import exchange, read_response, read_until_close, status_of


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    limits = ServerLimits(
        header_timeout=0.3,
        body_timeout=0.3,
        idle_timeout=0.5,
        write_timeout=0.5,
        max_body_size=1024 * 1024,
        tls_handshake_timeout=0.3,
    )
    with HTTPServer(host="127.0.0.1", limits=limits) as srv:
        srv.expect_request("/ok").respond_with_data("ok")
        srv.expect_request("/smuggled").respond_with_data("SMUGGLED")
        yield srv
        assert srv.log == [] or all(req.path != "/smuggled" for req, _ in srv.log)


def assert_rejected(server: HTTPServer, raw: bytes, status: int = 400) -> bytes:
    follow = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    t0 = time.perf_counter()
    response = exchange(server.port, raw + follow)
    assert time.perf_counter() - t0 < 2, "the server must close promptly"
    assert status_of(response) == status, response[:200]
    assert b"SMUGGLED" not in response
    assert response.count(b"HTTP/1.1 ") == 1
    assert b"Connection: close" in response
    return response


SMUGGLING = [
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\rHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX\x01A: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5_0\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40,  # a TLS ClientHello (SV-10)
    b"\x00GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\x0b\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x85\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x85chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n",
]


@pytest.mark.parametrize("raw", SMUGGLING, ids=range(len(SMUGGLING)))
def test_sv01_framing_attacks_get_400_and_close(server: HTTPServer, raw: bytes) -> None:
    assert_rejected(server, raw)
    assert server.rejections and server.rejections[-1][0] == 400
    assert requests.get(server.url_for("/ok")).text == "ok"  # still serving


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n",
        # absolute-form target whose authority disagrees with Host (RFC 9112 §3.2)
        b"GET http://a.test/ok HTTP/1.1\r\nHost: b.test\r\n\r\n",
        b"GET http://a.test:8080/ok HTTP/1.1\r\nHost: a.test\r\n\r\n",
        b"GET http://a.test/ok HTTP/1.1\r\nHost: a.test:8080\r\n\r\n",
        b"GET https://a.test/ok HTTP/1.1\r\nHost: a.test:80\r\n\r\n",
        b"GET http://user@a.test/ok HTTP/1.1\r\nHost: user@a.test\r\n\r\n",
        b"GET http://a.test/ok HTTP/1.1\r\nHost: \r\n\r\n",
        b"GET http://a.test/ok HTTP/1.0\r\nHost: b.test\r\n\r\n",
        b"GET HTTP://a.test/ok HTTP/1.1\r\nHost: b.test\r\n\r\n",
        b"GET http://a.test?q HTTP/1.1\r\nHost: b.test\r\n\r\n",
    ],
)
def test_sv02_host_header(server: HTTPServer, raw: bytes) -> None:
    assert_rejected(server, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET http://a.test/ok HTTP/1.1\r\nHost: a.test\r\n\r\n",
        b"GET http://A.Test/ok HTTP/1.1\r\nHost: a.TEST\r\n\r\n",
        b"GET http://a.test:80/ok HTTP/1.1\r\nHost: a.test\r\n\r\n",
        b"GET https://a.test/ok HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
        b"GET http://user:pw@a.test:8080/ok HTTP/1.1\r\nHost: a.test:8080\r\n\r\n",
        b"GET http://[::1]:8080/ok HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        b"GET http://a.test/ok HTTP/1.0\r\n\r\n",
    ],
)
def test_sv02_absolute_form_agreeing_with_host_is_served(server: HTTPServer, raw: bytes) -> None:
    response = exchange(server.port, raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert status_of(response) == 200, response[:200]


def test_sv03_oversized_inputs(server: HTTPServer) -> None:
    assert_rejected(server, b"GET /" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)
    assert_rejected(
        server, b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 1_000_000 + b"\r\n\r\n", 431
    )
    many = b"".join(b"X-%d: v\r\n" % i for i in range(10_000))
    assert_rejected(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n", 431)
    assert_rejected(
        server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000000000\r\n\r\n"
    )
    assert_rejected(
        server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"a" * 10, 413
    )
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"".join(b"10000\r\n" + b"a" * 0x10000 + b"\r\n" for _ in range(20))
    assert_rejected(server, chunked + body, 413)


def test_sv03_drip_fed_header_is_capped_across_fragments(server: HTTPServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX: ")
        for _ in range(100):  # 100 KB in 1 KB fragments; the cap is 64 KB
            try:
                sock.sendall(b"a" * 1000)
            except OSError:
                break
            time.sleep(0.001)
        assert status_of(read_until_close(sock)) == 431


def test_sv04_slow_headers_get_408_and_others_are_served(server: HTTPServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.perf_counter()
        for _ in range(3):  # keep dripping: the deadline runs from the first byte
            assert requests.get(server.url_for("/ok")).text == "ok"
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
            time.sleep(0.1)
        response = read_until_close(slow, timeout=3)
        assert status_of(response) == 408
        assert time.perf_counter() - t0 < 2


def test_sv04_slow_body_gets_408(server: HTTPServer) -> None:
    response = exchange(
        server.port, b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", timeout=3
    )
    assert status_of(response) == 408


def test_sv04_body_dripped_below_the_minimum_rate_gets_408() -> None:
    limits = ServerLimits(body_timeout=0.3, min_body_rate=100)
    with HTTPServer(host="127.0.0.1", limits=limits) as srv:
        srv.expect_request("/up").respond_with_data("never")
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n")
            t0 = time.perf_counter()
            for _ in range(30):  # 1 byte every 0.1 s: never idle for body_timeout
                try:
                    sock.sendall(b"a")
                except OSError:
                    break
                time.sleep(0.1)
                if time.perf_counter() - t0 > 1.5:
                    break
            response = read_until_close(sock, timeout=3)
        assert status_of(response) == 408
        assert srv.log == []


def test_sv04_idle_keepalive_is_closed(server: HTTPServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).endswith(b"ok")
        t0 = time.perf_counter()
        assert read_until_close(sock, timeout=3) == b""
        assert 0.3 < time.perf_counter() - t0 < 2.5


def test_sv04_client_that_never_reads_is_dropped(server: HTTPServer) -> None:
    server.expect_request("/big").respond_with_handler(
        lambda r: Response(iter([b"x" * 65536] * 2000))
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.2)  # > write_timeout: the server gives up on us
        assert requests.get(server.url_for("/ok"), timeout=2).text == "ok"
        received = read_until_close(sock, timeout=3)
        assert len(received) < 2000 * 65536


def test_sv05_many_idle_connections(server: HTTPServer) -> None:
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(500)]
    try:
        assert requests.get(server.url_for("/ok"), timeout=5).text == "ok"
    finally:
        for sock in sockets:
            sock.close()


def test_sv05_connection_cap() -> None:
    with HTTPServer(host="127.0.0.1", limits=ServerLimits(max_connections=5)) as server:
        server.expect_request("/ok").respond_with_data("ok")
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        try:
            for sock in held:  # make sure all five are registered
                sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_response(sock).endswith(b"ok")
            assert exchange(server.port, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2) == b""
        finally:
            for sock in held:
                sock.close()


def test_sv06_pipelined_valid_then_invalid(server: HTTPServer) -> None:
    data = exchange(
        server.port,
        b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
        b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.count(b"HTTP/1.1 400") == 1
    assert b"SMUGGLED" not in data
    assert data.index(b"200 OK") < data.index(b"400")


def test_sv06_thousand_pipelined_requests(server: HTTPServer) -> None:
    burst = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
    data = exchange(
        server.port, burst + b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert data.count(b"HTTP/1.1 200 OK") == 1001


@pytest.mark.parametrize(
    "response",
    [
        lambda: Response("x", headers={"X-Bad": "a\r\nSet-Cookie: evil=1"}),
        lambda: Response("x", status="200 OK\r\nSet-Cookie: evil=1"),
        lambda: Response("x", headers={"X-Nul": "a\x00b"}),
    ],
)
def test_sv07_response_splitting_is_refused(server: HTTPServer, response: object) -> None:
    def handler(request: object) -> Response:
        return response()  # type: ignore[operator, no-any-return]

    server.expect_request("/inject").respond_with_handler(handler)
    data = exchange(server.port, b"GET /inject HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(data) == 500
    assert b"evil" not in data
    assert server.handler_errors
    server.clear_handler_errors()


def test_sv08_escapes_and_crlf_in_the_path_stay_escaped(server: HTTPServer) -> None:
    server.expect_request("/known").respond_with_data("")
    target = b"/%1b[31mred%0d%0aX-Injected:%20yes"
    data = exchange(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2)
    for text in (data.decode("latin-1"), str(server.assertions[0])):
        assert "\x1b" not in text
        assert "\nX-Injected" not in text and "\rX-Injected" not in text
    bad = exchange(server.port, b"GET /\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2)
    assert status_of(bad) == 400
    assert all("\x1b" not in reason for _, reason, _ in server.rejections)
    server.clear_assertions()


def test_sv10_plain_http_to_tls_port_and_stalled_handshake() -> None:
    with HTTPServer(
        host="127.0.0.1", tls=True, limits=ServerLimits(tls_handshake_timeout=0.3)
    ) as server:
        t0 = time.perf_counter()
        data = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        assert not data.startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            assert read_until_close(sock, timeout=3) == b""  # handshake never started
        assert time.perf_counter() - t0 < 2.5
        server.expect_request("/ok").respond_with_data("ok")
        with requests.get(server.url_for("/ok"), verify=server.ca_file) as response:
            assert response.text == "ok"
        context = ssl.create_default_context()
        with (
            pytest.raises(ssl.SSLError),
            socket.create_connection(("127.0.0.1", server.port)) as raw,
            context.wrap_socket(raw, server_hostname="localhost"),
        ):
            pass  # our CA is not in the default trust store


def test_sv11_default_host_binds_loopback_only() -> None:
    with HTTPServer() as server:
        assert server.server is not None
        for sock in server.server.sockets:
            assert sock.getsockname()[0] in ("127.0.0.1", "::1")


EMFILE_CHILD = """
import os, resource, sys, time
from hyperhttp.testing import HTTPServer

server = HTTPServer(host="127.0.0.1")
server.start()
server.expect_request("/ok").respond_with_data("ok")
in_use = len(os.listdir("/proc/self/fd"))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 8, hard))
print(server.port, flush=True)
for line in sys.stdin:
    if line.strip() == "cpu":
        print(time.process_time(), flush=True)
    else:
        break
print(sum(isinstance(e, OSError) for e in server.handler_errors) > 0, flush=True)
server.stop()
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_sv05_fd_exhaustion_backs_off_and_recovers() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", EMFILE_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    flood: list[socket.socket] = []
    try:
        port = int(child.stdout.readline())
        flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        time.sleep(0.3)
        child.stdin.write("cpu\n")
        child.stdin.flush()
        before = float(child.stdout.readline())
        time.sleep(1.0)
        child.stdin.write("cpu\n")
        child.stdin.flush()
        after = float(child.stdout.readline())
        assert after - before < 0.5, "the accept loop must not spin on EMFILE"
        for sock in flood:
            sock.close()
        flood = []
        deadline = time.monotonic() + 10
        while True:  # the freed descriptors let the server accept again
            try:
                response = requests.get(f"http://127.0.0.1:{port}/ok", timeout=2)
                break
            except requests.exceptions.RequestException:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert response.text == "ok"
        child.stdin.write("done\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "True"  # EMFILE was seen and recorded
    finally:
        for sock in flood:
            sock.close()
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()
