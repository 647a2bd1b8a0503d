"""The HTTPServer API items, one by one (pytest-httpserver 1.2 behaviour)."""

from __future__ import annotations

import threading
import time
import urllib.parse

import pytest
import requests
from werkzeug import Request, Response
from werkzeug.datastructures import MultiDict

from hyperhttp.testing import (
    DEFAULT_LISTEN_HOST,
    DEFAULT_LISTEN_PORT,
    METHOD_ALL,
    BlockingHTTPServer,
    BooleanQueryMatcher,
    Chain,
    Delay,
    Garbage,
    HandlerType,
    HTTPServer,
    HTTPServerError,
    MappingQueryMatcher,
    NoHandlerError,
    RequestMatcher,
    StringQueryMatcher,
    WaitingSettings,
    bake,
)


def make_request(path: str = "/", query: str = "", method: str = "GET", **kw: object) -> Request:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, query_string=query, method=method, **kw)  # type: ignore[arg-type]
    return builder.get_request()


def test_defaults() -> None:
    assert (DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT) == ("localhost", 0)
    assert (HTTPServer.DEFAULT_LISTEN_HOST, HTTPServer.DEFAULT_LISTEN_PORT) == ("localhost", 0)
    server = HTTPServer()
    assert repr(server) == "<HTTPServer host=localhost port=0>"
    assert not server.is_running()
    assert server.no_handler_status_code == 500


def test_start_stop_context_manager_and_errors() -> None:
    server = HTTPServer(host="127.0.0.1")
    with pytest.raises(HTTPServerError):
        server.stop()
    with server:
        assert server.is_running()
        assert server.port != 0
        with pytest.raises(HTTPServerError, match="already running"):
            server.start()
        server.expect_request("/x").respond_with_data("x")
        assert requests.get(server.url_for("x")).text == "x"
    assert not server.is_running()


def test_start_and_stop_take_milliseconds() -> None:
    server = HTTPServer(host="127.0.0.1")
    for _ in range(5):
        t0 = time.perf_counter()
        server.start()
        t1 = time.perf_counter()
        server.stop()
        t2 = time.perf_counter()
        assert t1 - t0 < 0.2
        assert t2 - t1 < 0.2


def test_stop_does_not_wait_for_a_slow_handler() -> None:
    release = threading.Event()
    server = HTTPServer(host="127.0.0.1")
    server.start()
    server.expect_request("/slow").respond_with_handler(lambda r: release.wait(5) and "late")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(server.url_for("/slow"), timeout=5)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.1)
    t0 = time.perf_counter()
    server.stop()
    assert time.perf_counter() - t0 < 0.5
    thread.join(5)
    release.set()
    assert errors and isinstance(errors[0], requests.exceptions.ConnectionError)


def test_startup_timeout_readiness_check_does_not_log() -> None:
    with HTTPServer(host="127.0.0.1", startup_timeout=2) as server:
        assert server.is_running()
        assert server.log == []


def test_url_for() -> None:
    server = HTTPServer(host="::1", port=1234)
    assert server.url_for("/a") == "http://[::1]:1234/a"
    assert server.url_for("a") == "http://[::1]:1234/a"
    assert HTTPServer(host="127.0.0.1", port=5).url_for("/") == "http://127.0.0.1:5/"


def test_expect_with_matcher_and_handler_types(httpserver: HTTPServer) -> None:
    httpserver.expect(RequestMatcher("/p"), HandlerType.PERMANENT).respond_with_data("p")
    httpserver.expect(RequestMatcher("/o"), HandlerType.ONESHOT).respond_with_data("o")
    assert requests.get(httpserver.url_for("/o")).text == "o"
    assert requests.get(httpserver.url_for("/o")).status_code == 500
    assert requests.get(httpserver.url_for("/p")).text == "p"
    assert requests.get(httpserver.url_for("/p")).text == "p"


def test_priority_ordered_then_oneshot_then_permanent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("permanent")
    httpserver.expect_oneshot_request("/x").respond_with_data("oneshot")
    httpserver.expect_ordered_request("/x").respond_with_data("ordered")
    got = [requests.get(httpserver.url_for("/x")).text for _ in range(3)]
    assert got == ["ordered", "oneshot", "permanent"]


def test_methods_are_case_insensitive(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/m", method="post").respond_with_data("ok")
    assert requests.post(httpserver.url_for("/m")).text == "ok"
    assert requests.get(httpserver.url_for("/m")).status_code == 500
    assert RequestMatcher("/", method="get").method == "GET"
    assert RequestMatcher("/").method == METHOD_ALL


@pytest.mark.parametrize(
    ("expected", "query", "matches"),
    [
        ("a=1&b=2", "a=1&b=2", True),
        (b"a=1&b=2", "a=1&b=2", True),
        ("a=1&b=2", "b=2&a=1", False),
        ({"a": "1", "b": "2"}, "b=2&a=1", True),
        ({"a": "1"}, "a=1&a=2", True),  # first value per key
        (MultiDict([("a", "1"), ("a", "2")]), "a=1&a=2", True),
        (MultiDict([("a", "1")]), "a=1&a=2", False),
        ({"a": ""}, "a=", True),  # 1.2: blank values count
        ({"a": ""}, "a", True),
        ({}, "a=", False),
        (BooleanQueryMatcher(False), "", False),
        (BooleanQueryMatcher(True), "x=y", True),
        (StringQueryMatcher("q=%20"), "q=%20", True),
        (MappingQueryMatcher({"q": " "}), "q=%20", True),
    ],
)
def test_query_matching(expected: object, query: str, matches: bool) -> None:
    matcher = RequestMatcher("/", query_string=expected)  # type: ignore[arg-type]
    assert matcher.match(make_request("/", query)) is matches


def test_query_string_type_error() -> None:
    with pytest.raises(TypeError):
        RequestMatcher("/", query_string=12)  # type: ignore[arg-type]


def test_matcher_difference_and_parts() -> None:
    matcher = RequestMatcher(
        "/a", method="POST", query_string="x=1", headers={"X-A": "1"}, data="body"
    )
    request = make_request("/b", "x=2", "GET", headers={"X-A": "2"}, data=b"other")
    fields = {name: (got, want) for name, got, want in matcher.difference(request)}
    assert fields == {
        "uri": ("/b", "/a"),
        "method": ("GET", "POST"),
        "query_string": (b"x=2", "x=1"),
        "headers": ({"X-A": "2"}, {"X-A": "1"}),
        "data": (b"other", b"body"),
    }
    assert not matcher.match_data(request)
    assert matcher.match_json(request)  # no json expectation
    assert RequestMatcher("/", json=[1]).match_json(make_request(data=b"[1]"))
    assert not RequestMatcher("/", json=[1]).match_json(make_request(data=b"\xff"))
    assert RequestMatcher("/", data="é", data_encoding="latin-1").data == b"\xe9"


def test_matcher_repr() -> None:
    assert repr(RequestMatcher("/a", method="GET")) == (
        "<RequestMatcher uri='/a' method='GET' query_string=None headers={} data=None "
        "json=<UNDEFINED>>"
    )


def test_handler_errors_and_check(httpserver: HTTPServer) -> None:
    def broken(request: Request) -> Response:
        raise KeyError("boom")

    httpserver.expect_request("/e").respond_with_handler(broken)
    response = requests.get(httpserver.url_for("/e"))
    assert response.status_code == 500
    assert "KeyError" in response.text
    assert len(httpserver.handler_errors) == 1
    assert httpserver.log[-1][1].status_code == 500
    with pytest.raises(KeyError):
        httpserver.check()
    httpserver.check()  # consumed


def test_handler_assertion_is_recorded(httpserver: HTTPServer) -> None:
    def asserting(request: Request) -> Response:
        raise AssertionError("wrong body")

    httpserver.expect_request("/a").respond_with_handler(asserting)
    assert requests.get(httpserver.url_for("/a")).status_code == 500
    with pytest.raises(AssertionError, match="wrong body"):
        httpserver.check_assertions()


def test_expectation_without_response_raises_nohandlererror(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/nothing")
    assert requests.get(httpserver.url_for("/nothing")).status_code == 500
    with pytest.raises(NoHandlerError, match="no response defined"):
        httpserver.check_handler_errors()


def test_handler_may_return_str_bytes_or_none(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/s").respond_with_handler(lambda r: "text")
    httpserver.expect_request("/b").respond_with_handler(lambda r: b"bytes")
    httpserver.expect_request("/n").respond_with_handler(lambda r: None)
    assert requests.get(httpserver.url_for("/s")).text == "text"
    assert requests.get(httpserver.url_for("/b")).text == "bytes"
    none = requests.get(httpserver.url_for("/n"))
    assert (none.status_code, none.text) == (200, "")


def test_no_handler_status_code(httpserver: HTTPServer) -> None:
    httpserver.no_handler_status_code = 404
    assert requests.get(httpserver.url_for("/nope")).status_code == 404
    httpserver.clear()
    assert httpserver.no_handler_status_code == 500


def test_add_assertion_and_clear(httpserver: HTTPServer) -> None:
    httpserver.add_assertion("first")
    httpserver.add_assertion(AssertionError("second"))
    with pytest.raises(AssertionError, match="first"):
        httpserver.check_assertions()
    httpserver.clear_assertions()
    httpserver.check_assertions()
    httpserver.handler_errors.append(ValueError())
    httpserver.clear_handler_errors()
    httpserver.check_handler_errors()
    httpserver.expect_request("/x").respond_with_data("x")
    requests.get(httpserver.url_for("/x"))
    httpserver.clear_log()
    assert httpserver.log == []
    httpserver.clear_all_handlers()
    assert requests.get(httpserver.url_for("/x")).status_code == 500


def test_log_queries(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("x")
    requests.get(httpserver.url_for("/x?a=1"))
    requests.post(httpserver.url_for("/x"), data=b"hello")
    matcher = RequestMatcher("/x", method="POST")
    assert httpserver.get_matching_requests_count(matcher) == 1
    [(request, response)] = list(httpserver.iter_matching_requests(matcher))
    assert (request.get_data(), response.status_code) == (b"hello", 200)
    httpserver.assert_request_made(matcher)
    httpserver.assert_request_made(RequestMatcher("/x"), count=2)
    httpserver.assert_request_made(RequestMatcher("/y"), count=0)
    with pytest.raises(AssertionError, match="Matching request found 1 times but expected 2"):
        httpserver.assert_request_made(matcher, count=2)
    with pytest.raises(AssertionError, match="No similar requests found"):
        httpserver.assert_request_made(RequestMatcher("/zzz"))


def test_format_matchers(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/o")
    httpserver.expect_request("/p", method="GET")
    text = httpserver.format_matchers()
    assert text.splitlines()[0] == "Ordered matchers:"
    assert "Oneshot matchers:\n    none" in text
    assert "Persistent matchers:\n    <RequestMatcher uri='/p' method='GET'" in text


def test_respond_nohandler_and_permanent_failure(httpserver: HTTPServer) -> None:
    request = make_request("/q")
    response = httpserver.respond_nohandler(request, "extra")
    assert response.status_code == 500
    assert response.get_data(as_text=True).startswith("No handler found for request")
    assert response.get_data(as_text=True).endswith("extra")
    failure = httpserver.respond_permanent_failure()
    assert failure.status_code == 500
    assert len(httpserver.assertions) == 2


def test_no_handler_response_names_closest_expectation(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/users", method="POST", json={"name": "a"}).respond_with_data("")
    httpserver.expect_request("/other", headers={"X-Token": "t"}).respond_with_data("")
    text = requests.post(httpserver.url_for("/users?page=2"), json={"name": "b"}).text
    report = text.split("Closest expectations", 1)[1]
    first = report.split("  2.", 1)[0]
    assert "uri='/users'" in first
    assert "json body: expected {'name': 'a'}, got b'{\"name\": \"b\"}'" in first
    assert "path:" not in first
    assert "header X-Token: expected 't', got None" in report
    assert "Closest expectations" in str(httpserver.assertions[0])


def test_no_handler_without_expectations(httpserver: HTTPServer) -> None:
    assert "No expectations are registered" in requests.get(httpserver.url_for("/")).text


def test_hooks(httpserver: HTTPServer) -> None:
    def suffix(request: Request, response: Response) -> Response:
        response.set_data(response.get_data() + b"!")
        return response

    httpserver.expect_request("/chain").respond_with_data("hi").with_post_hook(
        Chain(suffix, suffix)
    )
    assert requests.get(httpserver.url_for("/chain")).text == "hi!!"
    httpserver.expect_request("/delay").respond_with_data("d").with_post_hook(Delay(0.2))
    t0 = time.perf_counter()
    assert requests.get(httpserver.url_for("/delay")).text == "d"
    assert time.perf_counter() - t0 >= 0.2
    httpserver.expect_request("/garbage").respond_with_data("body").with_post_hook(
        Garbage(prefix_size=3, suffix_size=5)
    )
    data = requests.get(httpserver.url_for("/garbage")).content
    assert len(data) == 12 and data[3:7] == b"body"
    with pytest.raises(ValueError):
        Garbage(prefix_size=-1)


def test_bake(httpserver: HTTPServer) -> None:
    baked = httpserver.bake(method="POST", headers={"X-A": "1"})
    baked.expect_request("/b").respond_with_data("baked")
    assert requests.post(httpserver.url_for("/b"), headers={"X-A": "1"}).text == "baked"
    assert requests.get(httpserver.url_for("/b"), headers={"X-A": "1"}).status_code == 500
    baked.bake(method="GET").expect_oneshot_request("/g").respond_with_data("g")
    assert requests.get(httpserver.url_for("/g"), headers={"X-A": "1"}).text == "g"
    bake(httpserver, method="PUT").expect_ordered_request("/p").respond_with_data("p")
    assert requests.put(httpserver.url_for("/p")).text == "p"
    assert baked.url_for("/x") == httpserver.url_for("/x")
    assert "defaults=" in repr(baked)


def test_bake_context_manager_starts_and_stops() -> None:
    server = HTTPServer(host="127.0.0.1")
    with server.bake(method="GET") as baked:
        assert server.is_running()
        baked.expect_request("/").respond_with_data("ok")
        assert requests.get(server.url_for("/")).text == "ok"
    assert not server.is_running()


def test_blocking_httpserver() -> None:
    with BlockingHTTPServer(host="127.0.0.1", timeout=5) as server:
        results: list[requests.Response] = []
        thread = threading.Thread(
            target=lambda: results.append(requests.get(server.url_for("/b?x=1"), timeout=5))
        )
        thread.start()
        server.assert_request("/b", query_string="x=1", timeout=5).respond_with_json({"ok": 1})
        thread.join(5)
        assert results[0].json() == {"ok": 1}

        thread = threading.Thread(
            target=lambda: results.append(requests.get(server.url_for("/c"), timeout=5))
        )
        thread.start()
        with pytest.raises(AssertionError, match="does not match"):
            server.assert_request("/other", timeout=5)
        thread.join(5)
        assert results[1].status_code == 500
        with pytest.raises(AssertionError, match="timed out"):
            server.assert_request("/none", timeout=0.05)


def test_waiting_settings_defaults() -> None:
    settings = WaitingSettings()
    assert (settings.raise_assertions, settings.stop_on_nohandler, settings.timeout) == (
        True,
        True,
        5,
    )
    server = HTTPServer(default_waiting_settings=WaitingSettings(timeout=0.01))
    with server.wait(raise_assertions=False) as waiting:
        pass
    assert waiting.result is False


def test_threaded_is_accepted_and_connections_are_concurrent() -> None:
    gate = threading.Barrier(3, timeout=5)

    def meet(request: Request) -> str:
        gate.wait()
        return "met"

    with HTTPServer(host="127.0.0.1", threaded=False) as server:
        server.expect_request("/meet").respond_with_handler(meet)
        results: list[str] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(requests.get(server.url_for("/meet")).text)
            )
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert results == ["met"] * 3


def test_request_object_details(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/d").respond_with_data("ok")
    requests.post(
        httpserver.url_for("/d/../d?q=%C3%A9&x"),
        data=b"payload",
        headers={"X-Multi": "a", "Content-Type": "text/plain"},
    )
    request, _ = httpserver.log[-1]
    assert request.path == "/d"
    assert request.args.get("q") == "é"
    assert request.query_string == b"q=%C3%A9&x"
    assert request.headers["X-Multi"] == "a"
    assert request.content_type == "text/plain"
    assert request.get_data() == b"payload"
    assert urllib.parse.urlsplit(request.url).path == "/d"


def test_start_stop_cycles_leak_no_threads_or_descriptors() -> None:
    import os

    def fds() -> int:
        return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0

    server = HTTPServer(host="127.0.0.1")
    server.start()
    server.stop()
    time.sleep(0.05)
    threads_before, fds_before = threading.active_count(), fds()
    for _ in range(30):
        with HTTPServer(host="127.0.0.1") as cycle:
            cycle.expect_request("/x").respond_with_handler(lambda r: "x")  # uses a worker
            assert requests.get(cycle.url_for("/x")).text == "x"
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before
    assert fds() <= fds_before


def test_thread_target_can_be_wrapped() -> None:
    calls: list[str] = []

    class Wrapped(HTTPServer):
        def thread_target(self) -> None:
            calls.append(threading.current_thread().name)
            super().thread_target()
            calls.append("done")

    with Wrapped(host="127.0.0.1") as server:
        server.expect_request("/").respond_with_data("wrapped")
        assert requests.get(server.url_for("/")).text == "wrapped"
    assert calls == ["hyperhttp-testing", "done"]
    with pytest.raises(HTTPServerError):
        HTTPServer().thread_target()
