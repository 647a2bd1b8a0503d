"""Sans-I/O HTTP/2, client side: our own lean codec (RFC 9113 + RFC 7541).

Bytes in, our own small events out; bytes to send are collected with :meth:`data_to_send`.
No sockets and no asyncio here.

Theory of operation
-------------------
``h2`` was the first engine here and stays the reference in the tests (the frame-scripted
peers and the test server use it). Measured on our benchmark it spent ~70% of a request's
client CPU in its generic machinery: a state machine object per stream, event objects per
frame, per-frame ``repr`` for its trace log, HPACK encode without reuse. A client needs
much less: it only ever opens odd streams, never accepts pushes, and sends near-identical
header lists. So this module is a direct frame loop:

* :meth:`H2ClientProtocol.receive` slices whole frames out of the input with one
  ``struct`` call each and dispatches on the frame type. A partial frame waits in a buffer.
* A stream is a small :class:`_StreamState` in a dict while open. Once both sides have
  ended it (or it was reset) it leaves the dict; an odd id below the next one to open is
  therefore *closed*. Streams we reset are remembered (bounded) so that frames the server
  sent before seeing our RST_STREAM are ignored, as RFC 9113 §5.4.2 asks; frames on other
  closed streams get RST_STREAM(STREAM_CLOSED).
* Errors follow RFC 9113 §5.4: a *connection error* queues GOAWAY with its code and raises
  :class:`RemoteProtocolError`; a *stream error* queues RST_STREAM and reports
  :class:`StreamReset` with ``remote=False`` for that stream only. A header block is always
  decoded before its stream is looked at, so the HPACK state stays in step with the server.
* HPACK is :mod:`.h2_hpack` (indexes what it sends; caches Huffman decoding).

What we set, and why:

* Receive windows: 64 KiB per stream throttles a download to one window per round trip, so
  we advertise :data:`STREAM_WINDOW` per stream and :data:`CONNECTION_WINDOW` for the
  connection. Credit is returned by the caller with :meth:`H2ClientProtocol.credit`: the
  connection window as data is received, a stream's as its data is consumed, so one unread
  stream can hold back only itself.
* :data:`MAX_HEADER_LIST_SIZE` caps a decoded header block (HPACK bombs), advertised in our
  SETTINGS. A header block may span at most :data:`MAX_CONTINUATION_FRAMES` CONTINUATION
  frames of at most :data:`MAX_INBOUND_FRAME_SIZE` bytes (a CONTINUATION flood is a
  connection error and memory stays bounded).
* Server push is off (``ENABLE_PUSH=0``): a PUSH_PROMISE is a protocol error.
* A 204 or 304 response, and any response to HEAD, has no body whatever its Content-Length
  says; any other response's DATA must add up to its Content-Length (RFC 9113 §8.1.1).
* After GOAWAY the frames still due on streams up to ``last_stream_id`` are processed as
  usual; opening no new stream is the transport's job.
"""

from __future__ import annotations

import re
from typing import Final

from .._exceptions import LocalProtocolError, RemoteProtocolError
from . import h2_frames as fr
from .h2_events import DataReceived, StreamEnded, WindowOpened
from .h2_hpack import HeaderListTooLarge, HPACKDecoder, HPACKEncoder, HPACKError

__all__ = [
    "CANCEL",
    "CONNECTION_WINDOW",
    "ENHANCE_YOUR_CALM",
    "LAST_STREAM_ID",
    "MAX_CONTINUATION_FRAMES",
    "MAX_HEADER_LIST_SIZE",
    "MAX_INBOUND_FRAME_SIZE",
    "NO_ERROR",
    "REFUSED_STREAM",
    "STREAM_WINDOW",
    "DataReceived",
    "GoAway",
    "H2ClientProtocol",
    "PingAck",
    "ResponseHeaders",
    "SettingsChanged",
    "StreamEnded",
    "StreamReset",
    "TrailersReceived",
    "WindowOpened",
]

# Our receive windows. 4 MiB per stream lets one stream fill a ~300 Mbit/s x 100 ms path
# without waiting for WINDOW_UPDATE; 16 MiB for the connection lets four streams do so at
# once. What a stream may buffer unread is bounded by the transport (it stops crediting).
STREAM_WINDOW: Final = 4 * 1024 * 1024
CONNECTION_WINDOW: Final = 16 * 1024 * 1024
# The decoded size (RFC 9113 §6.5.2: names + values + 32 per field) of one header block;
# h2 and nghttp2 default to 64 KiB too.
MAX_HEADER_LIST_SIZE: Final = 64 * 1024
# Frames we accept: the RFC's minimum maximum, so a header block is at most
# (MAX_CONTINUATION_FRAMES + 1) * 16 KiB = ~1 MiB of HPACK input before decoding.
MAX_INBOUND_FRAME_SIZE: Final = fr.MIN_MAX_FRAME_SIZE
# CONTINUATION frames per header block; h2 allows 64 as well.
MAX_CONTINUATION_FRAMES: Final = 64
# What we advertise as our own limit for streams the server opens (push is off: none).
_LOCAL_MAX_CONCURRENT_STREAMS: Final = 100
# RFC 9113 §5.1.2: without a SETTINGS value the peer's stream limit is unbounded.
_UNLIMITED_STREAMS: Final = 2**31
# Streams we reset whose late frames are ignored: the most recent ones, bounded.
_RESET_MEMORY: Final = 1024
# Known-good response fields (validated once): bounded in count, cleared when full, and
# only short values (so the cache holds at most ~300 KiB).
_VALID_FIELD_CACHE: Final = 1024
_VALID_FIELD_MAX_LEN: Final = 256
# Odd stream ids run out at 2^31 - 1 (RFC 9113 §5.1.1): ~1.07 billion requests, a day and
# a half at 10k req/s on one connection. The transport then retires the connection.
LAST_STREAM_ID: Final = 2**31 - 1

CANCEL: Final = fr.CANCEL
REFUSED_STREAM: Final = fr.REFUSED_STREAM
NO_ERROR: Final = fr.NO_ERROR
ENHANCE_YOUR_CALM: Final = fr.ENHANCE_YOUR_CALM

_NO_BODY_STATUSES: Final = frozenset({b"204", b"304"})
# RFC 9113 §8.2.2: connection-specific fields make a message malformed.
_CONNECTION_FIELDS: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
# RFC 9113 §8.2.1: names are lowercase visible ASCII (no 0x00-0x20, A-Z, 0x7f-0xff) without
# a colon (pseudo-headers are checked apart), and values have no NUL, CR or LF and no
# leading or trailing whitespace.
_BAD_NAME = re.compile(rb"[^\x21-\x39\x3b-\x40\x5b-\x7e]")
_BAD_VALUE = re.compile(rb"[\x00\r\n]|\A[ \t]|[ \t]\Z")
_FRAME_HEADER = fr.FRAME_HEADER


# -- events --------------------------------------------------------------------------------------


class ResponseHeaders:
    """The final response head of a stream (1xx interim responses are not reported)."""

    __slots__ = ("end_stream", "headers", "status", "stream_id")

    def __init__(
        self, stream_id: int, status: int, headers: list[tuple[bytes, bytes]], end_stream: bool
    ) -> None:
        self.stream_id = stream_id
        self.status = status
        self.headers = headers
        self.end_stream = end_stream


class TrailersReceived:
    """Trailer fields; the stream ends with them."""

    __slots__ = ("headers", "stream_id")

    def __init__(self, stream_id: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.stream_id = stream_id
        self.headers = headers


class StreamReset:
    """RST_STREAM received (``remote``), or sent by us for a stream error (``reason``)."""

    __slots__ = ("error_code", "reason", "remote", "stream_id")

    def __init__(self, stream_id: int, error_code: int, remote: bool, reason: str = "") -> None:
        self.stream_id = stream_id
        self.error_code = error_code
        self.remote = remote
        self.reason = reason


class SettingsChanged:
    """The peer's SETTINGS arrived; ``max_concurrent_streams`` is ``None`` when not sent."""

    __slots__ = ("max_concurrent_streams",)

    def __init__(self, max_concurrent_streams: int | None) -> None:
        self.max_concurrent_streams = max_concurrent_streams


class GoAway:
    """GOAWAY: streams above ``last_stream_id`` were not processed (RFC 9113 §6.8)."""

    __slots__ = ("error_code", "last_stream_id")

    def __init__(self, last_stream_id: int, error_code: int) -> None:
        self.last_stream_id = last_stream_id
        self.error_code = error_code


class PingAck:
    """Our PING came back."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


Event = (
    ResponseHeaders
    | DataReceived
    | TrailersReceived
    | StreamEnded
    | StreamReset
    | WindowOpened
    | SettingsChanged
    | GoAway
    | PingAck
)


class _ConnectionError(Exception):
    """Internal: a connection error (RFC 9113 §5.4.1) with its code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _StreamError(Exception):
    """Internal: a stream error (RFC 9113 §5.4.2) with its code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _StreamState:
    __slots__ = (
        "expected_length",
        "head_done",
        "local_closed",
        "no_body",
        "received_length",
        "recv_window",
        "remote_closed",
        "send_window",
    )

    def __init__(self, send_window: int, no_body: bool, local_closed: bool) -> None:
        self.send_window = send_window
        self.recv_window = STREAM_WINDOW
        self.local_closed = local_closed
        self.remote_closed = False
        self.head_done = False
        self.no_body = no_body
        self.expected_length: int | None = None
        self.received_length = 0


class H2ClientProtocol:
    """One client HTTP/2 connection's state: streams, windows, HPACK, settings."""

    __slots__ = (
        "_block",
        "_block_broken",
        "_block_end_stream",
        "_block_frames",
        "_block_stream",
        "_buffer",
        "_conn_recv_window",
        "_conn_send_window",
        "_decoder",
        "_encoder",
        "_events",
        "_got_settings",
        "_next_stream_id",
        "_out",
        "_peer_initial_window",
        "_peer_max_frame_size",
        "_reset_by_us",
        "_streams",
        "_valid_fields",
        "closed",
        "peer_max_concurrent_streams",
    )

    def __init__(self) -> None:
        self._encoder = HPACKEncoder()
        self._decoder = HPACKDecoder()
        self._streams: dict[int, _StreamState] = {}
        self._reset_by_us: dict[int, None] = {}
        self._next_stream_id = 1
        self._buffer = b""
        self._out: list[bytes] = []
        self._events: list[Event] = []
        # RFC 9113 §6.5.2 / §6.9.2 initial values until the server's SETTINGS arrive.
        self._peer_initial_window = 65_535
        self._peer_max_frame_size = fr.MIN_MAX_FRAME_SIZE
        self.peer_max_concurrent_streams = _UNLIMITED_STREAMS
        self._conn_send_window = 65_535
        self._conn_recv_window = CONNECTION_WINDOW
        self._got_settings = False
        # A header block being continued: its stream, fragments, END_STREAM, frame count.
        self._block_stream = 0
        self._block: list[bytes] = []
        self._block_end_stream = False
        self._block_frames = 0
        self._block_broken = ""
        self._valid_fields: set[tuple[bytes, bytes]] = set()
        self.closed = False

    def initiate(self) -> bytes:
        """The connection preface, our SETTINGS and the connection window increase."""
        return b"".join(
            (
                fr.PREFACE,
                fr.settings(
                    {
                        fr.SETTINGS_ENABLE_PUSH: 0,
                        fr.SETTINGS_MAX_CONCURRENT_STREAMS: _LOCAL_MAX_CONCURRENT_STREAMS,
                        fr.SETTINGS_INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                        fr.SETTINGS_MAX_FRAME_SIZE: MAX_INBOUND_FRAME_SIZE,
                        fr.SETTINGS_MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
                    }
                ),
                fr.window_update(0, CONNECTION_WINDOW - 65_535),
            )
        )

    # -- receiving --------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes; the events they complete. ``RemoteProtocolError`` if they break HTTP/2.

        After an error, :meth:`data_to_send` holds our GOAWAY.
        """
        if self.closed:
            return []
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        events: list[Event] = []
        self._events = events
        end = len(data)
        pos = 0
        unpack = _FRAME_HEADER.unpack_from
        try:
            while end - pos >= 9:
                high, low, kind, flags, stream_id = unpack(data, pos)
                length = (high << 16) | low
                if not self._got_settings and (kind != fr.SETTINGS or flags & fr.FLAG_ACK):
                    # Checked first: an HTTP/1.1 answer looks like a huge frame header.
                    raise _ConnectionError(fr.PROTOCOL_ERROR, "the server preface is not SETTINGS")
                if length > MAX_INBOUND_FRAME_SIZE:
                    raise _ConnectionError(
                        fr.FRAME_SIZE_ERROR,
                        f"a frame of {length} bytes exceeds our {MAX_INBOUND_FRAME_SIZE}",
                    )
                stop = pos + 9 + length
                if stop > end:
                    break
                payload = data[pos + 9 : stop]
                pos = stop
                self._frame(kind, flags, stream_id & fr.STREAM_ID_MASK, payload)
        except _ConnectionError as exc:
            self._connection_error(exc.code)
            raise RemoteProtocolError(
                f"HTTP/2 protocol error from the server ({fr.error_name(exc.code)}): {exc}"
            ) from None
        except Exception as exc:  # a case the checks above missed: still ours, typed
            self._connection_error(fr.INTERNAL_ERROR)
            raise RemoteProtocolError(
                f"HTTP/2 frames from the server could not be processed: {type(exc).__name__}: {exc}"
            ) from None
        if pos < end:
            self._buffer = data[pos:]
        return events

    def _frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._block_stream and kind != fr.CONTINUATION:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "a frame interrupted a header block")
        if kind == fr.DATA:
            self._on_data(flags, stream_id, payload)
        elif kind == fr.HEADERS:
            self._on_headers(flags, stream_id, payload)
        elif kind == fr.CONTINUATION:
            self._on_continuation(flags, stream_id, payload)
        elif kind == fr.WINDOW_UPDATE:
            self._on_window_update(stream_id, payload)
        elif kind == fr.SETTINGS:
            self._on_settings(flags, stream_id, payload)
        elif kind == fr.RST_STREAM:
            self._on_rst_stream(stream_id, payload)
        elif kind == fr.PING:
            self._on_ping(flags, stream_id, payload)
        elif kind == fr.GOAWAY:
            self._on_goaway(stream_id, payload)
        elif kind == fr.PRIORITY:
            self._on_priority(stream_id, payload)
        elif kind == fr.PUSH_PROMISE:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled")
        # RFC 9113 §5.5: frames of unknown types are ignored.

    def _stream_error(self, stream_id: int, code: int, reason: str) -> None:
        """Reset ``stream_id`` for a stream error and report it to the transport."""
        self._out.append(fr.rst_stream(stream_id, code))
        if self._streams.pop(stream_id, None) is not None:
            self._remember_reset(stream_id)
            self._events.append(StreamReset(stream_id, code, False, reason))

    def _remember_reset(self, stream_id: int) -> None:
        reset = self._reset_by_us
        reset[stream_id] = None
        if len(reset) > _RESET_MEMORY:
            del reset[next(iter(reset))]

    def _connection_error(self, code: int) -> None:
        self.closed = True
        self._out.append(fr.goaway(0, code))

    def _closed_stream(self, stream_id: int, what: str) -> None:
        """A frame other than PRIORITY/WINDOW_UPDATE/RST_STREAM on a stream not open."""
        if stream_id >= self._next_stream_id or not stream_id & 1:
            # Idle (never opened), or even (the server may not open streams: push is off).
            raise _ConnectionError(fr.PROTOCOL_ERROR, f"{what} on idle stream {stream_id}")
        if stream_id not in self._reset_by_us:
            self._out.append(fr.rst_stream(stream_id, fr.STREAM_CLOSED))

    def _strip_padding(self, flags: int, payload: bytes, what: str) -> bytes:
        if not flags & fr.FLAG_PADDED:
            return payload
        if not payload:
            raise _ConnectionError(fr.FRAME_SIZE_ERROR, f"padded {what} frame without a length")
        pad = payload[0]
        if pad >= len(payload):
            raise _ConnectionError(fr.PROTOCOL_ERROR, f"{what} padding exceeds the frame")
        return payload[1 : len(payload) - pad]

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "DATA on stream 0")
        flow_length = len(payload)
        self._conn_recv_window -= flow_length
        if self._conn_recv_window < 0:
            raise _ConnectionError(
                fr.FLOW_CONTROL_ERROR, "the server sent more DATA than the connection window"
            )
        data = self._strip_padding(flags, payload, "DATA")
        end_stream = bool(flags & fr.FLAG_END_STREAM)
        stream = self._streams.get(stream_id)
        if stream is None or stream.remote_closed:
            if stream is not None:
                self._stream_error(stream_id, fr.STREAM_CLOSED, "DATA after the end of stream")
            else:
                self._closed_stream(stream_id, "DATA")
            # Still counted against the connection window: hand its credit back.
            self._events.append(DataReceived(stream_id, b"", flow_length, False))
            return
        if not stream.head_done:
            self._stream_error(stream_id, fr.PROTOCOL_ERROR, "DATA before the response head")
            self._events.append(DataReceived(stream_id, b"", flow_length, False))
            return
        stream.recv_window -= flow_length
        if stream.recv_window < 0:
            self._stream_error(
                stream_id, fr.FLOW_CONTROL_ERROR, "the server sent more DATA than the window"
            )
            self._events.append(DataReceived(stream_id, b"", flow_length, False))
            return
        received = stream.received_length = stream.received_length + len(data)
        expected = stream.expected_length
        if expected is not None and (received > expected or (end_stream and received != expected)):
            self._stream_error(
                stream_id,
                fr.PROTOCOL_ERROR,
                f"the body length ({received}{'' if end_stream else '+'} bytes) does not match "
                f"content-length ({expected})",
            )
            self._events.append(DataReceived(stream_id, b"", flow_length, False))
            return
        self._events.append(DataReceived(stream_id, data, flow_length, end_stream))
        if end_stream:
            self._remote_end(stream_id, stream)

    def _remote_end(self, stream_id: int, stream: _StreamState) -> None:
        stream.remote_closed = True
        self._events.append(StreamEnded(stream_id))
        if stream.local_closed:
            del self._streams[stream_id]

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "HEADERS on stream 0")
        block = self._strip_padding(flags, payload, "HEADERS")
        broken = ""
        if flags & fr.FLAG_PRIORITY:
            if len(block) < 5:
                raise _ConnectionError(fr.FRAME_SIZE_ERROR, "HEADERS too short for its priority")
            if fr.unpack_u32(block) & fr.STREAM_ID_MASK == stream_id:
                broken = "the stream depends on itself"
            block = block[5:]
        if flags & fr.FLAG_END_HEADERS:
            self._on_header_block(stream_id, block, bool(flags & fr.FLAG_END_STREAM), broken)
        else:
            self._block_stream = stream_id
            self._block = [block]
            self._block_end_stream = bool(flags & fr.FLAG_END_STREAM)
            self._block_frames = 0
            self._block_broken = broken

    def _on_continuation(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not self._block_stream or stream_id != self._block_stream:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "CONTINUATION outside a header block")
        self._block_frames += 1
        if self._block_frames > MAX_CONTINUATION_FRAMES:
            raise _ConnectionError(
                fr.ENHANCE_YOUR_CALM,
                f"a header block spans more than {MAX_CONTINUATION_FRAMES} CONTINUATION frames",
            )
        self._block.append(payload)
        if flags & fr.FLAG_END_HEADERS:
            block = b"".join(self._block)
            self._block_stream = 0
            self._block = []
            self._on_header_block(stream_id, block, self._block_end_stream, self._block_broken)

    def _decode_block(self, block: bytes) -> list[tuple[bytes, bytes]]:
        try:
            return self._decoder.decode(block, MAX_HEADER_LIST_SIZE)
        except HeaderListTooLarge as exc:
            raise _ConnectionError(fr.ENHANCE_YOUR_CALM, str(exc)) from None
        except HPACKError as exc:
            raise _ConnectionError(fr.COMPRESSION_ERROR, str(exc)) from None

    def _on_header_block(self, stream_id: int, block: bytes, end_stream: bool, broken: str) -> None:
        fields = self._decode_block(block)  # first: the HPACK state must stay in step
        stream = self._streams.get(stream_id)
        if stream is None:
            self._closed_stream(stream_id, "HEADERS")
            return
        if broken:
            self._stream_error(stream_id, fr.PROTOCOL_ERROR, broken)
            return
        if stream.remote_closed:
            self._stream_error(stream_id, fr.STREAM_CLOSED, "HEADERS after the end of stream")
            return
        try:
            if stream.head_done:
                self._on_trailers(stream_id, stream, fields, end_stream)
            else:
                self._on_response_head(stream_id, stream, fields, end_stream)
        except _StreamError as exc:
            self._stream_error(stream_id, exc.code, str(exc))

    def _on_response_head(
        self,
        stream_id: int,
        stream: _StreamState,
        fields: list[tuple[bytes, bytes]],
        end_stream: bool,
    ) -> None:
        status = b""
        headers: list[tuple[bytes, bytes]] = []
        content_length: bytes | None = None
        valid = self._valid_fields
        regular = False
        for field in fields:
            name, value = field
            if name[:1] == b":":
                if name != b":status" or status or regular:
                    raise _StreamError(
                        fr.PROTOCOL_ERROR, f"pseudo-header {_clip(name)} not allowed here"
                    )
                status = value
                continue
            regular = True
            if field not in valid:
                _validate_field(name, value)
                if len(value) <= _VALID_FIELD_MAX_LEN:
                    if len(valid) >= _VALID_FIELD_CACHE:
                        valid.clear()
                    valid.add(field)
            if name == b"content-length":
                if content_length is not None and content_length != value:
                    raise _StreamError(fr.PROTOCOL_ERROR, "conflicting content-length fields")
                content_length = value
            headers.append(field)
        if len(status) != 3 or not status.isdigit():
            raise _StreamError(
                fr.PROTOCOL_ERROR,
                "response without a valid :status" if status else "response without :status",
            )
        if status[:1] == b"1":
            if status == b"101" or end_stream:
                raise _StreamError(fr.PROTOCOL_ERROR, f"invalid interim response {status!r}")
            return  # 1xx: informational, the final head follows
        expected: int | None = None
        if stream.no_body or status in _NO_BODY_STATUSES:
            expected = 0
        elif content_length is not None:
            # RFC 9110 §8.6: 1*DIGIT; beyond 19 digits no body could ever match it.
            if not content_length.isdigit() or len(content_length) > 19:
                raise _StreamError(fr.PROTOCOL_ERROR, "invalid content-length")
            expected = int(content_length)
            if end_stream and expected:
                raise _StreamError(
                    fr.PROTOCOL_ERROR, f"the response ended without its {expected}-byte body"
                )
        stream.head_done = True
        stream.expected_length = expected
        self._events.append(ResponseHeaders(stream_id, int(status), headers, end_stream))
        if end_stream:
            self._remote_end(stream_id, stream)

    def _on_trailers(
        self,
        stream_id: int,
        stream: _StreamState,
        fields: list[tuple[bytes, bytes]],
        end_stream: bool,
    ) -> None:
        if not end_stream:
            raise _StreamError(fr.PROTOCOL_ERROR, "trailers without END_STREAM")
        for name, value in fields:
            if name[:1] == b":":
                raise _StreamError(fr.PROTOCOL_ERROR, "pseudo-header in trailers")
            _validate_field(name, value)
        expected = stream.expected_length
        if expected is not None and stream.received_length != expected:
            raise _StreamError(
                fr.PROTOCOL_ERROR,
                f"the body length ({stream.received_length} bytes) does not match "
                f"content-length ({expected})",
            )
        self._events.append(TrailersReceived(stream_id, fields))
        self._remote_end(stream_id, stream)

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise _ConnectionError(fr.FRAME_SIZE_ERROR, "WINDOW_UPDATE must be 4 bytes")
        increment = fr.unpack_u32(payload) & fr.STREAM_ID_MASK
        if not stream_id:
            if not increment:
                raise _ConnectionError(fr.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection")
            self._conn_send_window += increment
            if self._conn_send_window > fr.MAX_WINDOW:
                raise _ConnectionError(
                    fr.FLOW_CONTROL_ERROR, "the connection window exceeds 2^31 - 1"
                )
            self._events.append(WindowOpened(0))
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id >= self._next_stream_id or not stream_id & 1:
                raise _ConnectionError(
                    fr.PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {stream_id}"
                )
            return  # closed: allowed for a short while (RFC 9113 §6.9)
        if not increment:
            self._stream_error(stream_id, fr.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            return
        stream.send_window += increment
        if stream.send_window > fr.MAX_WINDOW:
            self._stream_error(stream_id, fr.FLOW_CONTROL_ERROR, "stream window exceeds 2^31 - 1")
            return
        self._events.append(WindowOpened(stream_id))

    def _on_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & fr.FLAG_ACK:
            if payload:
                raise _ConnectionError(fr.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if len(payload) % 6:
            raise _ConnectionError(fr.FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6")
        self._got_settings = True
        max_streams: int | None = None
        window_changed = False
        for key, value in fr.unpack_settings(payload):
            if key == fr.SETTINGS_HEADER_TABLE_SIZE:
                self._encoder.set_peer_table_size(value)
            elif key == fr.SETTINGS_ENABLE_PUSH:
                # RFC 9113 §6.5.2: a server must not send any value other than 0.
                if value != 0:
                    raise _ConnectionError(fr.PROTOCOL_ERROR, f"ENABLE_PUSH={value} from a server")
            elif key == fr.SETTINGS_MAX_CONCURRENT_STREAMS:
                max_streams = self.peer_max_concurrent_streams = value
            elif key == fr.SETTINGS_INITIAL_WINDOW_SIZE:
                if value > fr.MAX_WINDOW:
                    raise _ConnectionError(
                        fr.FLOW_CONTROL_ERROR, f"INITIAL_WINDOW_SIZE {value} exceeds 2^31 - 1"
                    )
                delta = value - self._peer_initial_window
                self._peer_initial_window = value
                if delta:
                    window_changed = True
                    # §6.9.2: the change applies to every open stream, and may overflow it.
                    for open_id, stream in list(self._streams.items()):
                        stream.send_window += delta
                        if stream.send_window > fr.MAX_WINDOW:
                            raise _ConnectionError(
                                fr.FLOW_CONTROL_ERROR,
                                f"INITIAL_WINDOW_SIZE pushes stream {open_id} past 2^31 - 1",
                            )
            elif key == fr.SETTINGS_MAX_FRAME_SIZE:
                if not fr.MIN_MAX_FRAME_SIZE <= value <= fr.MAX_MAX_FRAME_SIZE:
                    raise _ConnectionError(fr.PROTOCOL_ERROR, f"MAX_FRAME_SIZE {value} invalid")
                self._peer_max_frame_size = value
            # MAX_HEADER_LIST_SIZE is advisory; unknown identifiers are ignored (§6.5.2).
        self._out.append(fr.frame(fr.SETTINGS, fr.FLAG_ACK, 0))
        self._events.append(SettingsChanged(max_streams))
        if window_changed:
            self._events.append(WindowOpened(0))

    def _on_rst_stream(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise _ConnectionError(fr.FRAME_SIZE_ERROR, "RST_STREAM must be 4 bytes")
        if not stream_id:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "RST_STREAM on stream 0")
        if stream_id >= self._next_stream_id or not stream_id & 1:
            raise _ConnectionError(fr.PROTOCOL_ERROR, f"RST_STREAM on idle stream {stream_id}")
        if self._streams.pop(stream_id, None) is not None:
            self._events.append(StreamReset(stream_id, fr.unpack_u32(payload), True))

    def _on_ping(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "PING on a stream")
        if len(payload) != 8:
            raise _ConnectionError(fr.FRAME_SIZE_ERROR, "PING must be 8 bytes")
        if flags & fr.FLAG_ACK:
            self._events.append(PingAck(payload))
        else:
            self._out.append(fr.frame(fr.PING, fr.FLAG_ACK, 0, payload))

    def _on_goaway(self, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "GOAWAY on a stream")
        if len(payload) < 8:
            raise _ConnectionError(fr.FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes")
        last = fr.unpack_u32(payload) & fr.STREAM_ID_MASK
        self._events.append(GoAway(last, fr.unpack_u32(payload, 4)))

    def _on_priority(self, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise _ConnectionError(fr.PROTOCOL_ERROR, "PRIORITY on stream 0")
        if len(payload) != 5:
            self._stream_error(stream_id, fr.FRAME_SIZE_ERROR, "PRIORITY must be 5 bytes")
            return
        if fr.unpack_u32(payload) & fr.STREAM_ID_MASK == stream_id and stream_id in self._streams:
            self._stream_error(stream_id, fr.PROTOCOL_ERROR, "stream depends on itself")
        # Otherwise advisory (RFC 9113 §5.3.2 deprecates it): ignored.

    # -- sending ----------------------------------------------------------------------------

    def send_headers(
        self, headers: list[tuple[bytes, bytes]], end_stream: bool, method: bytes
    ) -> int:
        """Open a stream with ``headers`` (pseudo-headers first, names lowercase); its id."""
        if self.closed:
            raise LocalProtocolError("cannot send the request over HTTP/2: connection closed")
        stream_id = self._next_stream_id
        if stream_id > LAST_STREAM_ID:
            raise LocalProtocolError("this HTTP/2 connection has used up its stream ids")
        self._next_stream_id = stream_id + 2
        block = self._encoder.encode(headers)
        flags = fr.FLAG_END_STREAM if end_stream else 0
        size = self._peer_max_frame_size
        out = self._out
        if len(block) <= size:
            out.append(fr.frame(fr.HEADERS, flags | fr.FLAG_END_HEADERS, stream_id, block))
        else:
            out.append(fr.frame(fr.HEADERS, flags, stream_id, block[:size]))
            for start in range(size, len(block), size):
                last = start + size >= len(block)
                out.append(
                    fr.frame(
                        fr.CONTINUATION,
                        fr.FLAG_END_HEADERS if last else 0,
                        stream_id,
                        block[start : start + size],
                    )
                )
        self._streams[stream_id] = _StreamState(
            self._peer_initial_window, method == b"HEAD", end_stream
        )
        return stream_id

    def send_data(self, stream_id: int, data: bytes, end_stream: bool) -> None:
        """Send ``data`` (at most :meth:`send_window` bytes) on a stream."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.local_closed:
            raise LocalProtocolError(f"cannot send request body data: stream {stream_id} closed")
        length = len(data)
        if length > min(stream.send_window, self._conn_send_window, self._peer_max_frame_size):
            raise LocalProtocolError("request body data exceeds the flow-control window")
        stream.send_window -= length
        self._conn_send_window -= length
        flags = fr.FLAG_END_STREAM if end_stream else 0
        self._out.append(
            _FRAME_HEADER.pack(length >> 16, length & 0xFFFF, fr.DATA, flags, stream_id)
        )
        if data:
            self._out.append(data)
        if end_stream:
            self._local_end(stream_id, stream)

    def _local_end(self, stream_id: int, stream: _StreamState) -> None:
        stream.local_closed = True
        if stream.remote_closed:
            del self._streams[stream_id]

    def end_stream(self, stream_id: int) -> None:
        """Half-close the stream: the request is complete."""
        self.send_data(stream_id, b"", True)

    def send_window(self, stream_id: int) -> int:
        """How many body bytes may be sent now: both windows and the frame size."""
        stream = self._streams.get(stream_id)
        if stream is None:
            return 0
        return max(0, min(stream.send_window, self._conn_send_window, self._peer_max_frame_size))

    def reset_stream(self, stream_id: int, error_code: int = CANCEL) -> None:
        """RST_STREAM (quietly nothing if the stream is already closed)."""
        if self._streams.pop(stream_id, None) is not None and not self.closed:
            self._out.append(fr.rst_stream(stream_id, error_code))
            self._remember_reset(stream_id)

    def credit(self, stream_id: int, amount: int) -> None:
        """Give ``amount`` bytes of receive window back (``stream_id`` 0: the connection)."""
        if amount <= 0 or self.closed:
            return
        if not stream_id:
            self._conn_recv_window += amount
        else:
            stream = self._streams.get(stream_id)
            if stream is None or stream.remote_closed:
                return  # closed meanwhile: nothing to credit
            stream.recv_window += amount
        self._out.append(fr.window_update(stream_id, amount))

    def stream_open(self, stream_id: int) -> bool:
        """True while the server may still send on the stream."""
        stream = self._streams.get(stream_id)
        return stream is not None and not stream.remote_closed

    def ping(self, data: bytes) -> None:
        """Send PING with 8 bytes of opaque data."""
        if not self.closed:
            self._out.append(fr.frame(fr.PING, 0, 0, data))

    def close(self, error_code: int = NO_ERROR) -> None:
        """Send GOAWAY (once)."""
        if self.closed:
            return
        self.closed = True
        self._out.append(fr.goaway(0, error_code))

    def data_to_send(self) -> bytes:
        """Bytes prepared since the last call; empties the buffer."""
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)

    @property
    def streams_left(self) -> int:
        """How many more streams this connection can open before its ids run out."""
        return max(0, (LAST_STREAM_ID - self._next_stream_id) // 2 + 1)

    @property
    def open_outbound_streams(self) -> int:
        """Streams we opened that are not closed yet."""
        return len(self._streams)


def _clip(name: bytes) -> str:
    return repr(name[:40])


def _validate_field(name: bytes, value: bytes) -> None:
    if not name or _BAD_NAME.search(name):
        raise _StreamError(fr.PROTOCOL_ERROR, f"invalid field name {_clip(name)}")
    if name in _CONNECTION_FIELDS:
        raise _StreamError(fr.PROTOCOL_ERROR, f"connection-specific field {_clip(name)}")
    if name == b"te" and value != b"trailers":
        raise _StreamError(fr.PROTOCOL_ERROR, "te other than 'trailers'")
    if _BAD_VALUE.search(value):
        raise _StreamError(fr.PROTOCOL_ERROR, f"invalid value in field {_clip(name)}")
