"""Details where existing pytest-httpserver suites depend on exact behaviour."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from hyperhttp.testing import (
    BlockingHTTPServer,
    Garbage,
    HTTPServer,
    HTTPServerError,
    RequestMatcher,
)

from .wire import exchange, status_of


def test_respond_with_response_accepts_a_plain_string(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/s").respond_with_response('{"a": 1}')  # type: ignore[arg-type]
    assert requests.get(httpserver.url_for("/s")).json() == {"a": 1}


def test_garbage_negative_sizes_raise_assertion_and_value_errors() -> None:
    with pytest.raises(AssertionError, match="prefix_size should be positive integer"):
        Garbage(-1)
    with pytest.raises(ValueError, match="suffix_size should be positive integer"):
        Garbage(1, -1)


def test_fixture_server_repr(httpserver: HTTPServer) -> None:
    assert repr(httpserver) == f"<HTTPServer host={httpserver.host} port={httpserver.port}>"


def test_assert_request_made_lists_similar_requests_in_upstream_format(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/foo", method="POST").respond_with_data("OK")
    requests.get(httpserver.url_for("/foo?x=1"), headers={"X-A": "1"})
    with pytest.raises(AssertionError) as info:
        httpserver.assert_request_made(RequestMatcher("/foo", method="POST"))
    lines = [line.strip() for line in str(info.value).splitlines()]
    assert lines[:6] == [
        "Matching request found 0 times but expected 1 times.",
        "Expected request: <RequestMatcher uri='/foo' method='POST' query_string=None "
        "headers={} data=None json=<UNDEFINED>>",
        "Found 1 similar request(s):",
        "--- Similar Request Start",
        "Path: /foo",
        "Method: GET",
    ]
    assert "Query String: 'x=1'" in lines
    assert lines.index("--- Similar Request End") < lines.index(
        "Similar request 1 differs in: method"
    )


class FailingReadiness(HTTPServer):
    def wait_for_server_ready(self) -> None:
        raise HTTPServerError("not ready")


def test_readiness_hook_runs_on_every_start_and_failure_stops_the_server() -> None:
    server = HTTPServer(host="127.0.0.1", startup_timeout=5)
    for _ in range(2):
        server.start()
        assert server._readiness_check_pending is False
        with pytest.raises(HTTPServerError, match="already running"):
            server.start()
        server.stop()
    failing = FailingReadiness(host="127.0.0.1", startup_timeout=5)
    with pytest.raises(HTTPServerError, match="not ready"):
        failing.start()
    assert not failing.is_running()


def test_blocking_stop_waits_for_an_unanswered_request() -> None:
    server = BlockingHTTPServer(host="127.0.0.1", timeout=0.5)
    server.start()
    thread = threading.Thread(target=requests.get, args=(server.url_for("/waiting"),))
    thread.start()
    server.assert_request("/waiting", timeout=5)  # matched, but never answered
    t0 = time.perf_counter()
    server.stop()
    assert 0.2 < time.perf_counter() - t0 < 3
    thread.join(5)
    with pytest.raises(AssertionError, match="No response for request"):
        server.check_assertions()


def test_request_headers_are_the_ones_sent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/h").respond_with_data("ok")
    requests.get(httpserver.url_for("/h"))
    request, _ = httpserver.log[-1]
    assert "Content-Length" not in request.headers
    assert request.content_length is None
    response = exchange(
        httpserver.port,
        b"POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
    )
    assert status_of(response) == 200
    chunked, _ = httpserver.log[-1]
    assert chunked.get_data() == b"abc"
    assert "Content-Length" not in chunked.headers
    requests.post(httpserver.url_for("/h"), data=b"12345")
    sized, _ = httpserver.log[-1]
    assert (sized.headers["Content-Length"], sized.get_data()) == ("5", b"12345")
