"""The server side of HTTP/1.1, sans-I/O: bytes in, request events out; responses to bytes.

:class:`RequestParser` wraps ``httptools.HttpRequestParser`` (llhttp, strict mode) and adds the
checks a server needs on top of it: caps on the request line, the header block, the number of
headers and the body size (counted across fragments, so a drip-fed request is capped exactly
like one sent in a single write), a mandatory single ``Host`` in HTTP/1.1, no
``Transfer-Encoding`` in HTTP/1.0 nor empty elements in its list (``,chunked``), and "stop at the
first error": once :class:`RequestRejected` has been produced, nothing after it is parsed.

The response side refuses CR, LF and NUL in reason phrases, header names and header values
(response splitting, checklist SV-07) and frames bodies with Content-Length or chunked encoding.

Nothing here knows about sockets or asyncio.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

import httptools

__all__ = [
    "MAX_BODY_SIZE",
    "MAX_HEADER_BLOCK_SIZE",
    "MAX_HEADER_COUNT",
    "MAX_REQUEST_LINE_SIZE",
    "BodyChunk",
    "RequestEnd",
    "RequestHead",
    "RequestParser",
    "RequestRejected",
    "ResponseHeaderError",
    "body_allowed",
    "chunk",
    "last_chunk",
    "serialize_response_head",
]

#: Longest request target (the URL part of the request line) accepted; longer gets 414.
MAX_REQUEST_LINE_SIZE = 8 * 1024
#: Most bytes a request head (request line + header lines) may take; more gets 431.
MAX_HEADER_BLOCK_SIZE = 64 * 1024
#: Most header fields a request may carry; more gets 431.
MAX_HEADER_COUNT = 128
#: Largest request body accepted by default; more gets 413.
MAX_BODY_SIZE = 64 * 1024 * 1024

_HEADER_OVERHEAD = 4  # ": " and CRLF around every header line


@dataclass
class RequestHead:
    """A request line and its headers, as received (names keep their case)."""

    method: str
    target: bytes
    http_version: str
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    expect_continue: bool = False


@dataclass
class BodyChunk:
    """A piece of the request body (chunked framing already removed)."""

    data: bytes


@dataclass
class RequestEnd:
    """The request whose head was last reported is complete."""


@dataclass
class RequestRejected:
    """The peer sent something we refuse; answer ``status`` and close the connection."""

    status: int
    reason: str = field(default="")

    def __post_init__(self) -> None:
        if not self.reason:
            self.reason = HTTPStatus(self.status).phrase


Event = RequestHead | BodyChunk | RequestEnd | RequestRejected


class _Stop(Exception):
    """Raised inside a parser callback to abort parsing with a status."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


class RequestParser:
    """Turns the bytes of one connection into :data:`Event` objects.

    Feed it with :meth:`feed`; it returns the events completed by that data. After a
    :class:`RequestRejected` event the parser is dead: further input is ignored.
    """

    def __init__(
        self,
        *,
        max_request_line: int = MAX_REQUEST_LINE_SIZE,
        max_header_block: int = MAX_HEADER_BLOCK_SIZE,
        max_header_count: int = MAX_HEADER_COUNT,
        max_body_size: int = MAX_BODY_SIZE,
    ) -> None:
        self.max_request_line = max_request_line
        self.max_header_block = max_header_block
        self.max_header_count = max_header_count
        self.max_body_size = max_body_size
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._dead = False
        self._in_head = True  # between messages counts as "head": the next one starts there
        self._began_in_this_feed = False
        self._completed_in_this_feed = False
        self._head_raw = 0
        self._head_known = 0
        self._url = bytearray()
        self._headers: list[tuple[bytes, bytes]] = []
        self._body_size = 0

    @property
    def dead(self) -> bool:
        """True once the input was rejected; the connection must be closed."""
        return self._dead

    @property
    def in_head(self) -> bool:
        """True while a request head is (or the next one would be) being received."""
        return self._in_head

    @property
    def mid_request(self) -> bool:
        """True when part of a request has been received but not all of it."""
        return not self._in_head or self._head_raw > 0 or bool(self._url)

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data``; return the events it completed (possibly ending in a rejection)."""
        if self._dead:
            return []
        room = self._head_room()
        if room is None or len(data) <= room:
            # the common case: one request (or body bytes) that fits; no slicing needed
            self._feed_piece(data)
            self._check_head_cap()
            return self._drain_events()
        view = memoryview(data)
        while view and not self._dead:
            room = self._head_room()
            piece = (
                bytes(view[: room + 1]) if room is not None and len(view) > room else bytes(view)
            )
            self._feed_piece(piece)
            self._check_head_cap()
            view = view[len(piece) :]
        return self._drain_events()

    def _check_head_cap(self) -> None:
        after = self._head_room()
        if not self._dead and after is not None and after < 0:
            if self._headers or len(self._url) == 0:
                self._reject(431, "Request Header Fields Too Large")
            else:
                self._reject(414, "URI Too Long")

    def _head_room(self) -> int | None:
        """Bytes the current head may still take (negative: over the cap; None: in a body)."""
        if not self._in_head:
            return None
        return self.max_header_block - max(self._head_raw, self._head_known)

    def _drain_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def _feed_piece(self, piece: bytes) -> list[Event]:
        """Feed one piece that cannot exceed the head cap; returns [] (events are queued)."""
        started_in_head = self._in_head
        self._began_in_this_feed = False
        self._completed_in_this_feed = False
        try:
            self._parser.feed_data(piece)
        except httptools.HttpParserUpgrade as upgrade:
            self._ignore_upgrade(piece, int(upgrade.args[0]))
            return []
        except (_Stop, httptools.HttpParserError) as exc:
            self._handle_error(exc)
            return []
        if self._in_head and started_in_head:
            if not self._began_in_this_feed:
                self._head_raw += len(piece)
            elif not self._completed_in_this_feed:
                self._head_raw = len(piece)
        return []

    def _ignore_upgrade(self, piece: bytes, offset: int) -> None:
        """Answer an ``Upgrade`` request (h2c, websocket) as plain HTTP/1.1 (RFC 9110 §7.8).

        llhttp stops at the end of such a request's head, taking what follows for the new
        protocol; we never switch, so a fresh parser reads on. (An upgrade request announcing
        a body was refused in ``on_headers_complete``: llhttp would not parse that body.)
        """
        self._parser = httptools.HttpRequestParser(self)
        if offset < len(piece):
            self._feed_piece(piece[offset:])

    def _handle_error(self, exc: Exception) -> None:
        if isinstance(exc, _Stop):
            self._reject(exc.status, exc.reason)
        elif isinstance(exc, httptools.HttpParserCallbackError):
            inner = exc.__context__
            if isinstance(inner, _Stop):
                self._reject(inner.status, inner.reason)
            else:
                self._reject(400, "Bad Request")
        elif isinstance(exc, httptools.HttpParserInvalidMethodError):
            self._reject(400, "Bad Request (invalid method)")
        elif isinstance(exc, httptools.HttpParserInvalidURLError):
            self._reject(400, "Bad Request (invalid request target)")
        elif isinstance(exc, httptools.HttpParserUpgrade):
            self._reject(400, "Bad Request (upgrade not supported)")
        else:
            self._reject(400, f"Bad Request ({_short(exc)})")

    def _reject(self, status: int, reason: str) -> None:
        self._dead = True
        self._events.append(RequestRejected(status, reason))

    # -- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = True
        self._began_in_this_feed = True
        self._head_raw = 0
        self._head_known = 0
        self._url = bytearray()
        self._headers = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_known += len(url)
        if len(self._url) > self.max_request_line:
            raise _Stop(414, "URI Too Long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._head_known += len(name) + len(value) + _HEADER_OVERHEAD
        if len(self._headers) > self.max_header_count:
            raise _Stop(431, "Request Header Fields Too Large (too many headers)")
        if self._head_known > self.max_header_block:
            raise _Stop(431, "Request Header Fields Too Large")

    def on_headers_complete(self) -> None:
        version = self._parser.get_http_version()
        hosts = 0
        expect_continue = False
        body = False
        upgrade = connection_upgrade = False
        for name, value in self._headers:
            lname = name.lower()
            if lname == b"host":
                hosts += 1
                if hosts > 1:
                    raise _Stop(400, "Bad Request (more than one Host header)")
                if _bad_value(value):
                    raise _Stop(400, "Bad Request (invalid Host header)")
            elif lname == b"content-length":
                if len(value) > 19 or int(value) > self.max_body_size:
                    raise _Stop(413, "Content Too Large")
                body = body or value.strip() not in (b"0", b"")
            elif lname == b"transfer-encoding":
                if version != "1.1":  # RFC 9112 §6.1: framing a 1.0 peer cannot mean
                    raise _Stop(400, "Bad Request (Transfer-Encoding in HTTP/1.0)")
                if any(not item.strip(b" \t") for item in value.split(b",")):
                    raise _Stop(400, "Bad Request (empty Transfer-Encoding element)")
                body = True
            elif lname == b"upgrade":
                upgrade = True
            elif lname == b"connection" and b"upgrade" in value.lower():
                connection_upgrade = True
            elif lname == b"expect":
                expect_continue = value.strip().lower() == b"100-continue"
        if version == "1.1" and not hosts:
            raise _Stop(400, "Bad Request (missing Host header)")
        if hosts and not _host_agrees(bytes(self._url), self._headers):
            raise _Stop(400, "Bad Request (Host disagrees with the absolute-form target)")
        if upgrade and connection_upgrade and body:  # llhttp would not parse this body
            raise _Stop(400, "Bad Request (Upgrade with a request body)")
        self._in_head = False
        method = self._parser.get_method().decode("ascii")
        self._events.append(
            RequestHead(
                method=method,
                target=bytes(self._url),
                http_version=version,
                headers=self._headers,
                keep_alive=bool(self._parser.should_keep_alive()),
                expect_continue=expect_continue,
            )
        )

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.max_body_size:
            raise _Stop(413, "Content Too Large")
        self._events.append(BodyChunk(body))

    def on_message_complete(self) -> None:
        self._events.append(RequestEnd())
        self._completed_in_this_feed = True
        self._in_head = True
        self._head_raw = 0
        self._head_known = 0
        self._url = bytearray()


_DEFAULT_PORTS = {b"http": b"80", b"https": b"443"}


def _host_agrees(target: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """False when an absolute-form ``target`` names another authority than ``Host``.

    RFC 9112 §3.2 requires a client to send a Host identical to the target's authority
    (without userinfo); §3.2.2 lets an origin server ignore Host then, but a test server is
    there to catch client bugs, so a disagreement is refused. The host compares
    case-insensitively and an omitted port equals the scheme's default port.
    """
    scheme, sep, rest = target.partition(b"://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        return True  # origin-form, authority-form (CONNECT) or asterisk-form
    authority = re.split(rb"[/?#]", rest, maxsplit=1)[0].rpartition(b"@")[2]
    host = next(value for name, value in headers if name.lower() == b"host")
    default = _DEFAULT_PORTS[scheme]
    return _authority_key(authority, default) == _authority_key(host.strip(b" \t"), default)


def _authority_key(authority: bytes, default_port: bytes) -> tuple[bytes, bytes]:
    host, colon, port = authority.rpartition(b":")
    if not colon or b"]" in port:  # no port (an IPv6 literal's colons are inside [])
        host, port = authority, b""
    return host.lower(), port or default_port


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return _printable(text)[:100]


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


# -- response side ------------------------------------------------------------------------

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")


class ResponseHeaderError(ValueError):
    """A handler produced a status line or header that cannot be sent safely."""


def _bad_value(value: bytes) -> bool:
    return _BAD_VALUE.search(value) is not None


def _to_bytes(value: str | bytes, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise ResponseHeaderError(f"{what} is not latin-1 encodable: {value!r}") from None


def serialize_response_head(
    status: int,
    reason: str | bytes,
    headers: Sequence[tuple[str | bytes, str | bytes]],
    *,
    http_version: str = "1.1",
) -> bytes:
    """The status line and header block of a response, ending with the blank line.

    Raises :class:`ResponseHeaderError` for a status outside 100-999, a reason phrase or a
    header value containing CR, LF or NUL, or a header name that is not a token.
    """
    if not 100 <= status <= 999:
        raise ResponseHeaderError(f"invalid status code: {status!r}")
    if isinstance(reason, str) and http_version == "1.1":
        fast = _serialize_str_head(status, reason, headers)
        if fast is not None:
            return fast
    reason_b = _to_bytes(reason, "reason phrase")
    parts = [b"HTTP/%s %d %s" % (http_version.encode("ascii"), status, reason_b)]
    for name, value in headers:
        name_b = _to_bytes(name, "header name")
        if name_b not in _GOOD_NAMES:
            if _TOKEN.match(name_b) is None:
                raise ResponseHeaderError(f"invalid header name: {name_b!r}")
            if len(_GOOD_NAMES) < 4096:
                _GOOD_NAMES.add(name_b)
        parts.append(name_b + b": " + _to_bytes(value, "header value"))
    if _BAD_VALUE.search(b"".join(parts)) is not None:  # one scan for the whole head
        _explain_bad(reason_b, headers)
    return b"\r\n".join(parts) + b"\r\n\r\n"


_GOOD_NAMES: set[bytes] = set()
_GOOD_STR_NAMES: set[str] = set()
_BAD_STR = re.compile(r"[\x00\r\n]")


def _serialize_str_head(
    status: int, reason: str, headers: Sequence[tuple[str | bytes, str | bytes]]
) -> bytes | None:
    """The common all-``str`` case in one pass; None means "use the general path"."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in headers:
        if type(name) is not str or type(value) is not str:
            return None
        if name not in _GOOD_STR_NAMES:
            if not name.isascii() or _TOKEN.match(name.encode("ascii")) is None:
                return None
            if len(_GOOD_STR_NAMES) < 4096:
                _GOOD_STR_NAMES.add(name)
        lines.append(f"{name}: {value}")
    if _BAD_STR.search("".join(lines)) is not None:
        return None  # the general path explains what is wrong
    try:
        return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
    except UnicodeEncodeError:
        return None


def _explain_bad(reason: bytes, headers: Sequence[tuple[str | bytes, str | bytes]]) -> None:
    if _bad_value(reason):
        raise ResponseHeaderError(f"CR, LF or NUL in reason phrase: {reason!r}")
    for name, value in headers:
        value_b = _to_bytes(value, "header value")
        if _bad_value(value_b):
            raise ResponseHeaderError(f"CR, LF or NUL in header {name!r}: {value_b!r}")
    raise ResponseHeaderError("CR, LF or NUL in response head")  # pragma: no cover


def body_allowed(method: str, status: int) -> bool:
    """False when the response must have no body (HEAD, 1xx, 204, 304)."""
    return not (method == "HEAD" or status < 200 or status in (204, 304))


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (empty data gives empty bytes: not the last chunk)."""
    if not data:
        return b""
    return b"%x\r\n%s\r\n" % (len(data), data)


def last_chunk() -> bytes:
    """The terminating zero-length chunk, without trailers."""
    return b"0\r\n\r\n"
