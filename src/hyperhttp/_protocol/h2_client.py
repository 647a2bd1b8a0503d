"""Sans-I/O HTTP/2, client side: a thin layer over ``h2.connection.H2Connection``.

Bytes in, our own small events out; bytes to send are collected with :meth:`data_to_send`.
No sockets and no asyncio here. Every ``h2.exceptions.*`` raised by h2 becomes our
``RemoteProtocolError`` (the peer broke the protocol) or ``LocalProtocolError`` (we were
asked to do something HTTP/2 does not allow), so none escapes the package.

What we change from h2's defaults, and why:

* Inbound header validation stays on (a response without ``:status`` is an error, never a
  200), header names and values are bytes (``header_encoding=None``: we decode lazily).
* Receive windows: 64 KiB per stream throttles a download to one window per round trip, so
  we advertise :data:`STREAM_WINDOW` per stream and :data:`CONNECTION_WINDOW` for the
  connection. Credit is returned by the caller with :meth:`H2ClientProtocol.credit`, which
  opens the windows explicitly (never ``acknowledge_received_data``): the connection window
  is credited as soon as data is received, the stream window as its data is consumed, so one
  unread stream can hold back only itself.
* :data:`MAX_HEADER_LIST_SIZE` caps a decoded header block (HPACK bombs), advertised in our
  SETTINGS and enforced by the decoder; h2 caps a header block at
  :data:`MAX_CONTINUATION_FRAMES` CONTINUATION frames of at most :data:`MAX_INBOUND_FRAME_SIZE`
  bytes each (a CONTINUATION flood is a connection error, memory stays bounded).
* Server push is off (``ENABLE_PUSH=0``); a PUSH_PROMISE is then a protocol error.
* A 204 or 304 response (and any response to HEAD) has no body whatever its
  Content-Length says, so the expected length of such a stream is cleared to 0 — h2 would
  otherwise reject the empty END_STREAM DATA frame some servers send.
* After GOAWAY, h2 moves its connection state to CLOSED and would refuse the frames still
  due on streams the server promised to finish (those <= ``last_stream_id``). We keep the
  connection open for those streams; the transport opens no new stream after GOAWAY.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.frame_buffer
import h2.settings
import h2.stream
from h2.connection import ConnectionState

from .._exceptions import LocalProtocolError, RemoteProtocolError

__all__ = [
    "CONNECTION_WINDOW",
    "MAX_CONTINUATION_FRAMES",
    "MAX_HEADER_LIST_SIZE",
    "MAX_INBOUND_FRAME_SIZE",
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
# The decoded size (RFC 9113 §6.5.2: names + values + 32 per field) of one header block.
MAX_HEADER_LIST_SIZE: Final = 64 * 1024
# Frames we accept: the RFC's minimum maximum, so a header block is at most
# (MAX_CONTINUATION_FRAMES + 1) * 16 KiB = ~1 MiB of HPACK input before decoding.
MAX_INBOUND_FRAME_SIZE: Final = 16_384
MAX_CONTINUATION_FRAMES: Final = h2.frame_buffer.CONTINUATION_BACKLOG
# What we advertise as our own limit for streams the server opens (push is off: none).
_LOCAL_MAX_CONCURRENT_STREAMS: Final = 100
# h2's stream-level error code for RST_STREAM we send when the caller gave up on a stream.
CANCEL: Final = int(h2.errors.ErrorCodes.CANCEL)
REFUSED_STREAM: Final = int(h2.errors.ErrorCodes.REFUSED_STREAM)
NO_ERROR: Final = int(h2.errors.ErrorCodes.NO_ERROR)

_NO_BODY_STATUSES: Final = frozenset({b"204", b"304"})


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


class DataReceived:
    """Body bytes; ``flow_length`` (with padding) is what must be credited back."""

    __slots__ = ("data", "end_stream", "flow_length", "stream_id")

    def __init__(self, stream_id: int, data: bytes, flow_length: int, end_stream: bool) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_length = flow_length
        self.end_stream = end_stream


class TrailersReceived:
    """Trailer fields; the stream ends with them."""

    __slots__ = ("headers", "stream_id")

    def __init__(self, stream_id: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.stream_id = stream_id
        self.headers = headers


class StreamEnded:
    """The server finished sending on the stream (after a bodyless DATA frame, say)."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class StreamReset:
    """RST_STREAM received (``remote``) or sent by h2 itself for a stream-level error."""

    __slots__ = ("error_code", "remote", "stream_id")

    def __init__(self, stream_id: int, error_code: int, remote: bool) -> None:
        self.stream_id = stream_id
        self.error_code = error_code
        self.remote = remote


class WindowOpened:
    """The peer gave us send credit (``stream_id`` 0: the connection, or a settings change)."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class SettingsChanged:
    """The peer's SETTINGS arrived; the value is ``None`` when unchanged."""

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


# -- the connection --------------------------------------------------------------------------------


class _ClientConnection(h2.connection.H2Connection):
    def _receive_goaway_frame(self, frame: Any) -> tuple[list[Any], list[h2.events.Event]]:
        state = self.state_machine.state
        frames, events = super()._receive_goaway_frame(frame)
        if state is not ConnectionState.CLOSED:
            # Streams <= last_stream_id are still being answered: keep receiving their
            # frames. No new stream is opened after GOAWAY (the transport sees to that).
            self.state_machine.state = state
        return frames, events


def _expect_no_body(stream: Any, original: Any) -> Any:
    """Wrap a stream's content-length set-up: 204 and 304 responses carry no body."""

    def initialize(headers: Iterable[tuple[bytes, bytes]]) -> None:
        headers = list(headers)
        for name, value in headers:
            if name == b":status":
                if value in _NO_BODY_STATUSES:
                    stream._expected_content_length = 0
                    return
                break
        original(headers)

    return initialize


class H2ClientProtocol:
    """One client HTTP/2 connection's state: streams, windows, HPACK, settings."""

    __slots__ = ("_conn", "closed")

    def __init__(self) -> None:
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_inbound_headers=True,
            validate_outbound_headers=True,
            normalize_inbound_headers=True,
            normalize_outbound_headers=True,
        )
        conn = _ClientConnection(config=config)
        conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: _LOCAL_MAX_CONCURRENT_STREAMS,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: MAX_INBOUND_FRAME_SIZE,
            },
        )
        conn.decoder.max_header_list_size = MAX_HEADER_LIST_SIZE
        conn.max_inbound_frame_size = MAX_INBOUND_FRAME_SIZE
        self._conn = conn
        self.closed = False

    def initiate(self) -> bytes:
        """The connection preface, our SETTINGS and the connection window increase."""
        conn = self._conn
        conn.initiate_connection()
        conn.increment_flow_control_window(CONNECTION_WINDOW - 65_535)
        return conn.data_to_send()

    # -- receiving --------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes; the events they complete. ``RemoteProtocolError`` if they break HTTP/2.

        After an error, :meth:`data_to_send` holds the GOAWAY h2 prepared.
        """
        try:
            h2_events = self._conn.receive_data(data)
        except h2.exceptions.H2Error as exc:
            self.closed = True
            raise RemoteProtocolError(f"HTTP/2 protocol error from the server: {exc}") from None
        except Exception as exc:  # hpack/hyperframe errors h2 does not wrap, to be safe
            self.closed = True
            raise RemoteProtocolError(
                f"HTTP/2 protocol error from the server: {type(exc).__name__}: {exc}"
            ) from None
        events: list[Event] = []
        append = events.append
        for ev in h2_events:
            kind = type(ev)
            if kind is h2.events.DataReceived:
                assert isinstance(ev, h2.events.DataReceived)
                append(
                    DataReceived(
                        ev.stream_id or 0,
                        ev.data or b"",
                        ev.flow_controlled_length or 0,
                        ev.stream_ended is not None,
                    )
                )
                if ev.stream_ended is not None:
                    append(StreamEnded(ev.stream_id or 0))
            elif kind is h2.events.ResponseReceived:
                assert isinstance(ev, h2.events.ResponseReceived)
                append(_response_headers(ev.stream_id or 0, ev.headers or [], ev))
                if ev.stream_ended is not None:
                    append(StreamEnded(ev.stream_id or 0))
            elif kind is h2.events.StreamEnded:
                # Already reported with the DATA/HEADERS that carried END_STREAM.
                continue
            elif kind is h2.events.TrailersReceived:
                assert isinstance(ev, h2.events.TrailersReceived)
                append(TrailersReceived(ev.stream_id or 0, _plain(ev.headers or [])))
                if ev.stream_ended is not None:
                    append(StreamEnded(ev.stream_id or 0))
            elif kind is h2.events.WindowUpdated:
                assert isinstance(ev, h2.events.WindowUpdated)
                append(WindowOpened(ev.stream_id or 0))
            elif kind is h2.events.StreamReset:
                assert isinstance(ev, h2.events.StreamReset)
                append(StreamReset(ev.stream_id or 0, int(ev.error_code or 0), ev.remote_reset))
            elif kind is h2.events.RemoteSettingsChanged:
                assert isinstance(ev, h2.events.RemoteSettingsChanged)
                changed = ev.changed_settings
                mcs = changed.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
                append(SettingsChanged(None if mcs is None else mcs.new_value))
                if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in changed:
                    append(WindowOpened(0))
            elif kind is h2.events.ConnectionTerminated:
                assert isinstance(ev, h2.events.ConnectionTerminated)
                append(GoAway(ev.last_stream_id or 0, int(ev.error_code or 0)))
            elif kind is h2.events.PingAckReceived:
                assert isinstance(ev, h2.events.PingAckReceived)
                append(PingAck(ev.ping_data or b""))
            # InformationalResponseReceived (1xx), SettingsAcknowledged, PingReceived (h2
            # answers it), PriorityUpdated, AlternativeServiceAvailable, unknown frames:
            # nothing to do.
        return events

    # -- sending ----------------------------------------------------------------------------

    def send_headers(
        self, headers: list[tuple[bytes, bytes]], end_stream: bool, method: bytes
    ) -> int:
        """Open a stream with ``headers`` (pseudo-headers first); its id."""
        conn = self._conn
        try:
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, headers, end_stream=end_stream)
        except h2.exceptions.H2Error as exc:
            raise LocalProtocolError(f"cannot send the request over HTTP/2: {exc}") from None
        stream = conn.streams.get(stream_id)
        if stream is not None and method != b"HEAD":
            # h2 clears the expected length for HEAD itself; 204/304 we handle here.
            stream.__dict__["_initialize_content_length"] = _expect_no_body(
                stream, stream._initialize_content_length
            )
        return stream_id

    def send_data(self, stream_id: int, data: bytes, end_stream: bool) -> None:
        """Send ``data`` (at most :meth:`send_window` bytes) on a stream."""
        try:
            self._conn.send_data(stream_id, data, end_stream=end_stream)
        except h2.exceptions.H2Error as exc:
            raise LocalProtocolError(f"cannot send request body data: {exc}") from None

    def end_stream(self, stream_id: int) -> None:
        """Half-close the stream: the request is complete."""
        try:
            self._conn.end_stream(stream_id)
        except h2.exceptions.H2Error as exc:
            raise LocalProtocolError(f"cannot end the request stream: {exc}") from None

    def send_window(self, stream_id: int) -> int:
        """How many body bytes may be sent now: both windows and the frame size."""
        conn = self._conn
        try:
            window = conn.local_flow_control_window(stream_id)
        except h2.exceptions.H2Error:
            return 0
        return min(window, conn.max_outbound_frame_size)

    def reset_stream(self, stream_id: int, error_code: int = CANCEL) -> None:
        """RST_STREAM (quietly nothing if the stream is already closed)."""
        try:
            self._conn.reset_stream(stream_id, error_code)
        except h2.exceptions.H2Error:
            pass

    def credit(self, stream_id: int, amount: int) -> None:
        """Give ``amount`` bytes of receive window back (``stream_id`` 0: the connection)."""
        if amount <= 0:
            return
        try:
            self._conn.increment_flow_control_window(amount, stream_id or None)
        except h2.exceptions.H2Error:
            pass  # the stream closed meanwhile: nothing to credit

    def stream_open(self, stream_id: int) -> bool:
        """True while the server may still send on the stream."""
        stream = self._conn.streams.get(stream_id)
        return stream is not None and not stream.closed and stream.state_machine.state in _RECV

    def ping(self, data: bytes) -> None:
        """Send PING with 8 bytes of opaque data."""
        try:
            self._conn.ping(data)
        except h2.exceptions.H2Error:
            pass

    def close(self, error_code: int = NO_ERROR) -> None:
        """Send GOAWAY (once)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._conn.close_connection(error_code)
        except h2.exceptions.H2Error:
            pass

    def data_to_send(self) -> bytes:
        """Bytes h2 prepared; empties its buffer."""
        return self._conn.data_to_send()

    @property
    def peer_max_concurrent_streams(self) -> int:
        """The peer's MAX_CONCURRENT_STREAMS (h2's default until its SETTINGS arrive)."""
        return int(self._conn.remote_settings.max_concurrent_streams)

    @property
    def open_outbound_streams(self) -> int:
        """Streams we opened that are not closed yet, as h2 counts them."""
        return int(self._conn.open_outbound_streams)


_RECV: Final = frozenset(
    {
        h2.stream.StreamState.OPEN,
        h2.stream.StreamState.HALF_CLOSED_LOCAL,
    }
)


def _plain(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(bytes(name), bytes(value)) for name, value in headers]


def _response_headers(stream_id: int, headers: Iterable[Any], ev: Any) -> ResponseHeaders:
    status = 0
    fields: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name[:1] == b":":
            if name == b":status":
                status = int(value)
            continue
        fields.append((bytes(name), bytes(value)))
    return ResponseHeaders(stream_id, status, fields, ev.stream_ended is not None)
