"""The pytest fixtures (registered by :mod:`hyperhttp.testing.pytest_plugin`)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Generator

import pytest

from ._httpserver import HTTPServer

__all__ = [
    "get_httpserver_listen_address",
    "httpserver",
    "httpserver_ipv4",
    "httpserver_ipv6",
    "httpserver_listen_address",
    "httpserver_ssl_context",
    "httpsserver",
    "make_httpserver",
    "make_httpserver_ipv4",
    "make_httpserver_ipv6",
    "make_httpsserver",
]


class PluginHTTPServer(HTTPServer):
    """Kept for imports from ``pytest_httpserver.pytest_plugin``; the fixtures use HTTPServer."""


_running: list[HTTPServer] = []


def get_httpserver_listen_address() -> tuple[str | None, int | None]:
    """Host and port from ``PYTEST_HTTPSERVER_HOST`` / ``PYTEST_HTTPSERVER_PORT`` (or None)."""
    host = os.environ.get("PYTEST_HTTPSERVER_HOST") or None
    port_text = os.environ.get("PYTEST_HTTPSERVER_PORT")
    return host, int(port_text) if port_text else None


def _session_server(server: HTTPServer) -> Generator[HTTPServer, None, None]:
    server.start()
    _running.append(server)
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()
        _running.remove(server)


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str | None, int | None]:
    """Where the session server listens; override it (session scope) to pin host/port."""
    return get_httpserver_listen_address()


@pytest.fixture(scope="session")
def httpserver_ssl_context() -> ssl.SSLContext | None:
    """Server-side SSLContext for ``httpserver``; None serves plain HTTP. Override to use TLS."""
    return None


@pytest.fixture(scope="session")
def make_httpserver(
    httpserver_listen_address: tuple[str | None, int | None],
    httpserver_ssl_context: ssl.SSLContext | None,
) -> Generator[HTTPServer, None, None]:
    """The session-wide server behind ``httpserver`` (started once, stopped at the end)."""
    host, port = httpserver_listen_address
    server = HTTPServer(
        host=host or HTTPServer.DEFAULT_LISTEN_HOST,
        port=port or HTTPServer.DEFAULT_LISTEN_PORT,
        ssl_context=httpserver_ssl_context,
    )
    yield from _session_server(server)


@pytest.fixture
def httpserver(make_httpserver: HTTPServer) -> HTTPServer:
    """The test server, with a clean state (no expectations, empty log) for every test.

    If a previous test stopped it, it is started again.
    """
    server = make_httpserver
    server.clear()
    if not server.is_running():
        server.start()
    return server


@pytest.fixture(scope="session")
def make_httpserver_ipv4(
    httpserver_ssl_context: ssl.SSLContext | None,
) -> Generator[HTTPServer, None, None]:
    """Session server on 127.0.0.1."""
    yield from _session_server(
        HTTPServer(host="127.0.0.1", port=0, ssl_context=httpserver_ssl_context)
    )


@pytest.fixture
def httpserver_ipv4(make_httpserver_ipv4: HTTPServer) -> HTTPServer:
    """A clean server listening on 127.0.0.1."""
    make_httpserver_ipv4.clear()
    return make_httpserver_ipv4


@pytest.fixture(scope="session")
def make_httpserver_ipv6(
    httpserver_ssl_context: ssl.SSLContext | None,
) -> Generator[HTTPServer, None, None]:
    """Session server on ::1."""
    yield from _session_server(HTTPServer(host="::1", port=0, ssl_context=httpserver_ssl_context))


@pytest.fixture
def httpserver_ipv6(make_httpserver_ipv6: HTTPServer) -> HTTPServer:
    """A clean server listening on ::1."""
    make_httpserver_ipv6.clear()
    return make_httpserver_ipv6


@pytest.fixture(scope="session")
def make_httpsserver() -> Generator[HTTPServer, None, None]:
    """Session HTTPS server with a generated certificate (hyperhttp extension)."""
    yield from _session_server(HTTPServer(host="localhost", port=0, tls=True))


@pytest.fixture
def httpsserver(make_httpsserver: HTTPServer) -> HTTPServer:
    """A clean HTTPS server; ``httpsserver.client_ssl_context()`` / ``.ca_file`` trust it."""
    make_httpsserver.clear()
    return make_httpsserver
