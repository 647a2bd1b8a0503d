"""BlockingHTTPServer: the test thread answers each request itself, synchronously."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Mapping
from queue import Empty, Queue
from typing import Any

from werkzeug import Request, Response

from ._base import DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT, HTTPServerBase
from ._handlers import RequestHandlerBase
from ._matchers import METHOD_ALL, UNDEFINED, HVMatcherT, QueryT, URIPattern

__all__ = ["BlockingHTTPServer", "BlockingRequestHandler"]


class BlockingRequestHandler(RequestHandlerBase):
    """Answers one waiting request; created by :meth:`BlockingHTTPServer.assert_request`."""

    def __init__(self) -> None:
        self.response_queue: Queue[Response] = Queue()

    def respond_with_response(self, response: Response) -> BlockingRequestHandler:
        """Send ``response`` to the waiting request."""
        self.response_queue.put_nowait(response)
        return self


class BlockingHTTPServer(HTTPServerBase):
    """A server where the test waits for each request and answers it in turn.

    :param timeout: seconds a request waits for the test to match and answer it
    """

    DEFAULT_LISTEN_HOST = DEFAULT_LISTEN_HOST
    DEFAULT_LISTEN_PORT = DEFAULT_LISTEN_PORT

    def __init__(
        self,
        host: str = DEFAULT_LISTEN_HOST,
        port: int = DEFAULT_LISTEN_PORT,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(host, port, ssl_context, **kwargs)
        self.timeout = timeout
        self.request_queue: Queue[Request] = Queue()
        self.request_handlers: dict[Request, Queue[BlockingRequestHandler]] = {}
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()

    def stop(self) -> None:
        """Stop serving, after requests still waiting for the test got their answer.

        As with pytest-httpserver, a request the test never answers is held until
        ``timeout`` runs out (and an assertion is recorded); then the server stops.
        """
        with self._in_flight_changed:
            self._in_flight_changed.wait_for(lambda: self._in_flight == 0, 2 * self.timeout + 1)
        super().stop()

    def assert_request(
        self,
        uri: str | URIPattern | re.Pattern[str],
        method: str = METHOD_ALL,
        data: str | bytes | None = None,
        data_encoding: str = "utf-8",
        headers: Mapping[str, str] | None = None,
        query_string: QueryT = None,
        header_value_matcher: HVMatcherT | None = None,
        json: Any = UNDEFINED,
        timeout: float = 30,
    ) -> BlockingRequestHandler:
        """Wait for the next request and assert it matches; return its handler to answer it.

        Raises ``AssertionError`` when no request arrives within ``timeout`` or when it
        does not match (the request then gets the no-handler response).
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
        try:
            request = self.request_queue.get(timeout=timeout)
        except Empty:
            raise AssertionError(f"Waiting for request {matcher} timed out") from None
        diff = matcher.difference(request)
        handler = BlockingRequestHandler()
        self.request_handlers[request].put_nowait(handler)
        if diff:
            handler.respond_with_response(self.respond_nohandler(request))
            raise AssertionError(f"Request {matcher} does not match: {diff}")
        return handler

    def dispatch(self, request: Request) -> Response:
        """Queue the request for the test thread and wait for its answer."""
        self.request_handlers[request] = Queue()
        with self._in_flight_changed:
            self._in_flight += 1
        try:
            self.request_queue.put_nowait(request)
            try:
                handler = self.request_handlers[request].get(timeout=self.timeout)
            except Empty:
                return self.respond_nohandler(request)
            try:
                return handler.response_queue.get(timeout=self.timeout)
            except Empty:
                assertion = AssertionError(f"No response for request: {request}")
                self.add_assertion(assertion)
                raise assertion from None
        finally:
            del self.request_handlers[request]
            with self._in_flight_changed:
                self._in_flight -= 1
                self._in_flight_changed.notify_all()
