"""Sans-I/O HTTP/2, server side: a thin layer over ``h2.connection.H2Connection``.

Bytes in, our own small events out; bytes to send are collected with :meth:`data_to_send`.
No sockets and no asyncio here. Used by the test server (``hyperhttp.testing``).

What it adds to h2, and why (rows H2-05 ... H2-09 of the reliability checklist):

* :data:`MAX_CONCURRENT_STREAMS` is advertised, and h2 refuses a HEADERS frame that would
  open one stream more (connection error PROTOCOL_ERROR, RFC 9113 §5.1.2).
* Rapid reset (CVE-2023-44487): every RST_STREAM the client sends, and every stream we
  refuse or reset, takes a token from a bucket (:data:`RESET_BURST` tokens, refilled at
  :data:`RESET_RATE` per second, nghttp2's defaults); an empty bucket ends the connection
  with ``GOAWAY(ENHANCE_YOUR_CALM)``.
* Control-frame floods (CVE-2019-9512 PING, CVE-2019-9515 SETTINGS, CVE-2019-9513 PRIORITY,
  CVE-2019-9518 empty frames): PING, SETTINGS, PRIORITY, unknown frames and empty DATA
  frames take a token from a second bucket (:data:`CONTROL_FRAME_BURST`,
  :data:`CONTROL_FRAME_RATE`); an empty bucket ends the connection the same way. The caller
  stops reading while the peer does not read what we write, so the ACKs h2 queues stay
  bounded too.
* HPACK bombs: the decoded header list is capped at :data:`MAX_HEADER_LIST_SIZE` (advertised
  in SETTINGS and enforced by the decoder from the first frame); a header block is at most
  :data:`MAX_CONTINUATION_FRAMES` CONTINUATION frames (h2's cap: a CONTINUATION flood is a
  connection error, memory stays bounded).
* HPACK decoding failures (a dynamic table size update above our
  SETTINGS_HEADER_TABLE_SIZE, an index past the table, bad Huffman, a truncated integer)
  end the connection with ``GOAWAY(COMPRESSION_ERROR)`` as RFC 9113 §4.3 requires; h2 alone
  would report PROTOCOL_ERROR (it wraps hpack's error), so our decoder re-raises them as a
  protocol error carrying COMPRESSION_ERROR, which h2 then puts in its GOAWAY.
* Receive windows are credited explicitly with :meth:`H2ServerProtocol.credit` (never
  ``acknowledge_received_data``), so the caller decides when consumed data is credited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.frame_buffer
import h2.settings
import hpack
import hyperframe.frame

from .h2_events import DataReceived as BodyReceived
from .h2_events import StreamEnded as RequestEnded
from .h2_events import WindowOpened

__all__ = [
    "CONNECTION_WINDOW",
    "CONTROL_FRAME_BURST",
    "CONTROL_FRAME_RATE",
    "ENHANCE_YOUR_CALM",
    "MAX_CONCURRENT_STREAMS",
    "MAX_CONTINUATION_FRAMES",
    "MAX_HEADER_LIST_SIZE",
    "PREFACE",
    "REFUSED_STREAM",
    "RESET_BURST",
    "RESET_RATE",
    "STREAM_WINDOW",
    "BodyReceived",
    "ConnectionEnded",
    "H2ServerProtocol",
    "RequestEnded",
    "RequestReceived",
    "StreamCancelled",
    "WindowOpened",
]

#: What a client sends first on an h2c connection (RFC 9113 §3.4).
PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: Streams a client may have open at once (advertised in SETTINGS_MAX_CONCURRENT_STREAMS).
MAX_CONCURRENT_STREAMS: Final = 100
#: Decoded size of one header block (names + values + 32 per field, RFC 9113 §6.5.2).
MAX_HEADER_LIST_SIZE: Final = 64 * 1024
#: CONTINUATION frames per header block (h2's cap; beyond it: connection error).
MAX_CONTINUATION_FRAMES: Final = h2.frame_buffer.CONTINUATION_BACKLOG
#: Our receive windows (request bodies are buffered whole, bounded by the body-size cap).
STREAM_WINDOW: Final = 1024 * 1024
CONNECTION_WINDOW: Final = 16 * 1024 * 1024
#: Rapid-reset bucket: resets allowed in a burst, and tokens refilled per second.
RESET_BURST: Final = 1000
RESET_RATE: Final = 33.0
#: Control-frame bucket (PING, SETTINGS, PRIORITY, unknown and empty DATA frames).
CONTROL_FRAME_BURST: Final = 1000
CONTROL_FRAME_RATE: Final = 100.0

NO_ERROR: Final = int(h2.errors.ErrorCodes.NO_ERROR)
PROTOCOL_ERROR: Final = int(h2.errors.ErrorCodes.PROTOCOL_ERROR)
INTERNAL_ERROR: Final = int(h2.errors.ErrorCodes.INTERNAL_ERROR)
REFUSED_STREAM: Final = int(h2.errors.ErrorCodes.REFUSED_STREAM)
CANCEL: Final = int(h2.errors.ErrorCodes.CANCEL)
COMPRESSION_ERROR: Final = int(h2.errors.ErrorCodes.COMPRESSION_ERROR)
FRAME_SIZE_ERROR: Final = int(h2.errors.ErrorCodes.FRAME_SIZE_ERROR)
_SETTINGS_TYPE: Final = 0x4
_ACK_FLAG: Final = 0x1
ENHANCE_YOUR_CALM: Final = int(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)

_SETTING_NAMES: Final = {
    "header_table_size": h2.settings.SettingCodes.HEADER_TABLE_SIZE,
    "enable_push": h2.settings.SettingCodes.ENABLE_PUSH,
    "max_concurrent_streams": h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS,
    "initial_window_size": h2.settings.SettingCodes.INITIAL_WINDOW_SIZE,
    "max_frame_size": h2.settings.SettingCodes.MAX_FRAME_SIZE,
    "max_header_list_size": h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE,
}
SETTING_NAMES: Final = frozenset(_SETTING_NAMES)

# Connection-specific fields that must not appear in an HTTP/2 message (RFC 9113 §8.2.2).
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


class _CompressionError(h2.exceptions.ProtocolError):
    """An HPACK block we could not decode: a connection error COMPRESSION_ERROR (§4.3)."""

    error_code = h2.errors.ErrorCodes.COMPRESSION_ERROR


class _Decoder(hpack.Decoder):
    """hpack's decoder, with decoding failures raised as :class:`_CompressionError`.

    h2 turns any ``HPACKError`` from ``decode`` into PROTOCOL_ERROR; raising an h2
    ``ProtocolError`` subclass instead passes through its wrapper unchanged, so h2 sends
    GOAWAY with our code. An oversized header list (HPACK bomb) is left to h2, which answers
    ENHANCE_YOUR_CALM.
    """

    def decode(self, data: bytes, raw: bool = False) -> Iterable[hpack.HeaderTuple]:
        try:
            return super().decode(data, raw=raw)
        except hpack.OversizedHeaderListError:
            raise
        except (hpack.HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise _CompressionError(f"HPACK decoding failed: {exc}") from exc


# -- events --------------------------------------------------------------------------------------


class RequestReceived:
    """A request head; ``end_stream`` when it has no body."""

    __slots__ = ("end_stream", "headers", "method", "stream_id", "target")

    def __init__(
        self,
        stream_id: int,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        end_stream: bool,
    ) -> None:
        self.stream_id = stream_id
        self.method = method
        self.target = target
        self.headers = headers
        self.end_stream = end_stream


class StreamCancelled:
    """The client reset the stream (RST_STREAM), or h2 reset it for a stream error."""

    __slots__ = ("error_code", "stream_id")

    def __init__(self, stream_id: int, error_code: int) -> None:
        self.stream_id = stream_id
        self.error_code = error_code


class ConnectionEnded:
    """The connection is over: the peer's GOAWAY, a protocol error, or a flood we cut off.

    ``data_to_send()`` then holds our GOAWAY (when we send one); nothing more is accepted.
    """

    __slots__ = ("error_code", "reason", "remote")

    def __init__(self, error_code: int, reason: str, remote: bool) -> None:
        self.error_code = error_code
        self.reason = reason
        self.remote = remote


Event = (
    RequestReceived | BodyReceived | RequestEnded | StreamCancelled | WindowOpened | ConnectionEnded
)


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; :meth:`take` is False when empty."""

    def __init__(self, burst: int, rate: float, clock: Callable[[], float]) -> None:
        self._burst = float(burst)
        self._rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


# -- the connection --------------------------------------------------------------------------------


class H2ServerProtocol:
    """One server-side HTTP/2 connection, sans I/O."""

    def __init__(
        self,
        *,
        max_concurrent_streams: int = MAX_CONCURRENT_STREAMS,
        max_header_list_size: int = MAX_HEADER_LIST_SIZE,
        initial_window_size: int = STREAM_WINDOW,
        reset_burst: int = RESET_BURST,
        reset_rate: float = RESET_RATE,
        control_frame_burst: int = CONTROL_FRAME_BURST,
        control_frame_rate: float = CONTROL_FRAME_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=True,
            normalize_inbound_headers=True,
            validate_outbound_headers=True,
        )
        conn = h2.connection.H2Connection(config=config)
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list_size,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window_size,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            },
        )
        conn.decoder = _Decoder()
        # enforced from the first header block, before the client acknowledges our SETTINGS
        conn.decoder.max_header_list_size = max_header_list_size
        self._conn = conn
        self._extra = b""  # our own frames to send after h2's (a corrected GOAWAY)
        self._received = 0  # bytes fed so far: names the offset where a partial frame began
        self._resets = TokenBucket(reset_burst, reset_rate, clock)
        self._control = TokenBucket(control_frame_burst, control_frame_rate, clock)
        self.ended = False

    def initiate(self) -> None:
        """Queue our preface (SETTINGS) and open the connection window."""
        self._conn.initiate_connection()
        self._conn.increment_flow_control_window(CONNECTION_WINDOW - 65_535)

    # -- receiving ---------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes from the client; returns what happened."""
        if self.ended:
            return []
        self._received += len(data)
        try:
            raw = self._conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:  # h2 has queued GOAWAY with its code
            self.ended = True
            code = int(exc.error_code)
            if self._settings_ack_with_payload():
                code = self._replace_goaway(FRAME_SIZE_ERROR)
            return [ConnectionEnded(code, str(exc) or type(exc).__name__, False)]
        except hpack.HPACKError as exc:  # e.g. a table-size update above our setting
            return [self._end(COMPRESSION_ERROR, f"{type(exc).__name__}: {exc}")]
        except Exception as exc:  # hyperframe errors h2 does not wrap, to be safe
            return [self._end(PROTOCOL_ERROR, f"{type(exc).__name__}: {exc}")]
        events: list[Event] = []
        for ev in raw:
            out = self._translate(ev)
            if out is None:
                continue
            events.append(out)
            if isinstance(out, ConnectionEnded):
                break
        return events

    def _translate(self, ev: Any) -> Event | None:
        if isinstance(ev, h2.events.RequestReceived):
            return self._request(ev)
        if isinstance(ev, h2.events.DataReceived):
            if not ev.data and ev.stream_ended is None and not self._control.take():
                return self._end(ENHANCE_YOUR_CALM, "flood of empty DATA frames")
            return BodyReceived(
                ev.stream_id, ev.data, ev.flow_controlled_length, ev.stream_ended is not None
            )
        if isinstance(ev, h2.events.StreamEnded):
            return RequestEnded(ev.stream_id)
        if isinstance(ev, h2.events.StreamReset):
            if not self._resets.take():
                return self._end(ENHANCE_YOUR_CALM, "too many stream resets (rapid reset)")
            return StreamCancelled(ev.stream_id, int(ev.error_code))
        if isinstance(ev, h2.events.WindowUpdated):
            return WindowOpened(ev.stream_id)
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            if not self._control.take():
                return self._end(ENHANCE_YOUR_CALM, "SETTINGS flood")
            return WindowOpened(0)
        if isinstance(
            ev,
            (
                h2.events.PingReceived,
                h2.events.PriorityUpdated,
                h2.events.UnknownFrameReceived,
                h2.events.SettingsAcknowledged,
            ),
        ):
            if not self._control.take():
                return self._end(ENHANCE_YOUR_CALM, f"control-frame flood ({type(ev).__name__})")
            return None
        if isinstance(ev, h2.events.ConnectionTerminated):
            self.ended = True
            return ConnectionEnded(int(ev.error_code or 0), "client sent GOAWAY", True)
        return None  # TrailersReceived (StreamEnded follows), PingAckReceived, ...

    def _request(self, ev: Any) -> Event:
        method = b""
        path = b""
        authority = b""
        headers: list[tuple[bytes, bytes]] = []
        for name, value in ev.headers:
            if name.startswith(b":"):
                if name == b":method":
                    method = value
                elif name == b":path":
                    path = value
                elif name == b":authority":
                    authority = value
            else:
                headers.append((name, value))
        if authority and not any(name == b"host" for name, _ in headers):
            headers.insert(0, (b"host", authority))
        return RequestReceived(
            ev.stream_id,
            method.decode("latin-1"),
            path or b"/",
            headers,
            ev.stream_ended is not None,
        )

    def _settings_ack_with_payload(self) -> bool:
        """Is the frame h2 just refused a SETTINGS ACK with a payload? (It is still buffered.)

        RFC 9113 §6.5 makes that a FRAME_SIZE_ERROR; h2 reports PROTOCOL_ERROR.
        """
        head = bytes(self._conn.incoming_buffer._data[:9])
        return (
            len(head) == 9
            and head[3] == _SETTINGS_TYPE
            and bool(head[4] & _ACK_FLAG)
            and int.from_bytes(head[:3], "big") > 0
        )

    def _replace_goaway(self, error_code: int) -> int:
        """Swap the GOAWAY h2 queued on a connection error for one with ``error_code``."""
        self._conn.clear_outbound_data_buffer()  # the connection is over: nothing else goes
        frame = hyperframe.frame.GoAwayFrame(
            0, last_stream_id=self._conn.highest_inbound_stream_id, error_code=error_code
        )
        self._extra = frame.serialize()
        return error_code

    def _end(self, error_code: int, reason: str) -> ConnectionEnded:
        """Send GOAWAY and stop: the connection is over."""
        self.ended = True
        try:
            self._conn.close_connection(
                error_code=error_code, last_stream_id=self._conn.highest_inbound_stream_id
            )
        except h2.exceptions.H2Error:
            pass
        return ConnectionEnded(error_code, reason, False)

    def pending_head(self) -> tuple[object, ...] | None:
        """What the client has begun but not finished sending, other than request body.

        The preface, a header block still waiting for CONTINUATION frames, or a partial frame
        that is not DATA; None when nothing is pending (or only part of a DATA frame, which
        the stream's body deadline covers). The key stays equal while the same thing stays
        incomplete, so the caller can run one deadline per header block or frame.
        """
        buffer = self._conn.incoming_buffer
        if buffer._preamble_len:
            return ("preface",)
        if buffer._headers_buffer:
            return ("block", buffer._headers_buffer[0])  # the HEADERS frame object itself
        pending = len(buffer._data)
        if not pending:
            return None
        if pending >= 4 and buffer._data[3] == 0x0:  # frame type DATA
            return None
        return ("frame", self._received - pending)

    # -- sending -----------------------------------------------------------------------------

    def send_response(
        self,
        stream_id: int,
        status: int,
        headers: Iterable[tuple[str, str]],
        end_stream: bool,
    ) -> bool:
        """Send the response head; False when the stream is gone (reset, closed)."""
        fields: list[tuple[bytes, bytes]] = [(b":status", str(status).encode("ascii"))]
        for name, value in headers:
            lower = name.lower()
            if lower in _HOP_BY_HOP:
                continue
            fields.append((lower.encode("latin-1"), value.encode("latin-1")))
        try:
            self._conn.send_headers(stream_id, fields, end_stream=end_stream)
        except h2.exceptions.StreamClosedError:
            return False
        return True

    def send_data(self, stream_id: int, data: bytes, end_stream: bool) -> bool:
        """Send one DATA frame (``data`` within :meth:`sendable`); False if the stream is gone."""
        try:
            self._conn.send_data(stream_id, data, end_stream=end_stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return False
        return True

    def sendable(self, stream_id: int) -> int:
        """Bytes that may go in the next DATA frame of the stream (0: wait for credit)."""
        try:
            window = self._conn.local_flow_control_window(stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return -1
        return max(0, min(window, self._conn.max_outbound_frame_size))

    def credit(self, stream_id: int, amount: int, stream_too: bool) -> None:
        """Give back ``amount`` bytes of receive window (connection, and stream if asked)."""
        if amount <= 0 or self.ended:
            return
        try:
            self._conn.increment_flow_control_window(amount)
            if stream_too:
                self._conn.increment_flow_control_window(amount, stream_id)
        except h2.exceptions.H2Error:
            pass

    def reset(self, stream_id: int, error_code: int) -> None:
        """Send RST_STREAM (ignored when the stream is already closed)."""
        try:
            self._conn.reset_stream(stream_id, error_code)
        except h2.exceptions.H2Error:
            pass

    def refuse(self, stream_id: int) -> ConnectionEnded | None:
        """Refuse a stream (REFUSED_STREAM); it counts against the reset budget."""
        self.reset(stream_id, REFUSED_STREAM)
        if not self._resets.take():
            return self._end(ENHANCE_YOUR_CALM, "too many refused streams")
        return None

    def goaway(self, error_code: int = NO_ERROR, last_stream_id: int | None = None) -> None:
        """Send GOAWAY; ``last_stream_id`` defaults to the highest stream we saw."""
        if last_stream_id is None:
            last_stream_id = self._conn.highest_inbound_stream_id
        try:
            self._conn.close_connection(error_code=error_code, last_stream_id=last_stream_id)
        except h2.exceptions.H2Error:
            pass
        # h2 refuses to send anything after GOAWAY; the streams <= last_stream_id we promised
        # to finish still need their frames, so reopen its state machine (as the client does).
        self._conn.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN

    def update_settings(self, changes: dict[str, int]) -> None:
        """Send a SETTINGS frame with ``changes`` (names as in :data:`SETTING_NAMES`)."""
        new: dict[h2.settings.SettingCodes | int, int] = {
            _SETTING_NAMES[name]: int(value) for name, value in changes.items()
        }
        self._conn.update_settings(new)

    def terminate(self, error_code: int, reason: str) -> ConnectionEnded:
        """End the connection with GOAWAY(error_code)."""
        return self._end(error_code, reason)

    def data_to_send(self) -> bytes:
        """Bytes to write to the client now."""
        data: bytes = self._conn.data_to_send()
        if self._extra:
            data, self._extra = data + self._extra, b""
        return data

    @property
    def highest_stream_id(self) -> int:
        value: int = self._conn.highest_inbound_stream_id
        return value
