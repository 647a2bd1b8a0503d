"""Sans-I/O HTTP/1.1, client side: serialise requests, parse responses. No sockets here.

Theory of operation
-------------------
A connection owns one :class:`ResponseParser`. Before a request is written it calls
``parser.expect(method)``; then every received chunk goes to ``feed(data)``, which returns the
events that chunk completed, in order:

* a :class:`ResponseHead` once the final (non-1xx) status line and header block are parsed,
* ``bytes`` objects for body data (already de-chunked),
* a :class:`ResponseEnd` (with any trailers) when the message is complete.

At EOF the connection calls ``feed_eof()``, which returns the ``ResponseEnd`` of a
read-until-close body or raises if the message was cut short. Every framing violation raises
:class:`~hyperhttp.RemoteProtocolError`; after any error the parser is dead and the
connection must be discarded.

The byte-level work is done by httptools (llhttp, Node.js's parser), which is strict by
default: it already rejects CL+TE, duplicate or malformed Content-Length, bare CR/LF, NUL,
obs-fold, bad chunk sizes and bad tokens. This module adds what llhttp leaves to the caller:

* responses to HEAD carry no body whatever their headers say (llhttp cannot know the method);
* status codes outside 100-599 and HTTP versions other than 1.0/1.1 are errors;
* 1xx interim responses are skipped, at most ``MAX_INTERIM_RESPONSES``; 101 is an error since
  we never ask for an upgrade;
* ``Transfer-Encoding`` other than exactly ``chunked`` (e.g. ``gzip``, or ``chunked`` that is
  not the final coding), or any Transfer-Encoding in an HTTP/1.0 response, is an error rather
  than llhttp's read-until-close fallback (RFC 9112 §6.3 allows either; strict closes the
  request-smuggling door);
* caps on header bytes and count, counted across reads, so a drip-fed header block cannot
  grow memory without bound;
* the same byte cap on chunk framing that carries no body data (chunk extensions, trailers),
  so an endless extension or trailer line is cut too;
* a connection is reusable only if the response said keep-alive *and* no byte followed the
  end of the message (surplus bytes mean the peer and we disagree on framing).
"""

from __future__ import annotations

from typing import Final

import httptools

from .._exceptions import RemoteProtocolError

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_HEADER_COUNT",
    "MAX_INTERIM_RESPONSES",
    "ResponseEnd",
    "ResponseHead",
    "ResponseParser",
    "encode_chunk",
    "serialize_request_head",
]

# Total bytes of status line + header fields of one response (1xx heads included).
# 64 KiB: h11 and aiohttp use 64 KiB / 8 KiB per line; nginx's large_client_header_buffers
# default is 4 x 8 KiB. Real responses stay far below; a drip-fed flood is cut here.
MAX_HEADER_BYTES: Final = 64 * 1024
# Header fields in one response. aiohttp and http.client use 100; servers that set many
# cookies need a little more room.
MAX_HEADER_COUNT: Final = 128
# 1xx responses skipped before the final one (curl allows a handful; 10 000 x "100" is an
# attack, F-18).
MAX_INTERIM_RESPONSES: Final = 16

CHUNKED_TERMINATOR: Final = b"0\r\n\r\n"


class ResponseHead:
    """The final status line and header block of a response."""

    __slots__ = ("headers", "http_version", "keep_alive", "reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive

    def __repr__(self) -> str:
        return f"<ResponseHead {self.status_code} {self.http_version}>"


class ResponseEnd:
    """The end of a response message, with its trailer fields (kept apart from headers)."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.trailers = trailers

    def __repr__(self) -> str:
        return f"<ResponseEnd trailers={len(self.trailers)}>"


Event = ResponseHead | bytes | ResponseEnd

_HEAD: Final = b"HEAD"
_HTTP_PREFIX: Final = b"HTTP/"
# Reads longer than this are fed in slices while the head or a chunked body is being parsed.
_SLICE: Final = 16 * 1024
# reason-phrase = *( HTAB / SP / VCHAR / obs-text ): other C0 controls and DEL are errors
# (llhttp lets a NUL through).
_BAD_REASON: Final = bytes(b for b in range(32) if b != 9) + b"\x7f"
_VERSIONS: Final = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}


class ResponseParser:
    """Parses the responses arriving on one HTTP/1.1 connection. See the module docstring."""

    __slots__ = (
        "_body_received",
        "_body_until_close",
        "_complete",
        "_events",
        "_failed",
        "_fed_head",
        "_framing_run",
        "_has_content_length",
        "_head_bytes",
        "_head_done",
        "_head_tail",
        "_headers",
        "_interim_count",
        "_is_head_request",
        "_keep_alive",
        "_max_header_bytes",
        "_max_header_count",
        "_max_interim",
        "_parser",
        "_prefix",
        "_reason",
        "_status",
        "_surplus",
        "_te_chunked",
        "_te_seen",
        "_trailers",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_count: int = MAX_HEADER_COUNT,
        max_interim_responses: int = MAX_INTERIM_RESPONSES,
    ) -> None:
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._max_interim = max_interim_responses
        self._parser: httptools.HttpResponseParser | None = None
        self._events: list[Event] = []
        self._failed = False
        self._complete = True
        self._is_head_request = False
        self._surplus = False
        self._interim_count = 0
        self._head_bytes = 0
        self._fed_head = 0
        self._head_tail = b""
        self._prefix = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._trailers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._head_done = False
        self._body_received = 0
        self._keep_alive = False
        self._body_until_close = False
        self._te_seen = False
        self._te_chunked = False
        self._has_content_length = False
        self._framing_run = 0

    # -- public API -------------------------------------------------------------------------

    def expect(self, method: bytes) -> None:
        """Prepare for the response to a request with ``method`` (call before writing it)."""
        if self._failed:
            raise RemoteProtocolError("the connection failed earlier and cannot be reused")
        # A fresh llhttp state per response costs ~1 µs and makes HEAD (whose body we never
        # let llhttp consume) and any earlier oddity unable to leak into this response.
        self._parser = httptools.HttpResponseParser(self)
        self._is_head_request = method == _HEAD
        self._complete = False
        self._surplus = False
        self._interim_count = 0
        self._head_bytes = 0
        self._fed_head = 0
        self._head_tail = b""
        self._prefix = b""
        self._reset_message()

    @property
    def complete(self) -> bool:
        """True once the expected response has fully arrived."""
        return self._complete

    @property
    def reusable(self) -> bool:
        """True if the connection may carry another request after this response."""
        return self._complete and self._keep_alive and not self._surplus and not self._failed

    @property
    def has_surplus(self) -> bool:
        """True if bytes arrived after the end of the response (the connection is unusable)."""
        return self._surplus

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data``; return the events it completed. Raises RemoteProtocolError."""
        parser = self._parser
        if parser is None or self._failed:
            # Bytes with no request outstanding: the peer is out of step with us.
            self._surplus = True
            return []
        if self._complete:
            self._surplus = True
            return []
        if self._is_head_request and not self._head_done:
            return self._feed_head_response(data)
        if len(data) > _SLICE and (self._te_chunked or not self._head_done):
            return self._feed_sliced(data)
        return self._feed(data)

    def _feed_sliced(self, data: bytes) -> list[Event]:
        # Chunk framing is measured per feed (see _feed); slicing big reads keeps that
        # measure within _SLICE bytes of exact. Memoryviews: no copies.
        events: list[Event] = []
        view = memoryview(data)
        for start in range(0, len(data), _SLICE):
            if self._complete or self._failed:
                self._surplus = True
                break
            events += self._feed(view[start : start + _SLICE])
        return events

    def _feed(self, data: bytes | memoryview) -> list[Event]:
        parser = self._parser
        assert parser is not None
        head_was_done = self._head_done
        body_before = self._body_received
        if len(self._prefix) < 5:
            self._check_prefix(data)
        events: list[Event] = []
        self._events = events
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail()
            if not self.complete:  # the property: callbacks changed _complete meanwhile
                raise RemoteProtocolError(
                    "the server switched protocols (101) but no upgrade was requested"
                ) from None
            self._surplus = True
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, RemoteProtocolError):
                # One of our own checks failed inside a callback; httptools wraps it.
                self._fail()
                raise cause from None
            if self.complete:
                # The response is whole; what followed it is garbage that poisons only
                # the connection, not the response already received.
                self._surplus = True
                self._failed = True
            else:
                self._fail()
                raise RemoteProtocolError(f"malformed response: {_describe(exc)}") from None
        except RemoteProtocolError:
            self._fail()
            raise
        if not self._head_done and not self._complete:
            # Every byte so far belongs to a head (1xx heads included): this bounds a head
            # that never ends, however it is drip-fed. Complete heads are measured exactly
            # by the callbacks instead (the last read may carry body bytes too).
            self._fed_head += len(data)
            if self._fed_head > self._max_header_bytes:
                self._fail()
                raise RemoteProtocolError(
                    f"response header block exceeds {self._max_header_bytes} bytes"
                )
        elif head_was_done and self._te_chunked and not self._complete:
            # Bytes of chunk framing with no body byte among them: chunk-size lines with
            # their extensions, and trailers. llhttp buffers nothing of an extension, but
            # httptools does grow a trailer field until its line ends; either way a peer
            # sending framing that never ends is cut here.
            if self._body_received != body_before:
                self._framing_run = 0
            else:
                self._framing_run += len(data)
                if self._framing_run > self._max_header_bytes:
                    self._fail()
                    raise RemoteProtocolError(
                        f"more than {self._max_header_bytes} bytes of chunk framing "
                        "(chunk extensions or trailers) without body data"
                    )
        return events

    def _feed_head_response(self, data: bytes) -> list[Event]:
        # The response to HEAD ends with its head, but llhttp does not know that and would
        # quietly eat what follows as body (chunk-size digits give no callback at all). So
        # the head is fed up to each blank line (one per 1xx head, then the final one:
        # llhttp rejects bare LF, so CRLFCRLF is the only way a head ends) and anything
        # after the final head is surplus, never parsed.
        events: list[Event] = []
        while data:
            window = self._head_tail + data
            end = window.find(b"\r\n\r\n")
            if end < 0:
                self._head_tail = window[-3:]
                events += self._feed(data)
                return events
            cut = end + 4 - len(self._head_tail)
            self._head_tail = b""
            events += self._feed(data[:cut])
            data = data[cut:]
            if self._complete:
                if data:
                    self._surplus = True
                break
        return events

    @property
    def body_until_close(self) -> bool:
        """True while the body runs until the connection closes (no length, not chunked)."""
        return self._head_done and self._body_until_close and not self._complete

    def feed_eof(self) -> list[Event]:
        """The peer closed the connection. Returns the final events or raises."""
        self._failed = True  # nothing can follow an EOF
        if self._complete:
            return []
        if self._parser is None:
            return []
        if self._head_done and self._body_until_close:
            self._complete = True
            self._keep_alive = False
            return [ResponseEnd([])]
        if not self._head_done and self._fed_head == 0 and self._interim_count == 0:
            raise RemoteProtocolError("server closed the connection without sending a response")
        if not self._head_done:
            raise RemoteProtocolError("server closed the connection in the middle of the headers")
        expected = _content_length(self._headers)
        detail = (
            f"{self._body_received} of {expected} bytes"
            if expected is not None
            else (f"{self._body_received} bytes of a chunked body")
        )
        raise RemoteProtocolError(
            f"server closed the connection before the body was complete ({detail} received)"
        )

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            self._surplus = True

    def on_status(self, status: bytes) -> None:
        # llhttp reports the reason phrase in as many pieces as it arrived in.
        self._reason += status
        self._count_head_bytes(len(status))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._complete:
            return
        if self._head_done:
            # A trailer field (after the last chunk).
            self._head_bytes += len(name) + len(value) + 4
            if self._head_bytes > self._max_header_bytes:
                raise RemoteProtocolError(f"trailers exceed {self._max_header_bytes} bytes")
            if len(self._trailers) >= self._max_header_count:
                raise RemoteProtocolError(f"more than {self._max_header_count} trailer fields")
            self._trailers.append((name, value))
            return
        # Inlined (this runs for every header of every response): "name: value\r\n".
        head_bytes = self._head_bytes + len(name) + len(value) + 4
        self._head_bytes = head_bytes
        if head_bytes > self._max_header_bytes:
            raise RemoteProtocolError(
                f"response header block exceeds {self._max_header_bytes} bytes"
            )
        headers = self._headers
        if len(headers) >= self._max_header_count:
            raise RemoteProtocolError(f"response has more than {self._max_header_count} headers")
        name_length = len(name)
        if name_length == 14:
            if name.lower() == b"content-length":
                self._has_content_length = True
        elif name_length == 17 and name.lower() == b"transfer-encoding":
            self._check_transfer_encoding(value)
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._complete:
            return
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            raise RemoteProtocolError("unsupported HTTP version in the status line")
        if not 100 <= status <= 599:
            raise RemoteProtocolError(f"invalid status code {status}")
        reason = self._reason
        if reason.translate(None, _BAD_REASON) != reason:
            raise RemoteProtocolError("control character in the reason phrase")
        # "HTTP/1.1 200 " + CRLF (the reason itself was counted as it came), final CRLF.
        self._count_head_bytes((15 if reason else 14) + 2)
        if status < 200:
            if status == 101:
                return  # llhttp raises HttpParserUpgrade right after this callback
            self._interim_count += 1
            if self._interim_count > self._max_interim:
                raise RemoteProtocolError(f"more than {self._max_interim} interim (1xx) responses")
            self._reset_message()
            return
        if self._te_seen and version == "HTTP/1.0":
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 response")
        self._head_done = True
        keep_alive = bool(parser.should_keep_alive())
        self._keep_alive = keep_alive
        headers = self._headers
        self._events.append(ResponseHead(status, self._reason, version, headers, keep_alive))
        if self._is_head_request or status == 204 or status == 304:
            # No body, whatever Content-Length says (RFC 9110 §6.4.1). For HEAD llhttp would
            # wait for that many bytes; we finish here and any byte that does come is surplus.
            self._finish()
            return
        if not self._te_chunked and not self._has_content_length:
            self._body_until_close = True
            self._keep_alive = False

    def on_body(self, body: bytes) -> None:
        if self._complete:
            self._surplus = True
            return
        self._body_received += len(body)
        self._events.append(body)

    def on_message_complete(self) -> None:
        if self._complete or not self._head_done:
            return  # an interim response ended (handled in on_headers_complete)
        self._finish()

    # -- internals --------------------------------------------------------------------------

    def _finish(self) -> None:
        self._complete = True
        self._events.append(ResponseEnd(self._trailers))

    def _fail(self) -> None:
        self._failed = True
        self._keep_alive = False

    def _reset_message(self) -> None:
        self._headers = []
        self._trailers = []
        self._reason = b""
        self._head_done = False
        self._body_received = 0
        self._keep_alive = False
        self._body_until_close = False
        self._te_seen = False
        self._te_chunked = False
        self._has_content_length = False
        self._framing_run = 0

    def _count_head_bytes(self, count: int) -> None:
        # Status lines and fields of the final head and every 1xx head before it, as they
        # appear on the wire when fields are written "name: value".
        self._head_bytes += count
        if self._head_bytes > self._max_header_bytes:
            raise RemoteProtocolError(
                f"response header block exceeds {self._max_header_bytes} bytes"
            )

    def _check_prefix(self, data: bytes | memoryview) -> None:
        # llhttp also takes "RTSP/1.0" and "ICE/1.0" status lines (as version 1.0): protocol
        # confusion. Checked on the first bytes, so a TLS reply to a plain-text request fails
        # at once rather than after a timeout.
        prefix = self._prefix + bytes(data[: 5 - len(self._prefix)])
        self._prefix = prefix
        if not _HTTP_PREFIX.startswith(prefix):
            self._fail()
            hint = " (a TLS server on a plain-text connection?)" if prefix[:1] == b"\x16" else ""
            raise RemoteProtocolError(f"the response does not start with 'HTTP/'{hint}")

    def _check_transfer_encoding(self, value: bytes) -> None:
        if self._te_seen:
            raise RemoteProtocolError("more than one Transfer-Encoding header")
        self._te_seen = True
        codings = [c.strip().lower() for c in value.split(b",")]
        if codings != [b"chunked"]:
            raise RemoteProtocolError(
                "unsupported Transfer-Encoding (only a single 'chunked' is accepted)"
            )
        self._te_chunked = True


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if len(name) == 14 and name.lower() == b"content-length":
            # llhttp accepted it: ASCII digits, value below 2**64. Leading zeros are not
            # limited, and int() refuses strings over 4300 digits: strip them first.
            return int(value.strip().lstrip(b"0") or b"0")
    return None


def _describe(exc: Exception) -> str:
    # llhttp's messages are short English phrases about syntax, never echoing the payload.
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def serialize_request_head(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
) -> bytes:
    """The request line and header block as one bytes object (one write, no Nagle split).

    ``method``, ``target`` and ``headers`` must already be validated (the Request model does
    it); this function only lays them out.
    """
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a chunked request body (empty data must not be sent: it ends the body)."""
    return b"%x\r\n%b\r\n" % (len(data), data)
