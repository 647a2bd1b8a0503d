"""The test server's HTTP/2 side driven by independent clients from Debian's nghttp2 and curl.

curl (libcurl + nghttp2) by prior knowledge and by ALPN, ``nghttp`` (the nghttp2 client,
strict about the protocol) and ``h2load`` (many streams on several connections at once,
the load generator the checklist names for SV-09). Each test skips when its tool is not
installed; ``make test`` installs them on Debian (see the Makefile's ``system-deps``).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from hyperhttp.testing import HTTPServer

CURL = shutil.which("curl")
NGHTTP = shutil.which("nghttp")
H2LOAD = shutil.which("h2load")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def curl_speaks_http2() -> bool:
    if CURL is None:
        return False
    return "HTTP2" in run(CURL, "--version").stdout


@pytest.fixture
def h2server() -> HTTPServer:
    with HTTPServer(http2=True) as server:
        yield server  # type: ignore[misc]


@pytest.mark.skipif(not curl_speaks_http2(), reason="curl without HTTP/2 support")
def test_curl_prior_knowledge_and_alpn() -> None:
    assert CURL is not None
    with HTTPServer(http2=True) as server:
        server.expect_request("/h", method="POST").respond_with_handler(
            lambda r: f"{r.method} {len(r.get_data())}"
        )
        url = server.url_for("/h")
        body = "x" * 100_000  # larger than the default 64 KiB window
        result = run(
            CURL,
            "-sS",
            "--http2-prior-knowledge",
            "--data-binary",
            body,
            "-w",
            " %{http_version}",
            url,
        )
        assert result.stdout == "POST 100000 2", result.stderr
    with HTTPServer(http2=True, tls=True) as server:
        server.expect_request("/s").respond_with_data("secure")
        result = run(
            CURL,
            "-sS",
            "--http2",
            "--cacert",
            server.ca_file,
            "-w",
            " %{http_version}",
            server.url_for("/s"),
        )
        assert result.stdout == "secure 2", result.stderr


@pytest.mark.skipif(NGHTTP is None, reason="nghttp (nghttp2-client) not installed")
def test_nghttp_sees_a_clean_exchange(h2server: HTTPServer) -> None:
    assert NGHTTP is not None
    h2server.expect_request("/a").respond_with_json({"a": 1})
    h2server.expect_request("/b").respond_with_data("b" * 70_000)
    # -n: discard bodies; -v prints every frame; -m 3: each URI three times, concurrently.
    result = run(NGHTTP, "-nv", "-m", "3", h2server.url_for("/a"), h2server.url_for("/b"))
    assert result.returncode == 0, result.stderr
    frames = result.stdout
    assert len(re.findall(r"recv \(stream_id=\d+\) :status: 200", frames)) == 6
    assert "recv GOAWAY" not in frames  # the server never gave up on the connection
    assert "RST_STREAM" not in frames  # in neither direction
    assert "_ERROR" not in frames.replace("NO_ERROR", "")


@pytest.mark.skipif(H2LOAD is None, reason="h2load (nghttp2-client) not installed")
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-alpn"])
def test_h2load_many_streams_all_succeed(tls: bool) -> None:
    assert H2LOAD is not None
    with HTTPServer(http2=True, tls=tls) as server:
        server.expect_request("/load").respond_with_data("ok")
        # 2,000 requests over 4 connections, 50 concurrent streams on each.
        result = run(H2LOAD, "-n", "2000", "-c", "4", "-m", "50", server.url_for("/load"))
        assert result.returncode == 0, result.stderr
        assert "2000 succeeded, 0 failed, 0 errored" in result.stdout, result.stdout
        assert "status codes: 2000 2xx" in result.stdout, result.stdout
        assert len(server.log) == 2000
