"""HTTPServerBase: state, lifecycle and the werkzeug round trip shared by every server."""

from __future__ import annotations

import abc
import functools
import ipaddress
import os
import socket
import ssl
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from werkzeug import Request, Response

from .._protocol.h1_server import RequestRejected
from ._errors import HTTPServerError
from ._matchers import RequestMatcher
from ._server import ServerThread
from ._tls import TestCertificates, default_certificates
from ._wire import RawRequest, Reply, ServerLimits
from ._wsgi import build_environ, coerce_response, to_reply

__all__ = [
    "DEFAULT_LISTEN_HOST",
    "DEFAULT_LISTEN_PORT",
    "FAULT_KEY",
    "HTTPServerBase",
]

#: Host the server listens on unless told otherwise.
DEFAULT_LISTEN_HOST = "localhost"
#: Port the server listens on unless told otherwise (0: an ephemeral port).
DEFAULT_LISTEN_PORT = 0

_S = TypeVar("_S", bound="HTTPServerBase")
FAULT_KEY = "hyperhttp.testing.fault"


def _bind(host: str, port: int) -> list[socket.socket]:
    """Bind every address ``host`` resolves to, all on the same port."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    seen: set[tuple[int, str]] = set()
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in infos:
            key = (family, str(address[0]))
            if key in seen:
                continue
            seen.add(key)
            sock = socket.socket(family, kind, proto)
            try:
                if os.name != "nt":  # on Windows it would let another socket steal the port
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if sockets:  # later addresses share the first one's port
                    address = (address[0], port, *address[2:])
                sock.bind(address)
                sock.listen(1024)
                sock.setblocking(False)
            except OSError:
                sock.close()
                if not sockets:
                    raise
                continue  # e.g. ::1 unavailable: serving the first address is enough
            if not sockets:
                port = sock.getsockname()[1]
            sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise HTTPServerError(f"cannot resolve {host!r}")
    return sockets


class HTTPServerBase(abc.ABC):
    """State and lifecycle shared by :class:`HTTPServer` and ``BlockingHTTPServer``.

    Attributes: ``log`` (``(Request, Response)`` pairs), ``assertions``, ``handler_errors``,
    ``no_handler_status_code`` (500 by default), ``rejections`` (hostile or malformed
    requests answered with a 4xx by the protocol layer, never reaching a handler).
    """

    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        *,
        threaded: bool = False,
        limits: ServerLimits | None = None,
        tls: bool = False,
        http2: bool = False,
    ) -> None:
        self.host = host
        self.http2 = http2
        self.port = port
        self._certificates: TestCertificates | None = None
        if tls and ssl_context is None:
            self._certificates = default_certificates()
            ssl_context = self._certificates.server_ssl_context(http2=http2)
        self.ssl_context = ssl_context
        self.threaded = threaded
        self.limits = limits or ServerLimits()
        self.server: ServerThread | None = None
        self._starting: ServerThread | None = None
        self.assertions: list[str | AssertionError] = []
        self.handler_errors: list[Exception] = []
        self.log: list[tuple[Request, Response]] = []
        self.rejections: list[tuple[int, str, tuple[str, int]]] = []
        self.no_handler_status_code = 500
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} host={self.host} port={self.port}>"

    # -- state -----------------------------------------------------------------------------

    def clear(self) -> None:
        """Reset assertions, handler errors, the log and ``no_handler_status_code``."""
        self.clear_assertions()
        self.clear_handler_errors()
        self.clear_log()
        self.rejections = []
        self.no_handler_status_code = 500

    def clear_assertions(self) -> None:
        """Forget recorded assertions."""
        self.assertions = []

    def clear_handler_errors(self) -> None:
        """Forget errors raised by handlers."""
        self.handler_errors = []

    def clear_log(self) -> None:
        """Forget the request/response log."""
        self.log = []

    def add_assertion(self, obj: str | AssertionError) -> None:
        """Record a failure that :meth:`check_assertions` will raise."""
        self.assertions.append(obj)

    def check(self) -> None:
        """Raise the first recorded assertion, then the first handler error, if any."""
        self.check_assertions()
        self.check_handler_errors()

    def check_assertions(self) -> None:
        """Raise (and forget) the first recorded assertion as an ``AssertionError``."""
        if self.assertions:
            assertion = self.assertions.pop(0)
            if isinstance(assertion, AssertionError):
                raise assertion
            raise AssertionError(assertion)

    def check_handler_errors(self) -> None:
        """Re-raise (and forget) the first exception a handler raised."""
        if self.handler_errors:
            raise self.handler_errors.pop(0)

    # -- addresses -------------------------------------------------------------------------

    @staticmethod
    def format_host(host: str) -> str:
        """``host`` as it goes into a URL (IPv6 literals get brackets)."""
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return host
        return host if host.startswith("[") else f"[{host}]"

    def url_for(self, suffix: str) -> str:
        """``http(s)://host:port`` + ``suffix`` (a leading ``/`` is added when missing)."""
        if not suffix.startswith("/"):
            suffix = "/" + suffix
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{self.format_host(self.host)}:{self.port}{suffix}"

    def create_matcher(self, *args: Any, **kwargs: Any) -> RequestMatcher:
        """Build the :class:`RequestMatcher` for ``expect_*``; override to use your own."""
        return RequestMatcher(*args, **kwargs)

    # -- TLS -------------------------------------------------------------------------------

    def _certs(self) -> TestCertificates:
        if self._certificates is None:
            raise HTTPServerError(
                "this server has no generated certificate: create it with tls=True "
                "(or use your own CA with the ssl_context you passed)"
            )
        return self._certificates

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client ``SSLContext`` that trusts this server's generated certificate."""
        return self._certs().client_ssl_context()

    @property
    def ca_file(self) -> str:
        """Path of the PEM CA that signed this server's certificate (for ``verify=``)."""
        return self._certs().ca_file

    # -- lifecycle -------------------------------------------------------------------------

    def is_running(self) -> bool:
        """True while the server is serving."""
        return self.server is not None

    def start(self) -> None:
        """Bind, listen and start the server thread; returns in well under a millisecond.

        The port accepts connections when this returns. Raises :class:`HTTPServerError`
        when already running; bind errors (port in use...) propagate as ``OSError``.
        """
        if self.is_running():
            raise HTTPServerError("Server is already running")
        sockets = _bind(self.host, self.port)
        self.port = sockets[0].getsockname()[1]
        server = ServerThread(
            sockets,
            self._handle_raw,
            ssl_context=self.ssl_context,
            limits=self.limits,
            on_internal_error=self._record_internal_error,
            on_rejection=self._record_rejection,
            thread_target=self.thread_target,
            http2=self.http2,
        )
        self._starting = server  # read by thread_target() in the new thread
        server.start()
        self.server = server

    def thread_target(self) -> None:
        """The server thread's body: runs the event loop until :meth:`stop`.

        Not called directly; override it to wrap the server thread (call ``super()``).
        """
        server = self._starting
        if server is None:
            raise HTTPServerError("thread_target() runs in the server thread started by start()")
        server.run()

    def stop(self) -> None:
        """Stop serving: listeners close and open connections drop at once.

        Handlers still running are not waited for. Raises :class:`HTTPServerError` when
        the server is not running.
        """
        if self.server is None:
            raise HTTPServerError("Server is not running")
        server, self.server = self.server, None
        server.stop()

    def __enter__(self: _S) -> _S:
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.is_running():
            self.stop()

    # -- serving ---------------------------------------------------------------------------

    def _record_internal_error(self, exc: BaseException) -> None:
        if isinstance(exc, Exception):
            self.handler_errors.append(exc)

    def _record_rejection(self, rejected: RequestRejected, client: tuple[str, int]) -> None:
        self.rejections.append((rejected.status, rejected.reason, client))

    def _handle_raw(self, raw: RawRequest) -> Reply | Callable[[], Reply]:
        """Runs on the event loop: by default everything happens on a worker thread."""
        return functools.partial(self._serve_raw, raw)

    def _serve_raw(self, raw: RawRequest) -> Reply:
        """Runs on a worker thread: the whole werkzeug round trip for one request."""
        environ = build_environ(raw)
        request = Request(environ)
        request.get_data()
        response = self.application(request)
        try:
            return to_reply(response, environ, request.environ.get(FAULT_KEY))
        except Exception as exc:  # e.g. a status werkzeug cannot serialize
            self.handler_errors.append(exc)
            return Reply(500, "Internal Server Error", [("Content-Length", "0")], close=True)

    def application(self, request: Request) -> Response:
        """Dispatch ``request``, log the pair, and turn handler failures into a 500."""
        try:
            response = coerce_response(self.dispatch(request))
        except Exception as exc:
            response = self._error_response(exc)
        self.log.append((request, response))
        return response

    def _error_response(self, exc: Exception) -> Response:
        if not isinstance(exc, AssertionError) and exc not in self.handler_errors:
            self.handler_errors.append(exc)
        text = "".join(traceback.format_exception_only(type(exc), exc))
        return Response(
            f"Internal Server Error: the handler raised\n{text}",
            status=500,
            content_type="text/plain; charset=utf-8",
        )

    def respond_nohandler(self, request: Request, extra_message: str = "") -> Response:
        """Record a "no handler" assertion and build the response sent to the client."""
        text = f"No handler found for request {request!r} with data {request.get_data()!r}."
        self.add_assertion(text + extra_message)
        return Response(text + extra_message, self.no_handler_status_code)

    @abc.abstractmethod
    def dispatch(self, request: Request) -> Response:
        """Find the handler for ``request`` and produce its response."""
