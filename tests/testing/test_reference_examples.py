"""The examples of the pytest-httpserver documentation, run against hyperhttp.testing."""

from __future__ import annotations

import re
import threading

import pytest
import requests
from werkzeug import Response

from hyperhttp.testing import HeaderValueMatcher, HTTPServer, URIPattern


def test_json_client(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/foobar").respond_with_json({"foo": "bar"})
    assert requests.get(httpserver.url_for("/foobar")).json() == {"foo": "bar"}


def test_method_and_query(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/foobar", query_string="user=user1", method="GET").respond_with_data(
        "ok"
    )
    assert requests.get(httpserver.url_for("/foobar?user=user1")).text == "ok"
    assert requests.post(httpserver.url_for("/foobar?user=user1")).status_code == 500
    assert requests.get(httpserver.url_for("/foobar?user=user2")).status_code == 500


def test_query_dict_order_does_not_matter(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/foo", query_string={"user": "user1", "group": "group1"}
    ).respond_with_data("OK")
    assert requests.get(httpserver.url_for("/foo?user=user1&group=group1")).status_code == 200
    assert requests.get(httpserver.url_for("/foo?group=group1&user=user1")).status_code == 200


def test_regex_uri(httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile("^/foo"), method="GET").respond_with_data("x")
    assert requests.get(httpserver.url_for("/foobar")).status_code == 200
    assert requests.get(httpserver.url_for("/bar")).status_code == 500


def test_responses(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("Hello world!", content_type="text/plain")
    httpserver.expect_request("/b").respond_with_data(
        "Not found", status=404, content_type="text/plain"
    )
    httpserver.expect_request("/c").respond_with_response(Response("Hello world!"))

    def my_handler(request: object) -> Response:
        return Response("Hello handler!")

    httpserver.expect_request("/d").respond_with_handler(my_handler)
    a = requests.get(httpserver.url_for("/a"))
    assert (a.text, a.headers["Content-Type"]) == ("Hello world!", "text/plain")
    assert requests.get(httpserver.url_for("/b")).status_code == 404
    assert requests.get(httpserver.url_for("/c")).text == "Hello world!"
    assert requests.get(httpserver.url_for("/d")).text == "Hello handler!"


def test_ordered(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/foobar").respond_with_data("OK foobar")
    httpserver.expect_ordered_request("/foobaz").respond_with_data("OK foobaz")
    assert requests.get(httpserver.url_for("/foobar")).text == "OK foobar"
    assert requests.get(httpserver.url_for("/foobaz")).text == "OK foobaz"
    httpserver.check_assertions()


def test_ordered_wrong_order_fails(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/foobar").respond_with_data("OK foobar")
    httpserver.expect_ordered_request("/foobaz").respond_with_data("OK foobaz")
    assert requests.get(httpserver.url_for("/foobaz")).status_code == 500
    assert requests.get(httpserver.url_for("/foobar")).status_code == 500  # permanent failure
    with pytest.raises(AssertionError):
        httpserver.check_assertions()
    with pytest.raises(AssertionError, match="permanently failed"):
        httpserver.check_assertions()


def test_oneshot(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/foobar").respond_with_data("OK")
    assert requests.get(httpserver.url_for("/foobar")).status_code == 200
    assert requests.get(httpserver.url_for("/foobar")).status_code == 500
    with pytest.raises(AssertionError, match="No handler found for request"):
        httpserver.check_assertions()


def test_log(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/foobar").respond_with_json({"foo": "bar"})
    requests.get(httpserver.url_for("/foo"))
    requests.get(httpserver.url_for("/foobar"))
    assert [(req.path, resp.status_code) for req, resp in httpserver.log] == [
        ("/foo", 500),
        ("/foobar", 200),
    ]
    assert httpserver.assertions
    with pytest.raises(AssertionError):
        httpserver.check_assertions()


class PrefixMatch(URIPattern):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def match(self, uri: str) -> bool:
        return uri.startswith(self.prefix)


def test_uripattern_object(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PrefixMatch("/foo")).respond_with_json({"foo": "bar"})
    assert requests.get(httpserver.url_for("/foo/x")).json() == {"foo": "bar"}
    assert requests.get(httpserver.url_for("/bar")).status_code == 500


DIGEST = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
DIGEST_REORDERED = (
    'Digest qop=auth, username="Mufasa", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
    'uri="/dir/index.html", nc=00000001, realm="testrealm@host.com", '
    'response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_authorization_headers(httpserver: HTTPServer) -> None:
    httpserver.expect_request(uri="/", headers={"Authorization": DIGEST}).respond_with_data("OK")
    for value in (DIGEST, DIGEST_REORDERED):
        response = requests.get(httpserver.url_for("/"), headers={"Authorization": value})
        assert (response.status_code, response.text) == (200, "OK")


def test_json_matcher(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/foo", json={"foo": "bar"}).respond_with_data("Hello world!")
    resp = requests.get(httpserver.url_for("/foo"), json={"foo": "bar"})
    assert (resp.status_code, resp.text) == (200, "Hello world!")
    assert requests.get(httpserver.url_for("/foo"), data=b"{not json").status_code == 500


def test_json_and_data_are_exclusive(httpserver: HTTPServer) -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        httpserver.expect_request("/foo", json={"a": 1}, data="x")


def case_insensitive_matcher(header_name: str, actual: str | None, expected: str) -> bool:
    if header_name == "X-Foo":
        return (actual or "").lower() == expected.lower()
    return actual == expected


def test_case_insensitive_matching(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/", header_value_matcher=case_insensitive_matcher, headers={"X-Foo": "bar"}
    ).respond_with_data("OK")
    for value in ("bar", "BAR"):
        assert requests.get(httpserver.url_for("/"), headers={"X-Foo": value}).status_code == 200


def test_default_matchers_can_be_extended(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def compare(actual: str | None, expected: str) -> bool:
        return (actual or "").lower() == expected.lower()

    monkeypatch.setitem(HeaderValueMatcher.DEFAULT_MATCHERS, "X-Foo", compare)
    httpserver.expect_request("/", headers={"X-Foo": "bar"}).respond_with_data("OK")
    assert requests.get(httpserver.url_for("/"), headers={"X-Foo": "BAR"}).status_code == 200


def test_own_matcher_object(httpserver: HTTPServer) -> None:
    def compare(actual: str | None, expected: str) -> bool:
        return (actual or "").lower() == expected.lower()

    matcher = HeaderValueMatcher({"X-Bar": compare})
    httpserver.expect_request(
        "/", headers={"X-Bar": "bar"}, header_value_matcher=matcher
    ).respond_with_data("OK")
    assert requests.get(httpserver.url_for("/"), headers={"X-Bar": "BAR"}).status_code == 200


def test_wait_success(httpserver: HTTPServer) -> None:
    waiting_timeout = 1
    with httpserver.wait(stop_on_nohandler=False, timeout=waiting_timeout) as waiting:
        requests.get(httpserver.url_for("/foobar"))
        httpserver.expect_oneshot_request("/foobar").respond_with_data("OK foobar")
        requests.get(httpserver.url_for("/foobar"))
    assert waiting.result
    httpserver.clear_assertions()

    httpserver.expect_oneshot_request("/foobar").respond_with_data("OK foobar")
    httpserver.expect_oneshot_request("/foobaz").respond_with_data("OK foobaz")
    with httpserver.wait(timeout=waiting_timeout) as waiting:
        thread = threading.Thread(target=requests.get, args=(httpserver.url_for("/foobar"),))
        thread.start()
        requests.get(httpserver.url_for("/foobaz"))
        thread.join()
    assert waiting.result
    assert waiting.elapsed_time < waiting_timeout


def test_wait_timeout_raises(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/never").respond_with_data("x")
    with pytest.raises(AssertionError, match="Wait timeout occurred"):  # noqa: SIM117
        with httpserver.wait(timeout=0.05):
            pass
    with httpserver.wait(timeout=0.05, raise_assertions=False) as waiting:
        pass
    assert not waiting.result


def test_wait_stops_on_nohandler(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/a").respond_with_data("x")
    with httpserver.wait(raise_assertions=False, timeout=5) as waiting:
        requests.get(httpserver.url_for("/unexpected"))
    assert not waiting.result
    assert waiting.elapsed_time < 1


def test_emulating_timeout(httpserver: HTTPServer) -> None:
    released = threading.Event()

    def sleeping(request: object) -> None:
        released.wait(5)

    httpserver.expect_request("/baz").respond_with_handler(sleeping)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(httpserver.url_for("/baz"), timeout=0.2)
    released.set()


def test_connection_refused_after_stop(httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/foo")
    httpserver.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=2)
    # the fixture starts it again for the next test
