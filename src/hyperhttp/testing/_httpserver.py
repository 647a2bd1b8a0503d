"""HTTPServer: the user-facing test server (pytest-httpserver's API on our own server)."""

from __future__ import annotations

import contextlib
import functools
import queue
import re
import socket
import ssl
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from copy import copy
from typing import Any

from werkzeug import Request, Response

from ._bake import BakedHTTPServer
from ._base import (
    DEFAULT_LISTEN_HOST,
    DEFAULT_LISTEN_PORT,
    FAULT_KEY,
    HTTPServerBase,
)
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
from ._wire import RawRequest, Reply, ServerLimits
from ._wsgi import build_environ, coerce_response, to_reply

__all__ = [
    "DEFAULT_LISTEN_HOST",
    "DEFAULT_LISTEN_PORT",
    "HTTPServer",
    "HTTPServerBase",
    "Waiting",
    "WaitingSettings",
]


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
    :param http2: also speak HTTP/2: h2c by prior knowledge, and ``h2`` offered in ALPN
        with ``tls=True`` (your own ``ssl_context`` must offer ``h2`` itself). HTTP/1.1
        clients are served as before.
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
        http2: bool = False,
    ) -> None:
        super().__init__(
            host, port, ssl_context, threaded=threaded, limits=limits, tls=tls, http2=http2
        )
        self.ordered_handlers: list[RequestHandler] = []
        self.oneshot_handlers = RequestHandlerList()
        self.handlers = RequestHandlerList()
        self.permanently_failed = False
        self.default_waiting_settings = default_waiting_settings or WaitingSettings()
        self._waiting_settings = copy(self.default_waiting_settings)
        self._waiting_result: queue.LifoQueue[bool] = queue.LifoQueue(maxsize=1)
        self.startup_timeout = startup_timeout
        self._readiness_check_pending = False

    def start(self) -> None:
        """Start serving; with ``startup_timeout`` also check the port accepts connections."""
        super().start()
        self._readiness_check_pending = self.startup_timeout is not None
        try:
            self.wait_for_server_ready()
        except Exception:
            self.stop()
            raise

    def wait_for_server_ready(self) -> None:
        """With ``startup_timeout``: connect to the port (no HTTP request, nothing logged)."""
        if not self._readiness_check_pending:
            return
        timeout = self.startup_timeout if self.startup_timeout is not None else 5.0
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = "::1" if host == "::" else host
        try:
            with socket.create_connection((host, self.port), timeout=timeout):
                pass
        except OSError as exc:
            raise HTTPServerError(f"Readiness check failed: {exc}") from exc
        finally:
            self._readiness_check_pending = False

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
            response = coerce_response(static)
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
            request.environ[FAULT_KEY] = handler.fault
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
            for req in similar:  # same labels as pytest-httpserver: tests match these lines
                lines += [
                    "--- Similar Request Start",
                    f"Path: {req.path}",
                    f"Method: {req.method}",
                    f"Body: {req.get_data()!r}",
                    f"Headers: {req.headers}",
                    f"Query String: {req.query_string.decode('latin-1')!r}",
                ]
                lines.append("--- Similar Request End")
            # ours, after pytest-httpserver's block so that tests matching it keep passing
            for number, req in enumerate(similar, start=1):
                fields = ", ".join(name for name, _, _ in matcher.difference(req)) or "none"
                lines.append(f"Similar request {number} differs in: {fields}")
        else:
            lines.append("No similar requests found.")
        raise AssertionError("\n".join(lines) + "\n")
