"""Request and Response.

A :class:`Request` is complete at construction: its headers already hold ``Host`` and the
body framing (``Content-Length`` or ``Transfer-Encoding: chunked``), as they will go on the
wire, so hooks, auth flows and MockTransport handlers see exactly what a server would.

A :class:`Response` body is a stream until read. ``Client.get()`` and friends read it before
returning (``.content``/``.text``/``.json()`` work at once); ``Client.stream()`` hands it over
unread for ``aiter_bytes()``/``aiter_text()``/``aiter_lines()``/``aiter_raw()``.
"""

from __future__ import annotations

import datetime
import itertools
import json as jsonlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._content import (
    ByteBody,
    RequestBody,
    RequestContent,
    RequestData,
    RequestFiles,
    encode_request,
)
from ._decompress import make_decoder
from ._exceptions import (
    DecompressionError,
    HTTPStatusError,
    HyperHTTPError,
    LocalProtocolError,
    RequestNotRead,
    ResponseClosed,
    ResponseNotRead,
    ResponseTooLarge,
    StreamConsumed,
)
from ._headers import Headers, HeaderTypes
from ._status import reason_phrase_for
from ._text import LineDecoder, TextDecoder, charset_from_content_type
from ._urls import URL, QueryParamTypes

if TYPE_CHECKING:
    from ._cookies import Cookies

__all__ = ["ByteStream", "Request", "Response", "ResponseStream"]

_TOKEN_CHARS = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_METHOD_CACHE: dict[str, str] = {}


def _check_method(method: str | bytes) -> str:
    if isinstance(method, bytes):
        method = method.decode("latin-1")
    cached = _METHOD_CACHE.get(method)
    if cached is not None:
        return cached
    raw = method.encode("latin-1", "replace")
    if not raw or any(b not in _TOKEN_CHARS for b in raw):
        raise LocalProtocolError("the request method must be a non-empty HTTP token")
    upper = raw.decode("ascii").upper()
    if len(_METHOD_CACHE) < 64:
        _METHOD_CACHE[method] = upper
    return upper


class Request:
    """An HTTP request: method, URL, headers and an optional body.

    ``content=`` (bytes, str, iterables, async iterables, file objects), ``data=`` (a form,
    urlencoded), ``files=`` (multipart, streamed from disk) and ``json=`` set the body; only
    one kind may be given.
    """

    __slots__ = ("_content", "extensions", "headers", "method", "stream", "url")

    def __init__(
        self,
        method: str | bytes,
        url: URL | str,
        *,
        params: QueryParamTypes = None,
        headers: HeaderTypes = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        stream: RequestBody | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        self.method = _check_method(method)
        url = url if isinstance(url, URL) else URL(url)
        if params is not None:
            url = url.copy_merge_params(params)
        self.url = url
        self.headers = headers.copy() if isinstance(headers, Headers) else Headers(headers)
        self.extensions = extensions if extensions is not None else {}
        if stream is None:
            body_headers, stream = encode_request(content, data, files, json)
            for name, value in body_headers:
                if name.decode("ascii") not in self.headers:
                    self.headers.add(name.decode("ascii"), value.decode("latin-1"))
        self.stream = stream
        self._content: bytes | None = stream.read_bytes() if stream is not None else b""
        self._set_framing_headers()

    def _set_framing_headers(self) -> None:
        headers = self.headers
        # One pass over the names: cheaper than several indexed lookups around an insert.
        names = headers.lower_names()
        hosts = names.count(b"host")
        if not hosts:
            if self.url.host:
                # The URL validated host and port: no need to validate them again.
                headers.insert_trusted(0, b"Host", self.url.netloc.encode("ascii"))
        elif hosts > 1:
            raise LocalProtocolError("a request must not have more than one Host header")
        elif names[0] != b"host":
            # RFC 9110 7.2: a user-supplied Host is kept, but sent first like ours.
            value = headers.pop("host")
            headers.insert(0, "Host", value)
        has_length = b"content-length" in names
        has_te = b"transfer-encoding" in names
        if has_length and has_te:
            raise LocalProtocolError(
                "a request cannot have both Content-Length and Transfer-Encoding"
            )
        stream = self.stream
        if stream is None:
            if self.method in ("POST", "PUT", "PATCH") and not has_length and not has_te:
                headers["Content-Length"] = "0"
            return
        length = stream.content_length
        if length is not None:
            if has_te:
                raise LocalProtocolError(
                    "Transfer-Encoding was set for a body whose length is known"
                )
            if not has_length:
                headers["Content-Length"] = str(length)
            elif headers["content-length"] != str(length):
                raise LocalProtocolError(
                    f"Content-Length header does not match the body length ({length} bytes)"
                )
        elif not has_length and not has_te:
            headers["Transfer-Encoding"] = "chunked"

    @property
    def content(self) -> bytes:
        """The body, if it is in memory (raises ``RequestNotRead`` for an unread stream)."""
        if self._content is None:
            raise RequestNotRead("the request body is a stream; use `await request.aread()`")
        return self._content

    async def aread(self) -> bytes:
        """Read a streaming body into memory (it becomes replayable) and return it."""
        if self._content is None:
            assert self.stream is not None
            chunks = [chunk async for chunk in self.stream]
            self._content = b"".join(chunks)
            self.stream = ByteBody(self._content)
        return self._content

    def copy(self, **changes: Any) -> Request:
        """A new request with ``changes`` applied (method, url, headers, content, data, files,
        json, params, extensions). Framing headers follow the new body."""
        body_keys = {"content", "data", "files", "json"}
        headers = Headers(changes.pop("headers", self.headers))
        if body_keys & changes.keys():
            for name in ("content-length", "transfer-encoding", "content-type"):
                headers.pop(name, None)
            stream = None
        else:
            stream = self.stream
            if stream is not None and stream.content_length is not None:
                # A streamed body read with aread() now has a length: frame it with
                # Content-Length rather than the chunked framing it was built with.
                headers.pop("transfer-encoding", None)
        url = changes.pop("url", self.url)
        if "host" in headers and URL(url).netloc != self.url.netloc:
            del headers["host"]
        return Request(
            changes.pop("method", self.method),
            url,
            headers=headers,
            stream=stream,
            extensions=changes.pop("extensions", dict(self.extensions)),
            **changes,
        )

    def __repr__(self) -> str:
        return f"<Request({self.method!r}, {self.url.redacted!r})>"


class ResponseStream:
    """The source of a response body. Transports subclass it; users never need to.

    ``aread_all(limit)`` is a fast path for reading everything at once.
    """

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError  # pragma: no cover

    async def aread_all(self, limit: int | None) -> bytes:
        """Every remaining byte; ``ResponseTooLarge`` past ``limit``."""
        chunks: list[bytes] = []
        total = 0
        async for chunk in self:
            total += len(chunk)
            if limit is not None and total > limit:
                await self.aclose()
                raise ResponseTooLarge(f"response body exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Release what the body holds (the connection, for network responses)."""


class ByteStream(ResponseStream):
    """A body that is already in memory."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._data:
            yield self._data

    async def aread_all(self, limit: int | None) -> bytes:
        """The bytes."""
        if limit is not None and len(self._data) > limit:
            raise ResponseTooLarge(f"response body exceeds {limit} bytes")
        return self._data


class Response:
    """An HTTP response. See the module docstring for when its body is read."""

    __slots__ = (
        "_content",
        "_elapsed",
        "_encoding",
        "_started",
        "_text",
        "default_encoding",
        "extensions",
        "headers",
        "history",
        "http_version",
        "is_closed",
        "is_stream_consumed",
        "max_decompressed_size",
        "max_response_size",
        "next_request",
        "num_bytes_downloaded",
        "on_close",
        "reason_phrase",
        "request",
        "status_code",
        "stream",
        "trailers",
    )

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeaderTypes = None,
        content: bytes | str | None = None,
        text: str | None = None,
        json: Any = None,
        stream: ResponseStream | None = None,
        request: Request | None = None,
        http_version: str = "HTTP/1.1",
        reason_phrase: str | None = None,
        extensions: dict[str, Any] | None = None,
        history: list[Response] | None = None,
        default_encoding: str = "utf-8",
    ) -> None:
        self.status_code = status_code
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.request = request
        self.http_version = http_version
        self.reason_phrase = (
            reason_phrase if reason_phrase is not None else reason_phrase_for(status_code)
        )
        self.extensions = extensions if extensions is not None else {}
        self.history = history if history is not None else []
        self.default_encoding = default_encoding
        self.trailers = Headers()
        self.max_response_size: int | None = None
        self.max_decompressed_size: int | None = None
        self.next_request: Request | None = None
        self.on_close: Callable[[Response], None] | None = None
        self.num_bytes_downloaded = 0
        self.is_closed = False
        self.is_stream_consumed = False
        self._encoding: str | None = None
        self._text: str | None = None
        self._elapsed: datetime.timedelta | None = None
        self._started = time.perf_counter()
        self._content: bytes | None = None
        self.stream: ResponseStream
        if stream is None:
            body = _body_from(content, text, json, self.headers)
            self._content = body
            self.stream = ByteStream(body)
            self.is_stream_consumed = True
            self.is_closed = True
            self.num_bytes_downloaded = len(body)
        else:
            self.stream = stream

    # -- status --------------------------------------------------------------------------------

    @property
    def is_informational(self) -> bool:
        """1xx."""
        return 100 <= self.status_code < 200

    @property
    def is_success(self) -> bool:
        """2xx."""
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        """A redirect status (301, 302, 303, 307, 308) with a Location header."""
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    @property
    def is_client_error(self) -> bool:
        """4xx."""
        return 400 <= self.status_code < 500

    @property
    def is_server_error(self) -> bool:
        """5xx."""
        return 500 <= self.status_code < 600

    @property
    def is_error(self) -> bool:
        """4xx or 5xx."""
        return 400 <= self.status_code < 600

    def raise_for_status(self) -> Response:
        """Raise ``HTTPStatusError`` for 4xx/5xx; return the response otherwise."""
        if not self.is_error:
            return self
        kind = "Client error" if self.is_client_error else "Server error"
        url = self.request.url.redacted if self.request is not None else "<no request>"
        message = f"{kind} '{self.status_code} {self.reason_phrase}' for url '{url}'"
        raise HTTPStatusError(message, request=self.request, response=self)

    # -- metadata ------------------------------------------------------------------------------

    @property
    def url(self) -> URL | None:
        """The URL of the request this responds to."""
        return self.request.url if self.request is not None else None

    @property
    def cookies(self) -> Cookies:
        """The cookies this response sets (its ``Set-Cookie`` fields, scoped to its URL)."""
        from ._cookies import Cookies  # imported here: the jar module imports this one

        jar = Cookies()
        if self.request is not None:
            jar.extract_cookies(self)
        return jar

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request until the body was read (or the response closed)."""
        if self._elapsed is None:
            return datetime.timedelta(seconds=time.perf_counter() - self._started)
        return self._elapsed

    @property
    def encoding(self) -> str:
        """The charset used by ``.text``: Content-Type's, else ``default_encoding``."""
        if self._encoding is None:
            charset = charset_from_content_type(self.headers.get("content-type"))
            self._encoding = charset or self.default_encoding
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        if self._text is not None:
            raise ValueError("set .encoding before reading .text")
        self._encoding = value

    # -- body ----------------------------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The body bytes (``ResponseNotRead`` on a streamed response not read yet)."""
        if self._content is None:
            raise ResponseNotRead(
                "the body of a streamed response is not read; use `await response.aread()`"
            )
        return self._content

    @property
    def text(self) -> str:
        """The body decoded with ``.encoding`` (undecodable bytes become U+FFFD)."""
        if self._text is None:
            content = self.content
            self._text = content.decode(self.encoding, errors="replace") if content else ""
        return self._text

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON, honouring a declared charset (else RFC 8259 detection)."""
        content = self.content
        charset = charset_from_content_type(self.headers.get("content-type"))
        if charset is not None and charset not in ("utf-8", "ascii"):
            return jsonlib.loads(content.decode(charset, errors="replace"), **kwargs)
        return jsonlib.loads(content, **kwargs)

    async def aread(self) -> bytes:
        """Read the whole body (once; later calls return the same bytes)."""
        if self._content is None:
            self._claim_stream()
            try:
                self._content = await self._read_and_decode()
            except HyperHTTPError as exc:
                if exc.request is None:
                    exc.request = self.request
                raise
            finally:
                await self.aclose()
        return self._content

    async def adiscard(self, limit: int) -> None:
        """Drop the body without decoding it: read up to ``limit`` raw bytes off the
        connection (so it can be reused), or close the connection if there are more."""
        if self._content is None and not self.is_closed and not self.is_stream_consumed:
            self.is_stream_consumed = True
            try:
                await self.stream.aread_all(limit)
            except HyperHTTPError:
                pass  # too large or broken: closing below discards the connection
        await self.aclose()

    def _claim_stream(self) -> None:
        if self.is_stream_consumed:
            raise StreamConsumed("the response body was already streamed")
        if self.is_closed:
            raise ResponseClosed("the response was closed before its body was read")
        self.is_stream_consumed = True

    async def _read_and_decode(self) -> bytes:
        try:
            decoder = make_decoder(_content_encoding(self.headers))
        except HyperHTTPError:
            # Read (and drop) the body anyway, so the connection stays reusable.
            await self.stream.aread_all(self.max_response_size)
            raise
        raw = await self.stream.aread_all(self.max_response_size)
        self.num_bytes_downloaded = len(raw)
        if decoder is None:
            return raw
        # Piece by piece, so max_decompressed_size stops a bomb before it is expanded.
        pieces, total = [], 0
        for piece in itertools.chain(decoder.decode(raw), decoder.flush()):
            total += len(piece)
            _check_decoded_size(total, self.max_decompressed_size)
            pieces.append(piece)
        return b"".join(pieces)

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncGenerator[bytes, None]:
        """The body as it came off the wire (still content-encoded), chunk by chunk."""
        self._claim_stream()
        limit = self.max_response_size
        buffer = b""
        try:
            async for chunk in self.stream:
                self.num_bytes_downloaded += len(chunk)
                if limit is not None and self.num_bytes_downloaded > limit:
                    raise ResponseTooLarge(f"response body exceeds {limit} bytes")
                if chunk_size is None:
                    yield chunk
                    continue
                buffer += chunk
                while len(buffer) >= chunk_size:
                    yield buffer[:chunk_size]
                    buffer = buffer[chunk_size:]
            if buffer:
                yield buffer
        except HyperHTTPError as exc:
            if exc.request is None:
                exc.request = self.request
            raise
        finally:
            await self.aclose()

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body bytes, decoded from any Content-Encoding, chunk by chunk."""
        if self._content is not None:
            step = chunk_size or len(self._content) or 1
            for start in range(0, len(self._content), step):
                yield self._content[start : start + step]
            return
        try:
            decoder = make_decoder(_content_encoding(self.headers))
        except HyperHTTPError as exc:
            exc.request = self.request
            await self.aclose()
            raise
        if decoder is None:
            async for chunk in self.aiter_raw(chunk_size):
                yield chunk
            return
        total = 0
        rechunk = _Rechunker(chunk_size)
        raw = self.aiter_raw()
        try:
            async for chunk in raw:
                for piece in decoder.decode(chunk):
                    total += len(piece)
                    _check_decoded_size(total, self.max_decompressed_size)
                    for out in rechunk.feed(piece):
                        yield out
            for piece in decoder.flush():
                total += len(piece)
                _check_decoded_size(total, self.max_decompressed_size)
                for out in rechunk.feed(piece):
                    yield out
            if rechunk.pending:
                yield rechunk.pending
        except HyperHTTPError as exc:
            # Raised here, not in aiter_raw: attach the request as every other error does.
            if exc.request is None:
                exc.request = self.request
            raise
        finally:
            await raw.aclose()  # closes the response (and a half-read connection) now

    async def aiter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        """The body as text, never splitting a multibyte character."""
        decoder = TextDecoder(self.encoding)
        async for chunk in self.aiter_bytes(chunk_size):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.flush()
        if tail:
            yield tail

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body as lines of text, split on LF, CRLF or CR (terminators removed)."""
        lines = LineDecoder()
        async for text in self.aiter_text():
            for line in lines.decode(text):
                yield line
        for line in lines.flush():
            yield line

    async def aclose(self) -> None:
        """Close the response; an unread body releases (or discards) its connection."""
        if self.is_closed:
            return
        self.is_closed = True
        self._elapsed = datetime.timedelta(seconds=time.perf_counter() - self._started)
        try:
            await self.stream.aclose()
        finally:
            if self.on_close is not None:
                self.on_close(self)

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason_phrase}]>"


def _content_encoding(headers: Headers) -> str | None:
    # Every Content-Encoding line counts ("gzip" and "br" on two lines mean "gzip, br"); the
    # common case (none) is answered without building the header index.
    if headers.raw_value(b"content-encoding") is None:
        return None
    value: str | None = headers.get("content-encoding")
    return value


class _Rechunker:
    """Cuts decoded pieces into ``size``-byte chunks (the last may be shorter; ``None``:
    pieces pass through as they are)."""

    def __init__(self, size: int | None) -> None:
        self._size = size
        self.pending = b""

    def feed(self, piece: bytes) -> Iterator[bytes]:
        size = self._size
        if size is None:
            if piece:
                yield piece
            return
        start = 0
        if self.pending:
            start = size - len(self.pending)
            self.pending += piece[:start]
            if len(self.pending) < size:
                return
            yield self.pending
        while len(piece) - start >= size:
            yield piece[start : start + size]
            start += size
        self.pending = piece[start:]


def _check_decoded_size(total: int, limit: int | None) -> None:
    if limit is not None and total > limit:
        raise DecompressionError(f"the decompressed body exceeds {limit} bytes")


def _body_from(content: bytes | str | None, text: str | None, json: Any, headers: Headers) -> bytes:
    if content is not None:
        return content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if text is not None:
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return text.encode("utf-8")
    if json is not None:
        headers.setdefault("Content-Type", "application/json")
        return jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b""
