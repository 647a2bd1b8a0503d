"""One HTTP/2 connection: an ``asyncio.Protocol`` carrying many concurrent streams.

Theory of operation
-------------------
The pool hands the connection to a request after *reserving* a stream for it (at most the
peer's MAX_CONCURRENT_STREAMS, assumed :data:`INITIAL_MAX_STREAMS` until its SETTINGS
arrive). ``handle_request`` opens the stream, sends the body within the peer's flow-control
windows (waiting for WINDOW_UPDATE under the write timeout), then waits for the response
head. ``data_received`` feeds the sans-I/O layer and files its events per stream: the head
wakes that stream's request, DATA goes to that stream's buffer, the end marks it done.

Flow control on receive: the connection window is credited as data arrives, a stream's
window as long as that stream holds less than :data:`STREAM_BUFFER_HIGH` unread bytes. A
stream nobody reads therefore stops only itself (the server runs out of *its* window); the
others keep going. Credit withheld is returned when the reader catches up.

A stream's reservation is returned to the pool as soon as the stream is closed on the wire
(both sides ended, or reset), even if its buffered body is still unread. Cancelling a
request, closing its response early or a read timeout on it resets that stream only
(RST_STREAM CANCEL); the connection stays usable.

GOAWAY: no new stream is opened; streams above its ``last_stream_id`` fail with
:class:`StreamRetryable` (the server did not process them, RFC 9113 §8.7) and the transport
retries them on another connection; streams at or below it finish normally. RST_STREAM
with REFUSED_STREAM is retryable too; any other reset fails that request alone.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final, cast

from .._config import Timeout
from .._exceptions import (
    HyperHTTPError,
    LocalProtocolError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLarge,
    WriteError,
    WriteTimeout,
)
from .._headers import Headers
from .._models import Request, Response, ResponseStream
from .._protocol import h2_client as h2p
from .._protocol.h2_frames import error_name
from .._status import reason_phrase_for
from ._closing import ClosingMixin, settle

if TYPE_CHECKING:
    from ._pool import ConnectionPool, Origin

__all__ = [
    "DEFAULT_PING_INTERVAL",
    "INITIAL_MAX_STREAMS",
    "MAX_STREAMS_CEILING",
    "MAX_WRITE_BACKLOG",
    "STREAM_BUFFER_HIGH",
    "HTTP2Connection",
    "StreamRetryable",
]

# Streams we open before the server's first SETTINGS tell us its limit (RFC 9113 §5.1.2
# recommends servers allow at least 100; hypercorn enforces its limit from the start).
INITIAL_MAX_STREAMS: Final = 100
# Seconds of silence from the server after which a connection with work on it is sent a
# PING, and the further seconds it has to answer before it is declared dead. Longer than
# the default read timeout (5 s) so that in the default setup a stream times out first, and
# short enough that a connection lost without FIN (NAT expiry, a vanished host) is found
# within half a minute even by requests with no read timeout. Go's transport has the same
# two knobs (ReadIdleTimeout, PingTimeout).
DEFAULT_PING_INTERVAL: Final = 10.0
# Bytes we may hold unsent while the server keeps sending: what it makes us answer (PING
# and SETTINGS acknowledgements, resets) while it does not read is bounded by this
# (CVE-2019-9512/9515/9517); past it the connection is aborted (a GOAWAY would not be read).
# Request bodies never get near it: a sender waits for the buffer to drain below 64 KiB.
MAX_WRITE_BACKLOG: Final = 1024 * 1024
# Never more concurrent streams than this on one connection, whatever the server allows.
MAX_STREAMS_CEILING: Final = 1000
# A stream holding this many unread body bytes gets no more receive credit until its reader
# catches up: what one stream buffers is at most this plus its window (h2p.STREAM_WINDOW).
STREAM_BUFFER_HIGH: Final = 1024 * 1024
# Return a stream's window once half of it is used up; the connection's once a quarter is.
_STREAM_CREDIT_AT: Final = h2p.STREAM_WINDOW // 2
_CONN_CREDIT_AT: Final = h2p.CONNECTION_WINDOW // 4
# Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2); Host becomes :authority.
_DROPPED_FIELDS: Final = frozenset(
    {b"host", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


class StreamRetryable(RemoteProtocolError):
    """The server did not process this stream (GOAWAY above it, or REFUSED_STREAM): the
    request may be sent again on another connection, whatever its method."""


class _StopSending(Exception):
    """The server finished the response before the request body was sent whole."""


class _Stream:
    __slots__ = (
        "body_waiter",
        "buffered",
        "chunks",
        "done",
        "error",
        "head",
        "head_waiter",
        "last_read",
        "read_timeout",
        "released",
        "sent_all",
        "stream_id",
        "trailers",
        "unacked",
        "waiter",
        "window_waiter",
    )

    def __init__(self, now: float) -> None:
        self.stream_id = 0
        self.head: h2p.ResponseHeaders | None = None
        self.head_waiter: asyncio.Future[None] | None = None
        self.body_waiter: asyncio.Future[None] | None = None
        self.window_waiter: asyncio.Future[None] | None = None
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.unacked = 0
        self.done = False
        self.sent_all = False
        self.released = False
        self.trailers: list[tuple[bytes, bytes]] = []
        self.error: HyperHTTPError | None = None
        self.last_read = now
        # While a read waits: its timeout and the future the connection's timer fails.
        self.read_timeout = 0.0
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        for waiter in (self.head_waiter, self.body_waiter, self.window_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)


class HTTP2Connection(ClosingMixin, asyncio.Protocol):
    """An HTTP/2 connection owned by a :class:`ConnectionPool`, shared by many requests."""

    multiplexed: Final = True
    # The stale-connection retry of HTTP/1.1 does not apply: h2 says which streams are safe.
    received_response_bytes: Final = True

    def __init__(
        self, pool: ConnectionPool, origin: Origin, ping_interval: float | None = None
    ) -> None:
        self.origin = origin
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._lost_future: asyncio.Future[None] | None = None
        self._proto = h2p.H2ClientProtocol()
        self.is_closed = False
        self.slot_released = False
        self.idle_since = self._loop.time()
        self.requests_started = 0
        # streams: reserved by the pool (counted here), open on the wire (in _streams)
        self.reserved = 0
        self.max_streams = INITIAL_MAX_STREAMS
        self._streams: dict[int, _Stream] = {}
        self.goaway_last_stream_id: int | None = None
        self.settings_received = False
        self._settings_future: asyncio.Future[None] | None = None
        # The pool's first-connection gate, opened when the server's SETTINGS arrive.
        self.gate: asyncio.Future[None] | None = None
        self._error: HyperHTTPError | None = None
        self._conn_unacked = 0
        self._write_paused = False
        self._flush_scheduled = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        # Health checks (see DEFAULT_PING_INTERVAL): when anything last arrived, when the
        # PING still unanswered was sent, the timer that looks again.
        self._ping_interval = ping_interval
        self._last_received = self.idle_since
        self._ping_sent_at: float | None = None
        self._ping_count = 0
        self._health_timer: asyncio.TimerHandle | None = None
        # Streams waiting under a read timeout, and the one timer that watches them.
        self._timed: dict[_Stream, None] = {}
        self._read_timer: asyncio.TimerHandle | None = None
        self._read_timer_due = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(self._proto.initiate())

    def data_received(self, data: bytes) -> None:
        try:
            events = self._proto.receive(data)
        except RemoteProtocolError as exc:
            self._flush()  # h2's GOAWAY
            self._fail(exc)
            return
        now = self._loop.time()
        self._last_received = now
        streams = self._streams
        for event in events:
            kind = type(event)
            if kind is h2p.DataReceived:
                assert isinstance(event, h2p.DataReceived)
                self._conn_unacked += event.flow_length
                stream = streams.get(event.stream_id)
                if stream is None:
                    continue
                stream.last_read = now
                if event.data:
                    stream.chunks.append(event.data)
                    stream.buffered += len(event.data)
                stream.unacked += event.flow_length
                if (
                    stream.unacked >= _STREAM_CREDIT_AT
                    and stream.buffered <= STREAM_BUFFER_HIGH
                    and not event.end_stream
                ):
                    self._proto.credit(stream.stream_id, stream.unacked)
                    stream.unacked = 0
                waiter = stream.body_waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif kind is h2p.ResponseHeaders:
                assert isinstance(event, h2p.ResponseHeaders)
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.last_read = now
                    stream.head = event
                    waiter = stream.head_waiter
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
            elif kind is h2p.StreamEnded:
                stream = streams.get(event.stream_id)  # type: ignore[union-attr]
                if stream is not None:
                    stream.done = True
                    stream.wake()
                    if stream.sent_all:
                        self._release_stream(stream)
            elif kind is h2p.TrailersReceived:
                assert isinstance(event, h2p.TrailersReceived)
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.trailers = event.headers
            elif kind is h2p.WindowOpened:
                assert isinstance(event, h2p.WindowOpened)
                if event.stream_id == 0:
                    for stream in streams.values():
                        _wake_window(stream)
                else:
                    stream = streams.get(event.stream_id)
                    if stream is not None:
                        _wake_window(stream)
            elif kind is h2p.StreamReset:
                assert isinstance(event, h2p.StreamReset)
                self._on_reset(event)
            elif kind is h2p.SettingsChanged:
                assert isinstance(event, h2p.SettingsChanged)
                self._on_settings(event)
            elif kind is h2p.GoAway:
                assert isinstance(event, h2p.GoAway)
                self._on_goaway(event)
        if self._conn_unacked >= _CONN_CREDIT_AT:
            self._proto.credit(0, self._conn_unacked)
            self._conn_unacked = 0
        transport = self._transport
        if (
            self._write_paused
            and transport is not None
            and transport.get_write_buffer_size() > MAX_WRITE_BACKLOG
        ):
            # A GOAWAY would never be read, and close() would keep the socket until the
            # backlog drains: abort drops it now.
            self._fail(
                RemoteProtocolError(
                    "the server kept sending while not reading our replies "
                    f"(over {MAX_WRITE_BACKLOG} bytes unsent): connection aborted"
                ),
                abort=True,
            )
            return
        self._flush_soon()
        if not self._streams and (
            self.goaway_last_stream_id is not None or not self._proto.streams_left
        ):
            self._close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._lost_future is not None:
            settle(self._lost_future)
        if self._settings_future is not None:
            settle(self._settings_future)  # nobody waits for SETTINGS that will never come
        self.is_closed = True
        self._transport = None
        if self._error is None:
            if exc is None:
                self._error = RemoteProtocolError("the server closed the HTTP/2 connection")
            else:
                self._error = ReadError(
                    f"HTTP/2 connection lost: {type(exc).__name__}: {exc}".rstrip(": ")
                )
        for stream in list(self._streams.values()):
            if not stream.done and stream.error is None:
                stream.error = self._error
            stream.wake()
            self._release_stream(stream, notify=False)
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._pool.discard(self)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiters = self._drain_waiters
        self._drain_waiters = []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- used by the pool ---------------------------------------------------------------------

    def has_capacity(self) -> bool:
        """True if a new stream may be opened now."""
        return (
            self.reserved < self.max_streams
            # reservations not yet opened must each still find a stream id
            and self.reserved - len(self._streams) < self._proto.streams_left
            and self.goaway_last_stream_id is None
            and self._error is None
            and not self.is_closed
            and self._transport is not None
            and not self._transport.is_closing()
        )

    def is_reusable_idle(self, now: float, expiry: float | None) -> bool:
        """True if this connection (with no stream open) can carry a new request."""
        if not self.has_capacity():
            return False
        return expiry is None or now - self.idle_since < expiry

    def close(self) -> None:
        """Send GOAWAY and close the socket (the pool is told through ``connection_lost``)."""
        self._close()

    def _cancel_timers(self) -> None:
        for timer in (self._health_timer, self._read_timer):
            if timer is not None:
                timer.cancel()
        self._health_timer = self._read_timer = None

    def _close(self) -> None:
        self.is_closed = True
        self._cancel_timers()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            self._proto.close()
            self._flush()
            transport.close()

    # -- sending ------------------------------------------------------------------------------

    async def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` on a new stream; return the response with its body unread.

        The pool reserved the stream before handing the connection over.
        """
        stream = _Stream(self._loop.time())
        self.requests_started += 1
        try:
            await self._send(stream, request, timeout)
            if stream.head is None:
                await self._wait(stream, self._new_waiter(stream, "head"), timeout.read)
            head = stream.head
            assert head is not None
        except BaseException as exc:
            self._abort_stream(stream)
            if isinstance(exc, HyperHTTPError):
                exc.request = request
            raise
        body = H2ResponseStream(self, stream, timeout.read, request)
        response = Response(
            head.status,
            headers=Headers.from_raw(head.headers),
            stream=body,
            request=request,
            http_version="HTTP/2",
            reason_phrase=reason_phrase_for(head.status),
        )
        body.trailers = response.trailers
        return response

    async def _send(self, stream: _Stream, request: Request, timeout: Timeout) -> None:
        if self._error is not None:
            raise self._error
        if self.goaway_last_stream_id is not None:
            raise StreamRetryable("the server is closing this HTTP/2 connection (GOAWAY)")
        transport = self._transport
        if transport is None or transport.is_closing():
            raise WriteError("the connection was closed before the request could be sent")
        # Our own count of open streams: h2's open_outbound_streams walks every stream it
        # knows on each call (measured ~3% of S5 CPU), and h2 checks its own view again in
        # send_headers anyway.
        if len(self._streams) >= self.max_streams:
            raise StreamRetryable("the server lowered its concurrent stream limit")
        if not self._proto.streams_left:
            raise StreamRetryable("this HTTP/2 connection has used up its stream ids")
        if self._ping_interval is not None and self._health_timer is None:
            self._check_health()
        body = request.stream
        in_memory = b"" if body is None else body.read_bytes()
        end_stream = in_memory == b""
        method = request.method.encode("ascii")
        stream.stream_id = self._proto.send_headers(
            _request_headers(request, method), end_stream, method
        )
        self._streams[stream.stream_id] = stream
        if end_stream:
            stream.sent_all = True
            self._flush_soon()
        else:
            self._flush_soon()
            try:
                await self._send_body(stream, request, in_memory, timeout)
            except _StopSending:
                # The response is complete: the rest of the body is not wanted.
                stream.sent_all = True
                self._proto.reset_stream(stream.stream_id, h2p.CANCEL)
                self._flush()
                self._release_stream(stream)
                return
            stream.sent_all = True
            if stream.done:
                self._release_stream(stream)
        if self._write_paused:
            await self._drain(timeout.write)

    async def _await_first_settings(self, write_timeout: float | None) -> None:
        """Wait (at most ``write_timeout``) for the server's first SETTINGS.

        RFC 9113 §6.9.2 lets a client send DATA under the default 64 KiB windows before the
        server's SETTINGS arrive, and the windows then go negative until the server credits
        them back; waiting instead sends the body under the server's real windows, at the
        cost of at most one round trip on a new connection's first upload.
        """
        if self.settings_received or self.is_closed:
            return
        future = self._settings_future
        if future is None or future.done():
            future = self._settings_future = self._loop.create_future()
        timer = None
        if write_timeout is not None:
            timer = self._loop.call_later(write_timeout, settle, future)
        try:
            await asyncio.shield(future)
        finally:
            if timer is not None:
                timer.cancel()

    async def _send_body(
        self, stream: _Stream, request: Request, in_memory: bytes | None, timeout: Timeout
    ) -> None:
        await self._await_first_settings(timeout.write)
        header = request.headers.raw_value(b"content-length")
        expected = int(header) if header is not None and header.isdigit() else None
        if in_memory is not None:
            await self._send_data(stream, in_memory, timeout)
            sent = len(in_memory)
        else:
            assert request.stream is not None
            sent = 0
            async for chunk in request.stream:
                if not chunk:
                    continue
                sent += len(chunk)
                if expected is not None and sent > expected:
                    raise LocalProtocolError(
                        f"the request body is longer than its Content-Length ({expected})"
                    )
                await self._send_data(stream, chunk, timeout)
        if expected is not None and sent != expected:
            raise LocalProtocolError(
                f"the request body is shorter ({sent} bytes) than its Content-Length ({expected})"
            )
        self._check_stream(stream)
        self._proto.end_stream(stream.stream_id)
        self._flush()

    def _check_stream(self, stream: _Stream) -> None:
        if stream.error is not None:
            raise stream.error
        if stream.done:
            raise _StopSending
        if self._error is not None:
            raise self._error

    async def _send_data(self, stream: _Stream, data: bytes, timeout: Timeout) -> None:
        view = memoryview(data)
        stream_id = stream.stream_id
        proto = self._proto
        while view:
            self._check_stream(stream)
            allowed = proto.send_window(stream_id)
            if allowed <= 0:
                await self._wait_for_window(stream, timeout.write)
                continue
            piece = view[:allowed]
            view = view[allowed:]
            proto.send_data(stream_id, bytes(piece), False)
            self._flush()
            if self._write_paused:
                await self._drain(timeout.write)

    async def _wait_for_window(self, stream: _Stream, write_timeout: float | None) -> None:
        waiter = self._new_waiter(stream, "window")
        try:
            if write_timeout is None:
                await waiter
            else:
                await asyncio.wait_for(asyncio.shield(waiter), write_timeout)
        except asyncio.TimeoutError:
            raise WriteTimeout(
                f"the server gave no flow-control credit for the request body "
                f"within {write_timeout} s"
            ) from None
        finally:
            stream.window_waiter = None

    async def _drain(self, write_timeout: float | None) -> None:
        if not self._write_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        try:
            if write_timeout is None:
                await waiter
            else:
                await asyncio.wait_for(asyncio.shield(waiter), write_timeout)
        except asyncio.TimeoutError:
            raise WriteTimeout(
                f"the server did not accept the request body within {write_timeout} s"
            ) from None
        if self._error is not None:
            raise self._error

    def _flush_soon(self) -> None:
        """Write what the codec prepared once the current loop pass is over.

        A hundred tasks sending requests (or reading responses) in one pass then cost one
        TLS record and one ``write`` instead of a hundred: measured ~20 µs per request on
        the S5 benchmark. Body data and connection shutdown still flush at once.
        """
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _flush(self) -> None:
        data = self._proto.data_to_send()
        if data:
            transport = self._transport
            if transport is not None and not transport.is_closing():
                transport.write(data)

    # -- receiving ----------------------------------------------------------------------------

    def _new_waiter(self, stream: _Stream, which: str) -> asyncio.Future[None]:
        waiter = self._loop.create_future()
        if which == "head":
            stream.head_waiter = waiter
        elif which == "body":
            stream.body_waiter = waiter
        else:
            stream.window_waiter = waiter
        return waiter

    async def _wait(
        self, stream: _Stream, waiter: asyncio.Future[None], read_timeout: float | None
    ) -> None:
        if stream.error is not None:
            raise stream.error
        if read_timeout is None:
            await waiter
        else:
            # One timer per connection, not per wait: on uvloop every call_at is a libuv
            # timer of its own, measured at ~15 µs per request with 100 streams in flight.
            stream.read_timeout = read_timeout
            stream.waiter = waiter
            self._timed[stream] = None
            due = stream.last_read + read_timeout
            if self._read_timer is None or due < self._read_timer_due:
                self._arm_read_timer(due)
            try:
                await waiter
            finally:
                del self._timed[stream]
                stream.waiter = None
        if stream.error is not None:
            raise stream.error

    def _arm_read_timer(self, due: float) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer_due = due
        self._read_timer = self._loop.call_at(due, self._on_read_timer)

    def _on_read_timer(self) -> None:
        """Fail the waits whose stream has been silent for its read timeout; re-arm."""
        self._read_timer = None
        now = self._loop.time()
        next_due: float | None = None
        for stream in list(self._timed):
            due = stream.last_read + stream.read_timeout
            if due > now:
                next_due = due if next_due is None else min(next_due, due)
                continue
            waiter = stream.waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(
                    ReadTimeout(
                        "no data received from the server on this stream for "
                        f"{stream.read_timeout} s"
                    )
                )
        if next_due is not None:
            self._arm_read_timer(next_due)

    async def wait_for_body(self, stream: _Stream, read_timeout: float | None) -> None:
        """Wait until a body chunk arrives for ``stream`` or its body ends."""
        try:
            await self._wait(stream, self._new_waiter(stream, "body"), read_timeout)
        finally:
            stream.body_waiter = None

    def take_chunks(self, stream: _Stream) -> list[bytes]:
        """Hand over the stream's buffered body chunks and return the credit they held."""
        chunks = stream.chunks
        stream.chunks = []
        stream.buffered = 0
        if stream.unacked >= _STREAM_CREDIT_AT and not stream.done and not stream.released:
            self._proto.credit(stream.stream_id, stream.unacked)
            stream.unacked = 0
            self._flush_soon()
        return chunks

    def response_closed(self, stream: _Stream) -> None:
        """The response was closed; reset its stream if the server was still sending."""
        self._abort_stream(stream)

    # -- stream bookkeeping -------------------------------------------------------------------

    def _abort_stream(self, stream: _Stream) -> None:
        """The request gave up on ``stream``: RST_STREAM(CANCEL) if it is still open."""
        if stream.released:
            return
        if stream.stream_id and not (stream.done and stream.sent_all) and not self.is_closed:
            self._proto.reset_stream(stream.stream_id, h2p.CANCEL)
            self._flush()
        self._release_stream(stream)

    def _release_stream(self, stream: _Stream, *, notify: bool = True) -> None:
        if stream.released:
            return
        stream.released = True
        if stream.stream_id:
            self._streams.pop(stream.stream_id, None)
        self.reserved -= 1
        if not self.reserved:
            self.idle_since = self._loop.time()
        if notify:
            self._pool.stream_released(self)
        if not self._streams and (
            self.goaway_last_stream_id is not None or not self._proto.streams_left
        ):
            self._close()

    def cancel_reservation(self) -> None:
        """A reservation handed to a waiter that is gone: give it back."""
        self.reserved -= 1
        if not self.reserved:
            self.idle_since = self._loop.time()
        self._pool.stream_released(self)

    def _on_reset(self, event: h2p.StreamReset) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is None:
            return
        code = event.error_code
        if stream.done and code == h2p.NO_ERROR:
            # RFC 9113 §8.1: the response is complete; the server wants no more body.
            stream.sent_all = True
        elif code == h2p.REFUSED_STREAM and event.remote:
            stream.error = StreamRetryable("the server refused the stream (REFUSED_STREAM)")
        elif event.remote:
            stream.error = RemoteProtocolError(f"the server reset the stream ({error_name(code)})")
        else:
            detail = f": {event.reason}" if event.reason else ""
            stream.error = RemoteProtocolError(
                f"the stream was reset after a protocol error from the server "
                f"({error_name(code)}){detail}"
            )
        stream.wake()
        self._release_stream(stream)

    def _on_settings(self, event: h2p.SettingsChanged) -> None:
        limit = event.max_concurrent_streams
        first = not self.settings_received
        self.settings_received = True
        if self._settings_future is not None:
            settle(self._settings_future)
        if first and self.gate is not None:
            self._pool.h2_ready(self)
        if limit is None and first:
            # The first SETTINGS without a limit: the server allows any number (capped).
            limit = self._proto.peer_max_concurrent_streams
        elif limit is None:
            return
        limit = min(limit, MAX_STREAMS_CEILING)
        grew = limit > self.max_streams
        self.max_streams = limit
        if grew:
            self._pool.stream_released(self)

    def _on_goaway(self, event: h2p.GoAway) -> None:
        last = event.last_stream_id
        self.goaway_last_stream_id = last
        for stream in list(self._streams.values()):
            if stream.stream_id > last:
                stream.error = StreamRetryable(
                    "the server is closing the connection and did not process this request "
                    f"(GOAWAY, {error_name(event.error_code)})"
                )
                stream.wake()
                self._release_stream(stream, notify=False)
        self._pool.connection_going_away(self)

    # -- health checks ------------------------------------------------------------------------

    def _check_health(self) -> None:
        """PING a connection silent for an interval; close it if a PING went unanswered.

        Runs when a request starts on a connection with no check pending, then from a timer
        for as long as streams are open.
        """
        self._health_timer = None
        interval = self._ping_interval
        if interval is None or self.is_closed:
            return
        now = self._loop.time()
        sent_at = self._ping_sent_at
        if sent_at is not None:
            if self._last_received >= sent_at:
                self._ping_sent_at = sent_at = None  # anything at all proves it alive
            elif now - sent_at >= interval:
                self._flush()
                self._fail(
                    ReadError(
                        f"the HTTP/2 connection is dead: the server sent nothing, not even "
                        f"a PING acknowledgement, for {now - self._last_received:.1f} s"
                    )
                )
                return
        if sent_at is None and now - self._last_received >= interval:
            self._ping_count += 1
            self._proto.ping(self._ping_count.to_bytes(8, "big"))
            self._flush_soon()
            self._ping_sent_at = sent_at = now
        if self._streams or self.reserved:
            due = sent_at + interval if sent_at is not None else self._last_received + interval
            self._health_timer = self._loop.call_at(max(due, now), self._check_health)

    def _fail(self, error: HyperHTTPError, *, abort: bool = False) -> None:
        self._error = error
        for stream in list(self._streams.values()):
            if stream.error is None:
                stream.error = error
            stream.wake()
        self.is_closed = True
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if abort:
                transport.abort()
            else:
                transport.close()


def _wake_window(stream: _Stream) -> None:
    waiter = stream.window_waiter
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _request_headers(request: Request, method: bytes) -> list[tuple[bytes, bytes]]:
    url = request.url
    authority: bytes | None = None
    fields: list[tuple[bytes, bytes]] = []
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower in _DROPPED_FIELDS:
            if lower == b"host":
                authority = value
            continue
        if lower == b"te" and value.lower() != b"trailers":
            continue
        fields.append((lower, value))
    if authority is None:
        authority = url.netloc.encode("ascii")
    return [
        (b":method", method),
        (b":scheme", url.scheme.encode("ascii")),
        (b":authority", authority),
        (b":path", url.raw_path),
        *fields,
    ]


class H2ResponseStream(ResponseStream):
    """The body of one response on an :class:`HTTP2Connection`."""

    __slots__ = ("_conn", "_read_timeout", "_request", "_stream", "trailers")

    def __init__(
        self, conn: HTTP2Connection, stream: _Stream, read_timeout: float | None, request: Request
    ) -> None:
        self._conn: HTTP2Connection | None = conn
        self._stream = stream
        self._read_timeout = read_timeout
        self._request = request
        self.trailers: Headers | None = None

    async def _wait_for_body(self, conn: HTTP2Connection) -> None:
        try:
            await conn.wait_for_body(self._stream, self._read_timeout)
        except HyperHTTPError as exc:
            exc.request = self._request
            raise

    def _publish_trailers(self) -> None:
        target = self.trailers
        if target is not None and self._stream.trailers:
            for name, value in self._stream.trailers:
                target.add(name, value)
        self.trailers = None

    def _too_large(self, limit: int) -> ResponseTooLarge:
        return ResponseTooLarge(f"response body exceeds {limit} bytes", request=self._request)

    async def aread_all(self, limit: int | None) -> bytes:
        """Every body byte, joined once."""
        conn = self._conn
        if conn is None:
            return b""
        stream = self._stream
        chunks: list[bytes] = []
        total = 0
        while True:
            if stream.chunks:
                for chunk in conn.take_chunks(stream):
                    total += len(chunk)
                    chunks.append(chunk)
                if limit is not None and total > limit:
                    raise self._too_large(limit)
            if stream.done:
                if stream.chunks:
                    continue
                break
            await self._wait_for_body(conn)
        self._publish_trailers()
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        stream = self._stream
        while True:
            if stream.chunks:
                for chunk in conn.take_chunks(stream):
                    yield chunk
            if stream.done:
                if stream.chunks:
                    continue
                self._publish_trailers()
                return
            await self._wait_for_body(conn)

    async def aclose(self) -> None:
        """Release the stream (RST_STREAM if the body was not received whole)."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            conn.response_closed(self._stream)

    def __del__(self) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            try:
                conn.response_closed(self._stream)
            except RuntimeError:  # the event loop is already closed
                pass
            warnings.warn(
                "a streamed response was garbage-collected without being closed; "
                "use `async with client.stream(...)` or `await response.aclose()`",
                ResourceWarning,
                stacklevel=1,
            )
