"""curl as an independent client (skipped when curl is not installed)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from werkzeug import Request

from hyperhttp.testing import HTTPServer

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl not installed")


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "--silent", "--show-error", "--max-time", "10", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_curl_get_post_and_reuse(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/j").respond_with_json({"ok": True})
    httpserver.expect_request("/p", method="POST").respond_with_handler(
        lambda r: f"{len(r.get_data())} bytes"
    )
    url = httpserver.url_for("/j")
    result = curl("--verbose", url, url)  # two requests, one connection
    assert result.stdout.count('"ok": true') == 2
    assert "Re-using existing connection" in result.stderr or "Reusing" in result.stderr
    big = "x" * 5000
    expect = ("-H", "Expect: 100-continue")  # curl waits for our 100 Continue
    posted = curl("-X", "POST", *expect, "--data-binary", big, httpserver.url_for("/p"))
    assert posted.stdout == "5000 bytes"
    request: Request = httpserver.log[-1][0]
    assert request.headers.get("Expect") == "100-continue"


def test_curl_http10_and_head(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("body")
    assert curl("--http1.0", httpserver.url_for("/x")).stdout == "body"
    head = curl("--head", httpserver.url_for("/x"))
    assert head.stdout.startswith("HTTP/1.1 200") and "Content-Length: 4" in head.stdout


def test_curl_over_tls() -> None:
    with HTTPServer(tls=True) as server:
        server.expect_request("/s").respond_with_data("secure")
        assert curl("--cacert", server.ca_file, server.url_for("/s")).stdout == "secure"
        assert curl(server.url_for("/s")).returncode != 0  # unknown CA


def test_curl_sees_faults(httpserver: HTTPServer) -> None:
    from hyperhttp.testing import Fault

    httpserver.expect_request("/reset").with_fault(Fault.reset())
    httpserver.expect_request("/cut").respond_with_data(b"x" * 100).with_fault(
        Fault.close_mid_body(10)
    )
    assert curl(httpserver.url_for("/reset")).returncode == 56  # recv failure
    assert curl(httpserver.url_for("/cut")).returncode == 18  # partial file


def test_curl_http2_upgrade_attempt_gets_http11(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/u").respond_with_data("plain")
    result = curl("--http2", "--verbose", httpserver.url_for("/u"), httpserver.url_for("/u"))
    assert result.stdout == "plainplain"
    assert "Upgrade: h2c" in result.stderr  # curl asked; we answered in HTTP/1.1
    assert "< HTTP/1.1 200" in result.stderr
