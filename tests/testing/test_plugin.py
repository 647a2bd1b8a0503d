"""The pytest plugin and the pytest_httpserver compatibility package, through pytester."""

from __future__ import annotations

import importlib.util
import textwrap

import pytest
import requests  # imported here so inline pytester runs share one copy of it
import werkzeug

pytest_plugins = ["pytester"]
INNER = ("-p", "no:asyncio", "-p", "no:cacheprovider")
assert requests and werkzeug

compat_installed = pytest.mark.skipif(
    importlib.util.find_spec("pytest_httpserver") is None,
    reason="compat package not installed (make test installs it)",
)


def test_fixtures_and_state_cleared_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import requests
            from hyperhttp.testing import HTTPServer

            def test_one(httpserver: HTTPServer):
                httpserver.expect_request("/a").respond_with_data("a")
                httpserver.no_handler_status_code = 404
                assert requests.get(httpserver.url_for("/a")).text == "a"
                requests.get(httpserver.url_for("/nope"))

            def test_two_is_clean(httpserver: HTTPServer, make_httpserver: HTTPServer):
                assert httpserver is make_httpserver
                assert httpserver.log == [] and httpserver.assertions == []
                assert httpserver.no_handler_status_code == 500
                assert requests.get(httpserver.url_for("/a")).status_code == 500

            def test_stop_then_next_test_gets_a_running_server(httpserver):
                httpserver.stop()

            def test_running_again(httpserver):
                assert httpserver.is_running()

            def test_ssl_context_fixture_default(httpserver_ssl_context):
                assert httpserver_ssl_context is None
            """
        )
    )
    result = pytester.runpytest(*INNER)
    result.assert_outcomes(passed=5)


def test_listen_address_fixture_override(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture(scope="session")
            def httpserver_listen_address():
                return ("127.0.0.1", 0)
            """
        )
    )
    pytester.makepyfile(
        """
        def test_host(httpserver):
            assert httpserver.host == "127.0.0.1"
            assert httpserver.url_for("/").startswith("http://127.0.0.1:")
        """
    )
    pytester.runpytest(*INNER).assert_outcomes(passed=1)


def test_environment_variables(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PYTEST_HTTPSERVER_HOST", "127.0.0.1")
    monkeypatch.setenv("PYTEST_HTTPSERVER_PORT", str(port))
    pytester.makepyfile(
        f"""
        def test_env(httpserver, httpserver_listen_address):
            assert httpserver_listen_address == ("127.0.0.1", {port})
            assert (httpserver.host, httpserver.port) == ("127.0.0.1", {port})
        """
    )
    pytester.runpytest(*INNER).assert_outcomes(passed=1)


def test_tls_through_ssl_context_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest
            from hyperhttp.testing import default_certificates

            @pytest.fixture(scope="session")
            def httpserver_ssl_context():
                return default_certificates().server_ssl_context()
            """
        )
    )
    pytester.makepyfile(
        """
        import requests
        from hyperhttp.testing import default_certificates

        def test_https(httpserver):
            httpserver.expect_request("/").respond_with_data("tls")
            url = httpserver.url_for("/")
            assert url.startswith("https://")
            assert requests.get(url, verify=default_certificates().ca_file).text == "tls"
        """
    )
    pytester.runpytest(*INNER).assert_outcomes(passed=1)


UPSTREAM_STYLE_SUITE = """
import re
import threading

import pytest
import requests
from werkzeug import Response

from pytest_httpserver import BlockingHTTPServer, HeaderValueMatcher, HTTPServer, URIPattern
from pytest_httpserver.hooks import Chain, Delay, Garbage
from pytest_httpserver.httpserver import HandlerType, RequestMatcher, NoHandlerError


def test_json(httpserver: HTTPServer):
    httpserver.expect_request("/foobar").respond_with_json({"foo": "bar"})
    assert requests.get(httpserver.url_for("/foobar")).json() == {"foo": "bar"}


def test_ordered_and_check(httpserver: HTTPServer):
    httpserver.expect_ordered_request("/foobar").respond_with_data("OK foobar")
    httpserver.expect_ordered_request("/foobaz").respond_with_data("OK foobaz")
    assert requests.get(httpserver.url_for("/foobaz")).status_code == 500
    with pytest.raises(AssertionError):
        httpserver.check_assertions()


def test_matcher_log(httpserver: HTTPServer):
    httpserver.expect(RequestMatcher(re.compile("^/x"), method="POST"), HandlerType.ONESHOT)\\
        .respond_with_data("x")
    requests.post(httpserver.url_for("/xyz"), data="body")
    httpserver.assert_request_made(RequestMatcher("/xyz", data="body"))
    assert httpserver.get_matching_requests_count(RequestMatcher("/xyz")) == 1


def test_hooks(httpserver: HTTPServer):
    httpserver.expect_request("/h").respond_with_data("d").with_post_hook(
        Chain(Delay(0.01), Garbage(1, 1))
    )
    assert len(requests.get(httpserver.url_for("/h")).content) == 3


def test_bake(httpserver: HTTPServer):
    httpserver.bake(method="PUT").expect_request("/b").respond_with_data("b")
    assert requests.put(httpserver.url_for("/b")).text == "b"


def test_handler_errors(httpserver: HTTPServer):
    def broken(request):
        raise ValueError("bad")
    httpserver.expect_request("/e").respond_with_handler(broken)
    assert requests.get(httpserver.url_for("/e")).status_code == 500
    with pytest.raises(ValueError):
        httpserver.check_handler_errors()


def test_blocking():
    with BlockingHTTPServer(timeout=5) as server:
        out = []
        t = threading.Thread(target=lambda: out.append(requests.get(server.url_for("/b"))))
        t.start()
        server.assert_request("/b").respond_with_data("blocked")
        t.join()
        assert out[0].text == "blocked"


def test_context_manager():
    with HTTPServer() as server:
        server.expect_request("/").respond_with_response(Response("ok"))
        assert requests.get(server.url_for("/")).text == "ok"
"""


@compat_installed
def test_compat_package_runs_an_upstream_style_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_upstream_style=UPSTREAM_STYLE_SUITE)
    pytester.runpytest(*INNER).assert_outcomes(passed=8)


@compat_installed
def test_compat_plugin_module_can_be_named_explicitly(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["pytest_httpserver.pytest_plugin"]\n')
    pytester.makepyfile(
        """
        def test_it(httpserver):
            httpserver.expect_request("/").respond_with_data("x")
        """
    )
    pytester.runpytest(*INNER).assert_outcomes(passed=1)


def test_steps_aside_when_the_real_pytest_httpserver_is_installed(
    pytester: pytest.Pytester,
) -> None:
    package = pytester.mkpydir("pytest_httpserver")
    (package / "__init__.py").write_text('"""The real thing (simulated)."""\n')
    (package / "pytest_plugin.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef httpserver():\n    return 'upstream'\n"
    )
    pytester.makepyfile(
        """
        def test_fixture_is_upstreams(httpserver):
            assert httpserver == "upstream"

        def test_ours_are_not_registered(request):
            with __import__("pytest").raises(Exception):
                request.getfixturevalue("httpsserver")
        """
    )
    result = pytester.runpytest_subprocess(*INNER, "-p", "pytest_httpserver.pytest_plugin")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*pytest-httpserver is installed*hyperhttp's are disabled*"])
