"""HTTPServer: the user-facing test server (pytest-httpserver's API on our own server)."""

from __future__ import annotations

import abc
import contextlib
import functools
import ipaddress
import queue
import re
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Mapping
from copy import copy
from types import TracebackType
from typing import Any, TypeVar

from werkzeug import Request, Response

from .._protocol.h1_server import RequestRejected
from ._bake import BakedHTTPServer
from ._diff import closest_expectations
from ._errors import Error, HTTPServerError
from ._faults import Fault
from ._handlers import HandlerType, RequestHandler, RequestHandlerList
from ._matchers import (
    METHOD_ALL,
    UNDEFINED,
    HVMatcherT,
    QueryT,
    RequestMatcher,
    URIPattern,
)
from ._server import RawRequest, Reply, ServerLimits, ServerThread
from ._tls import TestCertificates, default_certificates
from ._wsgi import build_environ, coerce_response, to_reply

__all__ = [
    "DEFAULT_LISTEN_HOST",
    "DEFAULT_LISTEN_PORT",
    "HTTPServer",
    "HTTPServerBase",
    "Waiting",
    "WaitingSettings",
]

#: Host the server listens on unless told otherwise.
DEFAULT_LISTEN_HOST = "localhost"
#: Port the server listens on unless told otherwise (0: an ephemeral port).
DEFAULT_LISTEN_PORT = 0
#: Seconds ``start()`` waits for the server thread when no ``startup_timeout`` is given.
DEFAULT_STARTUP_TIMEOUT = 10.0

_S = TypeVar("_S", bound="HTTPServerBase")
_FAULT_KEY = "hyperhttp.testing.fault"


class WaitingSettings:
    """Defaults for :meth:`HTTPServer.wait`.

    :param raise_assertions: raise on an unexpected request or on timeout
    :param stop_on_nohandler: stop waiting at the first unexpected request
    :param timeout: seconds to wait
    """

    def __init__(
        self, raise_assertions: bool = True, stop_on_nohandler: bool = True, timeout: float = 5
    ) -> None:
        self.raise_assertions = raise_assertions
        self.stop_on_nohandler = stop_on_nohandler
        self.timeout = timeout


class Waiting:
    """What :meth:`HTTPServer.wait` yields: ``result`` and ``elapsed_time`` after the block."""

    def __init__(self) -> None:
        self._result: bool | None = None
        self._start = time.monotonic()
        self._stop: float | None = None

    def complete(self, result: bool) -> None:
        """Record the outcome (called by the server)."""
        self._result = result
        self._stop = time.monotonic()

    @property
    def result(self) -> bool:
        """True when every oneshot and ordered expectation was served in time."""
        return bool(self._result)

    @property
    def elapsed_time(self) -> float:
        """Seconds the wait took."""
        if self._stop is None:
            raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'float'")
        return self._stop - self._start


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
    ) -> None:
        self.host = host
        self.port = port
        self._certificates: TestCertificates | None = None
        if tls and ssl_context is None:
            self._certificates = default_certificates()
            ssl_context = self._certificates.server_ssl_context()
        self.ssl_context = ssl_context
        self.threaded = threaded
        self.limits = limits or ServerLimits()
        self.server: ServerThread | None = None
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
        """Bind and start serving in a background thread; returns once it is serving.

        Raises :class:`HTTPServerError` when already running; bind errors propagate.
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
        )
        server.start(self._startup_wait())
        self.server = server

    def _startup_wait(self) -> float:
        return DEFAULT_STARTUP_TIMEOUT

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
            return to_reply(response, environ, request.environ.get(_FAULT_KEY))
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


def _fault_of(found: RequestHandler | Response) -> Fault | None:
    return found.fault if isinstance(found, RequestHandler) else None


class HTTPServer(HTTPServerBase):
    """A real HTTP server on localhost, answering the requests you expect.

    :param host: host or IP to listen on (``localhost`` binds 127.0.0.1 and ::1, same port)
    :param port: TCP port; 0 (the default) picks a free one
    :param ssl_context: serve HTTPS with this server-side context
    :param default_waiting_settings: defaults for :meth:`wait`
    :param threaded: accepted for compatibility; connections are always served concurrently
        and handlers run on worker threads
    :param startup_timeout: seconds ``start()`` may take; when given, ``start()`` also
        checks that the port accepts connections
    :param limits: caps and deadlines (:class:`ServerLimits`)
    :param tls: serve HTTPS with a generated certificate (see :meth:`client_ssl_context`)
    """

    DEFAULT_LISTEN_HOST = DEFAULT_LISTEN_HOST
    DEFAULT_LISTEN_PORT = DEFAULT_LISTEN_PORT

    def __init__(
        self,
        host: str = DEFAULT_LISTEN_HOST,
        port: int = DEFAULT_LISTEN_PORT,
        ssl_context: ssl.SSLContext | None = None,
        default_waiting_settings: WaitingSettings | None = None,
        *,
        threaded: bool = False,
        startup_timeout: float | None = None,
        limits: ServerLimits | None = None,
        tls: bool = False,
    ) -> None:
        super().__init__(host, port, ssl_context, threaded=threaded, limits=limits, tls=tls)
        self.ordered_handlers: list[RequestHandler] = []
        self.oneshot_handlers = RequestHandlerList()
        self.handlers = RequestHandlerList()
        self.permanently_failed = False
        self.default_waiting_settings = default_waiting_settings or WaitingSettings()
        self._waiting_settings = copy(self.default_waiting_settings)
        self._waiting_result: queue.LifoQueue[bool] = queue.LifoQueue(maxsize=1)
        self.startup_timeout = startup_timeout

    def _startup_wait(self) -> float:
        return self.startup_timeout if self.startup_timeout is not None else super()._startup_wait()

    def start(self) -> None:
        """Start serving; with ``startup_timeout`` also check the port accepts connections."""
        super().start()
        if self.startup_timeout is not None:
            try:
                self.wait_for_server_ready()
            except Exception:
                self.stop()
                raise

    def wait_for_server_ready(self) -> None:
        """Connect to the listening port (no HTTP request, so nothing is logged)."""
        timeout = self.startup_timeout if self.startup_timeout is not None else 5.0
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = "::1" if host == "::" else host
        try:
            with socket.create_connection((host, self.port), timeout=timeout):
                pass
        except OSError as exc:
            raise HTTPServerError(f"Readiness check failed: {exc}") from exc

    def clear(self) -> None:
        """Reset all state: handlers, log, assertions, errors and permanent failure."""
        super().clear()
        self.clear_all_handlers()
        self.permanently_failed = False

    def clear_all_handlers(self) -> None:
        """Remove every ordered, oneshot and permanent expectation."""
        with self._lock:
            self.ordered_handlers = []
            self.oneshot_handlers = RequestHandlerList()
            self.handlers = RequestHandlerList()

    # -- expectations ----------------------------------------------------------------------

    def expect(
        self, matcher: RequestMatcher, handler_type: HandlerType = HandlerType.PERMANENT
    ) -> RequestHandler:
        """Register an expectation for an already-built :class:`RequestMatcher`."""
        handler = RequestHandler(matcher)
        with self._lock:
            if handler_type == HandlerType.PERMANENT:
                self.handlers.append(handler)
            elif handler_type == HandlerType.ONESHOT:
                self.oneshot_handlers.append(handler)
            elif handler_type == HandlerType.ORDERED:
                self.ordered_handlers.append(handler)
            else:
                raise ValueError(f"unknown handler type: {handler_type!r}")
        return handler

    def expect_request(
        self,
        uri: str | URIPattern | re.Pattern[str],
        method: str = METHOD_ALL,
        data: str | bytes | None = None,
        data_encoding: str = "utf-8",
        headers: Mapping[str, str] | None = None,
        query_string: QueryT = None,
        header_value_matcher: HVMatcherT | None = None,
        handler_type: HandlerType = HandlerType.PERMANENT,
        json: Any = UNDEFINED,
    ) -> RequestHandler:
        """Expect a request and return its :class:`RequestHandler` to define the response.

        See :class:`RequestMatcher` for the matching parameters. ``handler_type`` chooses a
        permanent (default), oneshot or ordered expectation. ``json`` and ``data`` are
        mutually exclusive.
        """
        matcher = self.create_matcher(
            uri,
            method=method.upper(),
            data=data,
            data_encoding=data_encoding,
            headers=headers,
            query_string=query_string,
            header_value_matcher=header_value_matcher,
            json=json,
        )
        return self.expect(matcher, handler_type)

    def expect_oneshot_request(
        self,
        uri: str | URIPattern | re.Pattern[str],
        method: str = METHOD_ALL,
        data: str | bytes | None = None,
        data_encoding: str = "utf-8",
        headers: Mapping[str, str] | None = None,
        query_string: QueryT = None,
        header_value_matcher: HVMatcherT | None = None,
        json: Any = UNDEFINED,
    ) -> RequestHandler:
        """Expect a request once; afterwards the expectation is gone."""
        return self.expect_request(
            uri,
            method=method,
            data=data,
            data_encoding=data_encoding,
            headers=headers,
            query_string=query_string,
            header_value_matcher=header_value_matcher,
            handler_type=HandlerType.ONESHOT,
            json=json,
        )

    def expect_ordered_request(
        self,
        uri: str | URIPattern | re.Pattern[str],
        method: str = METHOD_ALL,
        data: str | bytes | None = None,
        data_encoding: str = "utf-8",
        headers: Mapping[str, str] | None = None,
        query_string: QueryT = None,
        header_value_matcher: HVMatcherT | None = None,
        json: Any = UNDEFINED,
    ) -> RequestHandler:
        """Expect a request once, in registration order among ordered expectations."""
        return self.expect_request(
            uri,
            method=method,
            data=data,
            data_encoding=data_encoding,
            headers=headers,
            query_string=query_string,
            header_value_matcher=header_value_matcher,
            handler_type=HandlerType.ORDERED,
            json=json,
        )

    def bake(self, **kwargs: Any) -> BakedHTTPServer:
        """A proxy whose ``expect_*`` methods use ``kwargs`` as defaults."""
        return BakedHTTPServer(self, **kwargs)

    def format_matchers(self) -> str:
        """A readable list of the registered expectations, by kind."""

        def block(handlers: Iterable[RequestHandler]) -> list[str]:
            lines = [f"    {handler.matcher!r}" for handler in handlers]
            return lines or ["    none"]

        with self._lock:
            lines = ["Ordered matchers:", *block(self.ordered_handlers), ""]
            lines += ["Oneshot matchers:", *block(self.oneshot_handlers), ""]
            lines += ["Persistent matchers:", *block(self.handlers)]
        return "\n".join(lines)

    def _all_handlers(self) -> list[tuple[str, RequestHandler]]:
        with self._lock:
            return (
                [("ordered", h) for h in self.ordered_handlers]
                + [("oneshot", h) for h in self.oneshot_handlers]
                + [("permanent", h) for h in self.handlers]
            )

    # -- dispatch --------------------------------------------------------------------------

    def respond_nohandler(self, request: Request, extra_message: str = "") -> Response:
        """Record a "no handler" assertion; the response names the closest expectations."""
        if self._waiting_settings.stop_on_nohandler:
            self._set_waiting_result(False)
        report = closest_expectations(request, self._all_handlers())
        return super().respond_nohandler(request, self.format_matchers() + report + extra_message)

    def respond_permanent_failure(self) -> Response:
        """Record the "permanent failure" assertion (an ordered expectation was missed)."""
        self.add_assertion("All requests will be permanently failed due failed ordered handler")
        return Response("No handler found for this request", 500)

    def _lookup(self, request: Request) -> RequestHandler | Response:
        """The handler for ``request`` (consuming it if oneshot/ordered), or an error response."""
        with self._lock:
            if self.permanently_failed:
                return self.respond_permanent_failure()
            handler: RequestHandler | None = None
            if self.ordered_handlers:
                handler = self.ordered_handlers[0]
                if not handler.matcher.match(request):
                    self.permanently_failed = True
                    return self.respond_nohandler(request)
                self.ordered_handlers.pop(0)
                self._update_waiting_result()
                return handler
            handler = self.oneshot_handlers.match(request)
            if handler is not None:
                self.oneshot_handlers.remove(handler)
                self._update_waiting_result()
                return handler
            handler = self.handlers.match(request)
            if handler is None:
                return self.respond_nohandler(request)
            return handler

    def _handle_raw(self, raw: RawRequest) -> Reply | Callable[[], Reply]:
        """Match on the loop; answer there only when no user code runs to answer.

        Static responses (``respond_with_data/json/response`` without hooks) and no-handler
        replies are produced on the loop; handler functions and hooks run on a worker, as
        does everything when a subclass overrides ``dispatch`` or ``application``.
        """
        cls = type(self)
        if cls.dispatch is not HTTPServer.dispatch or cls.application is not (
            HTTPServerBase.application
        ):
            return super()._handle_raw(raw)
        environ = build_environ(raw)
        request = Request(environ)  # the body is an in-memory stream: read lazily
        try:
            found = self._lookup(request)
        except Exception as exc:  # a user matcher raised
            found = self._error_response(exc)
        if isinstance(found, RequestHandler):
            static = found.static_response()
            if static is None:
                return functools.partial(self._respond_in_worker, request, found, environ)
            response = static
        else:
            response = found
        self.log.append((request, response))
        return to_reply(response, environ, _fault_of(found))

    def _respond_in_worker(
        self, request: Request, handler: RequestHandler, environ: dict[str, Any]
    ) -> Reply:
        try:
            response = self._respond(request, handler)
        except Exception as exc:
            response = self._error_response(exc)
        self.log.append((request, response))
        try:
            return to_reply(response, environ, handler.fault)
        except Exception as exc:
            self.handler_errors.append(exc)
            return Reply(500, "Internal Server Error", [("Content-Length", "0")], close=True)

    def dispatch(self, request: Request) -> Response:
        """Ordered expectations first (a miss fails permanently), then oneshot, then permanent."""
        found = self._lookup(request)
        if isinstance(found, Response):
            return found
        return self._respond(request, found)

    def _respond(self, request: Request, handler: RequestHandler) -> Response:
        if handler.fault is not None:
            request.environ[_FAULT_KEY] = handler.fault
        try:
            response = handler.respond(request)
        except AssertionError as exc:
            self.add_assertion(exc)
            raise
        except Error:
            raise
        except Exception as exc:
            self.handler_errors.append(exc)
            raise
        return coerce_response(response)

    # -- waiting ---------------------------------------------------------------------------

    def _set_waiting_result(self, value: bool) -> None:
        with contextlib.suppress(queue.Full):
            self._waiting_result.put_nowait(value)

    def _update_waiting_result(self) -> None:
        if not self.oneshot_handlers and not self.ordered_handlers:
            self._set_waiting_result(True)

    @contextlib.contextmanager
    def wait(
        self,
        raise_assertions: bool | None = None,
        stop_on_nohandler: bool | None = None,
        timeout: float | None = None,
    ) -> Generator[Waiting, None, None]:
        """Wait, after the block, until every oneshot and ordered expectation was served.

        Ends early on an unexpected request when ``stop_on_nohandler``; on timeout or
        failure raises ``AssertionError`` when ``raise_assertions``. Defaults come from
        ``default_waiting_settings``.
        """
        defaults = self.default_waiting_settings
        settings = self._waiting_settings
        settings.raise_assertions = (
            defaults.raise_assertions if raise_assertions is None else raise_assertions
        )
        settings.stop_on_nohandler = (
            defaults.stop_on_nohandler if stop_on_nohandler is None else stop_on_nohandler
        )
        settings.timeout = defaults.timeout if timeout is None else timeout
        with contextlib.suppress(queue.Empty):
            self._waiting_result.get_nowait()
        waiting = Waiting()
        yield waiting
        try:
            waiting.complete(self._waiting_result.get(timeout=settings.timeout))
        except queue.Empty:
            waiting.complete(False)
            if settings.raise_assertions:
                raise AssertionError(
                    "Wait timeout occurred, but some handlers left:\n" + self.format_matchers()
                ) from None
        if settings.raise_assertions and not waiting.result:
            self.check_assertions()

    # -- the log ---------------------------------------------------------------------------

    def iter_matching_requests(self, matcher: RequestMatcher) -> Iterable[tuple[Request, Response]]:
        """The ``(request, response)`` log entries whose request ``matcher`` matches."""
        for request, response in list(self.log):
            if matcher.match(request):
                yield request, response

    def get_matching_requests_count(self, matcher: RequestMatcher) -> int:
        """How many logged requests ``matcher`` matches."""
        return sum(1 for _ in self.iter_matching_requests(matcher))

    def assert_request_made(self, matcher: RequestMatcher, *, count: int = 1) -> None:
        """Assert that exactly ``count`` logged requests match ``matcher`` (default 1)."""
        found = self.get_matching_requests_count(matcher)
        if found == count:
            return
        lines = [
            f"Matching request found {found} times but expected {count} times.",
            f"Expected request: {matcher}",
        ]
        similar = [req for req, _ in self.log if matcher.match_uri(req)]
        if similar:
            lines.append(f"Found {len(similar)} similar request(s):")
            for req in similar:
                diff = ", ".join(f"{name}: got {got!r}" for name, got, _ in matcher.difference(req))
                lines.append(f"  {req.method} {req.full_path.rstrip('?')} -> {diff or 'matches'}")
        else:
            lines.append("No similar requests found.")
        raise AssertionError("\n".join(lines) + "\n")
