"""MockTransport, MockResponse and Router: the client with only the socket replaced.

Everything above the transport seam runs unchanged (auth, redirects, cookies, hooks,
decompression, header validation): a handler's response is turned into the same
:class:`~hyperhttp.Response` the network transport builds, and a handler's exception is
mapped the way the network transport maps socket errors.
"""

from __future__ import annotations

import difflib
import inspect
import json as jsonlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, Final, Union

from .._exceptions import HyperHTTPError, LocalProtocolError, RemoteProtocolError, StreamConsumed
from .._headers import Headers, HeaderTypes
from .._models import Request, Response, ResponseStream
from ._errors import map_exchange_error
from .base import AsyncTransport

__all__ = ["MockResponse", "MockTransport", "Router"]

_MISSING: Final[Any] = object()
# How many close matches a "no route" 404 names.
CLOSEST_ROUTES: Final = 3

HandlerResult = Union["MockResponse", Response, int]
Handler = Callable[[Request], HandlerResult | Awaitable[HandlerResult]]


class MockResponse:
    """A canned response: status, headers, and at most one of content/text/json/stream.

    ``text=`` adds ``Content-Type: text/plain; charset=utf-8``, ``json=`` adds
    ``Content-Type: application/json``; ``Content-Length`` is set for in-memory bodies.
    Explicit ``headers=`` always win. One MockResponse may answer many requests: in-memory
    bodies and list/tuple streams are served again each time; a one-shot ``stream=``
    (a generator or async iterator) raises ``StreamConsumed`` if served twice.
    """

    __slots__ = (
        "_body",
        "_header_error",
        "_headers",
        "_json_error",
        "_stream",
        "_stream_used",
        "status_code",
    )

    def __init__(
        self,
        status: int = 200,
        *,
        content: bytes | str | None = None,
        text: str | None = None,
        json: Any = _MISSING,
        stream: Iterable[bytes] | AsyncIterable[bytes] | None = None,
        headers: HeaderTypes = None,
    ) -> None:
        kinds = [
            name
            for name, given in (
                ("content", content is not None),
                ("text", text is not None),
                ("json", json is not _MISSING),
                ("stream", stream is not None),
            )
            if given
        ]
        if len(kinds) > 1:
            raise ValueError(f"give at most one of content/text/json/stream, not {kinds}")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"status must be an int from 100 to 599, not {status!r}")
        self.status_code = status
        inferred: list[tuple[str, str]] = []
        body: bytes | None = None
        # A json= value that cannot be encoded fails when it is served, not here: a spec
        # that a test never hits (the reference page's `json=[...]` placeholder) is harmless.
        self._json_error: str | None = None
        if content is not None:
            body = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        elif text is not None:
            body = text.encode("utf-8")
            inferred.append(("Content-Type", "text/plain; charset=utf-8"))
        elif json is not _MISSING:
            try:
                text = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False)
            except (TypeError, ValueError) as exc:
                self._json_error = str(exc)
                text = ""
            body = text.encode("utf-8")
            inferred.append(("Content-Type", "application/json"))
        elif stream is None:
            body = b""
        if body is not None:
            inferred.append(("Content-Length", str(len(body))))
        # A header no server could send (CR/LF in a value, a bad name) fails the request
        # with RemoteProtocolError, exactly as it would on the wire (checklist MT-01).
        self._header_error: str | None = None
        try:
            explicit = Headers(headers)
        except LocalProtocolError as exc:
            self._header_error = str(exc)
            explicit = Headers()
        merged = Headers([(n, v) for n, v in inferred if n not in explicit])
        merged.update(explicit)
        self._headers = merged
        self._body = body
        self._stream = stream
        self._stream_used = False

    @property
    def headers(self) -> Headers:
        """The headers every response built from this spec carries."""
        return self._headers

    def to_response(self, request: Request) -> Response:
        """A fresh Response answering ``request`` (body unread, like the network's)."""
        if self._header_error is not None:
            raise RemoteProtocolError(f"invalid response header: {self._header_error}")
        if self._json_error is not None:
            raise TypeError(f"MockResponse(json=...) is not JSON-serializable: {self._json_error}")
        if self._body is not None:
            stream: ResponseStream = _MockBody([self._body])
        else:
            source = self._stream
            if isinstance(source, (list, tuple)):
                stream = _MockBody(list(source))
            else:
                if self._stream_used:
                    raise StreamConsumed(
                        "this MockResponse's stream= is a one-shot iterator and was already "
                        "served; pass a list of chunks, or build a new MockResponse per request"
                    )
                self._stream_used = True
                assert source is not None
                stream = _MockIterBody(source)
        return Response(
            self.status_code, headers=self._headers.copy(), stream=stream, request=request
        )

    def __repr__(self) -> str:
        return f"<MockResponse [{self.status_code}]>"


class _MockBody(ResponseStream):
    __slots__ = ("_chunks",)

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            if chunk:
                yield chunk


class _MockIterBody(ResponseStream):
    __slots__ = ("_source",)

    def __init__(self, source: Iterable[bytes] | AsyncIterable[bytes]) -> None:
        self._source = source

    async def __aiter__(self) -> AsyncIterator[bytes]:
        source = self._source
        if isinstance(source, AsyncIterable):
            async for chunk in source:
                yield _as_bytes(chunk)
        else:
            for chunk in source:
                yield _as_bytes(chunk)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"stream= chunks must be bytes, not {type(chunk).__name__}")


def _route_key(method: str, path: str) -> tuple[str, str]:
    return method.upper(), path


def _no_route(request: Request, routes: Sequence[tuple[str, str]]) -> MockResponse:
    """A 404 whose body names the closest routes and how they differ."""
    wanted = f"{request.method} {request.url.path}"
    scored = sorted(
        routes,
        key=lambda r: -difflib.SequenceMatcher(None, wanted, f"{r[0]} {r[1]}").ratio(),
    )
    lines = [f"no route for {wanted}"]
    if scored:
        lines.append("closest routes:")
        for method, path in scored[:CLOSEST_ROUTES]:
            differences = []
            if method != request.method:
                differences.append(f"method {method} != {request.method}")
            if path != request.url.path:
                differences.append(f"path {path!r} != {request.url.path!r}")
            lines.append(f"  {method} {path}  ({'; '.join(differences)})")
    else:
        lines.append("no routes are defined")
    return MockResponse(404, text="\n".join(lines) + "\n")


class Router:
    """Exact (method, path) routing for MockTransport; unmatched requests get ``default``.

    Route handlers are callables taking the Request (sync or async, returning a
    MockResponse, a Response or an int status) or a MockResponse. Every method returns the
    router, so definitions chain.
    """

    def __init__(self, default: MockResponse | Handler | None = None) -> None:
        self._routes: dict[tuple[str, str], MockResponse | Handler] = {}
        self._default = default

    def route(self, method: str, path: str, handler: MockResponse | Handler) -> Router:
        """Serve ``method path`` with ``handler``."""
        self._routes[_route_key(method, path)] = handler
        return self

    def get(self, path: str, handler: MockResponse | Handler) -> Router:
        """Serve GET ``path``."""
        return self.route("GET", path, handler)

    def post(self, path: str, handler: MockResponse | Handler) -> Router:
        """Serve POST ``path``."""
        return self.route("POST", path, handler)

    def put(self, path: str, handler: MockResponse | Handler) -> Router:
        """Serve PUT ``path``."""
        return self.route("PUT", path, handler)

    def patch(self, path: str, handler: MockResponse | Handler) -> Router:
        """Serve PATCH ``path``."""
        return self.route("PATCH", path, handler)

    def delete(self, path: str, handler: MockResponse | Handler) -> Router:
        """Serve DELETE ``path``."""
        return self.route("DELETE", path, handler)

    def head(self, path: str, handler: MockResponse | Handler) -> Router:
        """Serve HEAD ``path``."""
        return self.route("HEAD", path, handler)

    def options(self, path: str, handler: MockResponse | Handler) -> Router:
        """Serve OPTIONS ``path``."""
        return self.route("OPTIONS", path, handler)

    @property
    def routes(self) -> list[tuple[str, str]]:
        """The defined (method, path) pairs."""
        return list(self._routes)

    def resolve(self, request: Request) -> MockResponse | Handler | None:
        """The handler for ``request``: its route, else the default (None: a 404)."""
        handler = self._routes.get(_route_key(request.method, request.url.path))
        return handler if handler is not None else self._default

    async def __call__(self, request: Request) -> HandlerResult:
        handler = self.resolve(request)
        if handler is None:
            return _no_route(request, self.routes)
        return await _call(handler, request)


async def _call(handler: MockResponse | Handler, request: Request) -> HandlerResult:
    if isinstance(handler, MockResponse):
        return handler
    result = handler(request)
    if inspect.isawaitable(result):
        result = await result
    return result


class MockTransport(AsyncTransport):
    """A transport that answers from a handler instead of the network.

    ``handler`` is a callable taking the Request (sync or async), a list/tuple of responses
    replayed left to right (``IndexError`` when exhausted), a single MockResponse served to
    every request, a mapping ``{"METHOD /path": response, "/path": response}`` (bare path:
    GET; unmatched: 404), or a :class:`Router`. Served requests are recorded in ``calls``.
    """

    def __init__(
        self,
        handler: Handler
        | Router
        | MockResponse
        | Sequence[MockResponse | Response | int]
        | Mapping[str, MockResponse | Handler],
    ) -> None:
        self._handler = handler
        self._position = 0
        self._routes: dict[tuple[str, str], MockResponse | Handler] | None = None
        if isinstance(handler, Mapping):
            self._routes = {}
            for key, value in handler.items():
                method, _, path = key.strip().rpartition(" ")
                self._routes[_route_key(method.strip() or "GET", path)] = value
        self.calls: list[Request] = []

    @property
    def call_count(self) -> int:
        """How many requests were served."""
        return len(self.calls)

    @property
    def last_request(self) -> Request | None:
        """The most recent request served, if any."""
        return self.calls[-1] if self.calls else None

    def reset(self) -> None:
        """Forget recorded calls (the handler, and a sequence's position, are kept)."""
        self.calls.clear()

    async def handle_async_request(self, request: Request) -> Response:
        """Answer ``request`` from the handler."""
        if request.stream is not None and request.stream.read_bytes() is None:
            await request.aread()  # handlers inspect request.content
        self.calls.append(request)
        try:
            return _to_response(await self._dispatch(request), request)
        except HyperHTTPError as exc:
            exc.request = request
            raise
        except OSError as exc:
            mapped = map_exchange_error(exc, request.url.netloc)
            if isinstance(mapped, HyperHTTPError):
                mapped.request = request
            raise mapped from exc

    async def _dispatch(self, request: Request) -> HandlerResult:
        handler = self._handler
        if self._routes is not None:
            route = self._routes.get(_route_key(request.method, request.url.path))
            if route is None:
                return _no_route(request, list(self._routes))
            return await _call(route, request)
        if isinstance(handler, MockResponse):
            return handler
        if isinstance(handler, (list, tuple)):
            if self._position >= len(handler):
                raise IndexError(
                    f"MockTransport's {len(handler)} canned responses are used up "
                    f"(request {self._position + 1}: {request.method} {request.url.redacted})"
                )
            result: HandlerResult = handler[self._position]
            self._position += 1
            return result
        if callable(handler):
            return await _call(handler, request)
        raise TypeError(f"unsupported MockTransport handler {type(handler).__name__}")


def _to_response(result: HandlerResult, request: Request) -> Response:
    if isinstance(result, MockResponse):
        return result.to_response(request)
    if isinstance(result, Response):
        if result.request is None:
            result.request = request
        return result
    if isinstance(result, int) and not isinstance(result, bool):
        try:
            return MockResponse(result).to_response(request)
        except ValueError as exc:
            raise RemoteProtocolError(str(exc), request=request) from None
    raise TypeError(
        "a MockTransport handler must return a MockResponse, a Response or an int status, "
        f"not {type(result).__name__}"
    )
