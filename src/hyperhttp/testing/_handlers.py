"""Request handlers: what an expectation answers, and the lists they live in."""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from http import HTTPStatus
from typing import Any, TypeVar

from werkzeug import Request, Response

from ._errors import NoHandlerError
from ._faults import Fault
from ._matchers import RequestMatcher

__all__ = ["HandlerType", "RequestHandler", "RequestHandlerBase", "RequestHandlerList"]

HeadersT = Mapping[str, "str | Iterable[str]"] | Iterable[tuple[str, str]]
HandlerFunc = Callable[[Request], Any]
HookFunc = Callable[[Request, Response], Response]

_H = TypeVar("_H", bound="RequestHandlerBase")


class HandlerType(Enum):
    """How long an expectation lives: for ever, for one request, or one request in order."""

    PERMANENT = "permanent"
    ONESHOT = "oneshot"
    ORDERED = "ordered"


class RequestHandlerBase(abc.ABC):
    """The ``respond_with_*`` family, shared by the normal and the blocking handlers."""

    def respond_with_json(
        self: _H,
        response_json: Any,
        status: int = HTTPStatus.OK.value,
        headers: HeadersT | None = None,
        content_type: str = "application/json",
    ) -> _H:
        """Respond with ``response_json`` serialized as JSON (indented like upstream)."""
        data = json.dumps(response_json, indent=4)
        return self.respond_with_data(data, status, headers, content_type=content_type)

    def respond_with_data(
        self: _H,
        response_data: str | bytes | Iterable[bytes] = "",
        status: int = HTTPStatus.OK.value,
        headers: HeadersT | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> _H:
        """Respond with raw data; the arguments are those of ``werkzeug.Response``.

        ``response_data`` may also be an iterable (e.g. a generator) of bytes: the body is
        then streamed with chunked encoding, each chunk flushed as it is produced. A
        generator can be consumed only once; use ``respond_with_handler`` to stream on
        every request.
        """
        response = Response(response_data, status, headers, mimetype, content_type)
        self.respond_with_response(response)
        return self

    @abc.abstractmethod
    def respond_with_response(self: _H, response: Response) -> _H:
        """Respond with this ``werkzeug.Response`` object."""


class RequestHandler(RequestHandlerBase):
    """Connects a :class:`RequestMatcher` with the function that produces the response.

    Extensions over pytest-httpserver: ``respond_with_*`` return the handler, so
    ``.with_fault(...)`` and ``.with_post_hook(...)`` chain in any order.
    """

    def __init__(self, matcher: RequestMatcher) -> None:
        self.matcher = matcher
        self.request_handler: HandlerFunc | None = None
        self.fault: Fault | None = None
        self._hooks: list[HookFunc] = []
        self._static: Any = None

    def with_post_hook(self, hook: HookFunc) -> RequestHandler:
        """Add a hook ``(request, response) -> response`` run after the response is made."""
        self._hooks.append(hook)
        return self

    def with_fault(self, fault: Fault) -> RequestHandler:
        """Misbehave on the wire when answering (see :class:`Fault`); faults add up."""
        self.fault = fault if self.fault is None else self.fault + fault
        return self

    def respond(self, request: Request) -> Any:
        """Produce the response for ``request``; raise NoHandlerError if none was defined."""
        if self.request_handler is None:
            if self.fault is not None and not self.fault.needs_response:
                return Response(b"")
            raise NoHandlerError(
                "Matching request handler found but no response defined: "
                f"{request.method} {request.path}"
            )
        response = self.request_handler(request)
        for hook in self._hooks:
            response = hook(request, response)
        return response

    def respond_with_handler(self, func: HandlerFunc) -> RequestHandler:
        """Call ``func(request)`` for every matching request; it returns the response.

        It may return a ``werkzeug.Response``, a ``str``/``bytes`` body, or ``None`` (an
        empty 200). It runs on a worker thread, so it may block without stalling the server.
        """
        self.request_handler = func
        self._static = None
        return self

    def respond_with_response(self, response: Response) -> RequestHandler:
        """Answer every matching request with this ``werkzeug.Response``."""
        self.request_handler = lambda request: response
        self._static = response
        return self

    def static_response(self) -> Any:
        """The fixed response when answering runs no user code (no handler, no hook)."""
        if self._static is None or self._hooks:
            return None
        return self._static

    def __repr__(self) -> str:
        m = self.matcher
        return (
            f"<{self.__class__.__name__} uri={m.uri!r} method={m.method!r} "
            f"query_string={m.query_string!r} headers={m.headers!r} data={m.data!r} "
            f"json={m.json!r}>"
        )


class RequestHandlerList(list[RequestHandler]):
    """A list of handlers with first-match lookup."""

    def match(self, request: Request) -> RequestHandler | None:
        """The first handler whose matcher matches ``request``, or None."""
        for handler in self:
            if handler.matcher.match(request):
                return handler
        return None
