"""One HTTP/1.1 connection: an ``asyncio.Protocol`` driving the sans-I/O response parser.

Theory of operation
-------------------
The connection is either *idle* (in the pool), *active* (carrying exactly one request), or
*closed*. ``handle_request`` writes the request head (and a small in-memory body) in one
``transport.write``, streams larger bodies with back-pressure, then waits on a future for
the response head. ``data_received`` feeds bytes to the parser and files the events: the head
wakes the request, body chunks go to a list that the response stream drains, and the end of
the message marks the body done.

The connection goes back to the pool only when the response is closed *after* its body was
completely received and the parser says the connection is reusable (keep-alive, no surplus
bytes). Anything else (an early close, an error, a timeout, a cancellation, bytes arriving
while idle) closes the socket: an HTTP/1.1 connection with unread bytes is never reused.

Timeouts: the read timeout is the longest silence between two received bytes, implemented
with one timer that re-arms itself from the last-read time rather than being reset on every
``data_received``. The write timeout bounds each wait for the transport's buffer to drain.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Final, TypeVar, cast

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
from .._protocol.h1_client import (
    CHUNKED_TERMINATOR,
    ResponseEnd,
    ResponseHead,
    ResponseParser,
    encode_chunk,
    serialize_request_head,
)
from .._status import reason_phrase_for
from ._closing import ClosingMixin, settle

if TYPE_CHECKING:
    from ._pool import ConnectionPool, Origin

__all__ = [
    "BODY_HIGH_WATER",
    "BODY_LOW_WATER",
    "SMALL_BODY",
    "HTTP11Connection",
    "wait_with_timeout",
]

# While a caller streams a body slower than it arrives, stop reading from the socket once
# this much is buffered (TCP back-pressure then slows the server), and resume below the low
# mark. Reads of whole bodies (aread) never pause: max_response_size bounds them instead.
BODY_HIGH_WATER: Final = 1024 * 1024
BODY_LOW_WATER: Final = 256 * 1024
# Bodies up to this size are joined to the head and sent in one write.
SMALL_BODY: Final = 64 * 1024

T = TypeVar("T")


class HTTP11Connection(ClosingMixin, asyncio.Protocol):
    """An HTTP/1.1 connection owned by a :class:`ConnectionPool`."""

    # One request at a time (the pool hands it out exclusively).
    multiplexed: Final = False
    # Set on connections to an HTTP proxy that forwards http:// requests: the request
    # target goes out in absolute form, with the proxy's own Proxy-Authorization (which
    # replaces one the caller set). Never set on tunnels: nothing meant for the proxy
    # travels inside one.
    forward_proxy = False
    proxy_authorization: bytes | None = None

    def __init__(self, pool: ConnectionPool, origin: Origin) -> None:
        self.origin = origin
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._lost_future: asyncio.Future[None] | None = None
        self._parser = ResponseParser()
        self.is_closed = False
        self.in_use = False
        self.slot_released = False
        self.requests_started = 0
        self.idle_since = self._loop.time()
        # write side
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # read side, per request
        self._head: ResponseHead | None = None
        self._head_waiter: asyncio.Future[None] | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._body_done = False
        self._trailers: list[tuple[bytes, bytes]] = []
        self._body_waiter: asyncio.Future[None] | None = None
        self._error: HyperHTTPError | None = None
        self._streaming = False
        self._no_reuse = False
        self._read_paused = False
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timed_waiter: asyncio.Future[None] | None = None
        self._read_timeout = 0.0
        self.received_response_bytes = False

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.in_use:
            # Bytes on an idle connection: the peer is out of step (F-22). Never reuse it.
            self._close()
            return
        self._last_read = self._loop.time()
        self.received_response_bytes = True
        try:
            events = self._parser.feed(data)
        except RemoteProtocolError as exc:
            self._fail(exc)
            return
        self._file_events(events)

    def eof_received(self) -> bool:
        if self.in_use and not self._body_done:
            if self._parser.body_until_close and not _closed_cleanly(self._transport):
                # RFC 9112 §9.8: over TLS such a body is complete only if the server sent a
                # closure alert; a bare TCP FIN may be a cut (or an attacker's truncation).
                # (uvloop reports that case as connection_lost without eof_received.)
                self._fail(
                    RemoteProtocolError(
                        "the server closed the TLS connection without close_notify before "
                        "the end of a body delimited by the connection's close: it may be "
                        "truncated"
                    )
                )
                return False
            try:
                events = self._parser.feed_eof()
            except RemoteProtocolError as exc:
                self._fail(exc)
                return False
            self._file_events(events)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost_future is not None:
            settle(self._lost_future)
        self.is_closed = True
        self._transport = None
        if self.in_use and not self._body_done and self._error is None:
            if exc is None:
                error: HyperHTTPError = RemoteProtocolError(
                    "server closed the connection before the response was complete"
                )
            else:
                error = ReadError(f"connection lost: {_describe_os_error(exc)}")
            self._error = error
            self._wake_all()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(WriteError("connection lost while sending"))
        self._cancel_timer()
        if not self.in_use:
            self._pool.discard(self)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- used by the pool ---------------------------------------------------------------------

    def is_reusable_idle(self, now: float, expiry: float | None) -> bool:
        """True if this idle connection can carry a new request."""
        if self.is_closed or self._transport is None or self._transport.is_closing():
            return False
        return expiry is None or now - self.idle_since < expiry

    def close(self) -> None:
        """Close the socket now (the pool is told through ``connection_lost``)."""
        self._close()

    # -- sending ------------------------------------------------------------------------------

    async def handle_request(self, request: Request, timeout: Timeout) -> Response:
        """Send ``request`` and return the response with its body still to be read."""
        self._start_request(request.method)
        try:
            await self._send(request, timeout)
            head = self._head
            if head is None:
                await self._wait(self._new_head_waiter(), timeout.read)
                head = self._head
            assert head is not None
        except BaseException as exc:
            self._abort_request()
            if isinstance(exc, HyperHTTPError):
                exc.request = request
            raise
        stream = H1ResponseStream(self, timeout.read, request)
        response = Response(
            head.status_code,
            headers=Headers.from_raw(head.headers),
            stream=stream,
            request=request,
            http_version=head.http_version,
            reason_phrase=_reason(head),
        )
        stream.trailers = response.trailers
        return response

    def _start_request(self, method: str) -> None:
        if self.in_use:
            raise LocalProtocolError("an HTTP/1.1 connection carries one request at a time")
        self.in_use = True
        self.requests_started += 1
        self._parser.expect(method.encode("ascii"))
        self._head = None
        self._chunks = []
        self._buffered = 0
        self._body_done = False
        self._trailers = []
        self._error = None
        self._streaming = False
        self._no_reuse = False
        self.received_response_bytes = False
        self._last_read = self._loop.time()

    async def _send(self, request: Request, timeout: Timeout) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise WriteError("the connection was closed before the request could be sent")
        if self.forward_proxy:
            target, raw_headers = _forward_form(request, self.proxy_authorization)
            head = serialize_request_head(request.method.encode("ascii"), target, raw_headers)
        else:
            head = serialize_request_head(
                request.method.encode("ascii"), request.url.raw_path, request.headers.raw
            )
        body = request.stream
        if body is None:
            transport.write(head)
        else:
            in_memory = body.read_bytes()
            if in_memory is not None and len(in_memory) <= SMALL_BODY:
                transport.write(head + in_memory if in_memory else head)
            else:
                transport.write(head)
                await self._send_body(request, timeout)
        if self._write_paused:
            await self._drain(timeout.write)

    async def _send_body(self, request: Request, timeout: Timeout) -> None:
        assert request.stream is not None
        chunked = request.headers.get("transfer-encoding") == "chunked"
        expected = None if chunked else int(request.headers["content-length"])
        sent = 0
        async for chunk in request.stream:
            if self._head is not None or self._error is not None:
                # The server answered (or failed) before reading the whole body: stop
                # sending; the connection will not be reused.
                self._no_reuse = True
                return
            if not chunk:
                continue
            sent += len(chunk)
            if expected is not None and sent > expected:
                raise LocalProtocolError(
                    f"the request body is longer than its Content-Length ({expected})"
                )
            transport = self._transport
            if transport is None:
                if self._error is not None:
                    raise self._error
                raise WriteError("connection lost while sending the request body")
            transport.write(encode_chunk(chunk) if chunked else chunk)
            if self._write_paused:
                await self._drain(timeout.write)
        if chunked:
            if self._transport is None:
                raise WriteError("connection lost while sending the request body")
            self._transport.write(CHUNKED_TERMINATOR)
        elif expected is not None and sent != expected:
            raise LocalProtocolError(
                f"the request body is shorter ({sent} bytes) than its Content-Length ({expected})"
            )

    async def _drain(self, write_timeout: float | None) -> None:
        if not self._write_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiter = waiter
        # A plain timer rather than asyncio.wait_for: no extra task, and no race between
        # the timeout and an outer cancellation.
        timer = None
        if write_timeout is not None:
            timer = self._loop.call_later(write_timeout, _expire_drain, waiter, write_timeout)
        try:
            await waiter
        finally:
            self._drain_waiter = None
            if timer is not None:
                timer.cancel()

    # -- receiving ----------------------------------------------------------------------------

    def _file_events(self, events: list[ResponseHead | bytes | ResponseEnd]) -> None:
        for event in events:
            if type(event) is bytes:
                self._chunks.append(event)
                self._buffered += len(event)
            elif type(event) is ResponseHead:
                self._head = event
                waiter = self._head_waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            else:
                assert isinstance(event, ResponseEnd)
                self._body_done = True
                self._trailers = event.trailers
        waiter = self._body_waiter
        if waiter is not None and not waiter.done() and (self._chunks or self._body_done):
            waiter.set_result(None)
        if (
            self._streaming
            and not self._read_paused
            and self._buffered > BODY_HIGH_WATER
            and self._transport is not None
        ):
            self._read_paused = True
            self._transport.pause_reading()

    def _new_head_waiter(self) -> asyncio.Future[None]:
        waiter = self._loop.create_future()
        self._head_waiter = waiter
        return waiter

    async def wait_for_body(self, read_timeout: float | None) -> None:
        """Wait until a body chunk arrives or the body ends."""
        if self._error is not None:
            raise self._error
        if self._read_paused and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()
        waiter = self._loop.create_future()
        self._body_waiter = waiter
        try:
            await self._wait(waiter, read_timeout)
        finally:
            self._body_waiter = None

    async def _wait(self, waiter: asyncio.Future[None], read_timeout: float | None) -> None:
        if self._error is not None:
            raise self._error
        if read_timeout is not None:
            self._arm_read_timer(waiter, read_timeout)
        try:
            await waiter
        finally:
            self._timed_waiter = None
        if self._error is not None:
            raise self._error

    def _arm_read_timer(self, waiter: asyncio.Future[None], read_timeout: float) -> None:
        # One timer per connection, kept across waits and requests: arming and cancelling a
        # TimerHandle per request costs ~3 µs, while a read timeout almost never fires. A
        # pending timer that is due later than this wait's deadline is replaced.
        self._timed_waiter = waiter
        self._read_timeout = read_timeout
        due = self._last_read + read_timeout
        timer = self._timer
        if timer is not None:
            if timer.when() <= due:
                return  # fires no later than needed; it re-arms itself from the last read
            timer.cancel()
        self._timer = self._loop.call_at(due, self._on_read_timer)

    def _on_read_timer(self) -> None:
        self._timer = None
        waiter = self._timed_waiter
        if waiter is None or waiter.done():
            return  # nobody is waiting: the timer lapses until the next wait arms it
        read_timeout = self._read_timeout
        due = self._last_read + read_timeout
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._on_read_timer)
            return
        waiter.set_exception(ReadTimeout(f"no data received from the server for {read_timeout} s"))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def take_chunks(self) -> list[bytes]:
        """Hand over the buffered body chunks."""
        chunks = self._chunks
        self._chunks = []
        self._buffered = 0
        return chunks

    @property
    def body_done(self) -> bool:
        """True once the whole body has been received."""
        return self._body_done

    @property
    def buffered(self) -> int:
        """Body bytes received but not yet handed over."""
        return self._buffered

    @property
    def trailers(self) -> list[tuple[bytes, bytes]]:
        """Trailer fields of the current response."""
        return self._trailers

    def set_streaming(self) -> None:
        """The body will be consumed chunk by chunk: apply read back-pressure."""
        self._streaming = True

    def response_closed(self) -> None:
        """The response was closed: pool the connection if it is clean, else close it."""
        self.in_use = False
        self._streaming = False
        if self._body_done and self._parser.reusable and not self._no_reuse:
            self._chunks = []
            self.idle_since = self._loop.time()
            if self._read_paused and self._transport is not None:
                self._read_paused = False
                self._transport.resume_reading()
            self._pool.release(self)
        else:
            self._cancel_timer()
            self._close()
            self._pool.discard(self)

    # -- failure ------------------------------------------------------------------------------

    def _fail(self, error: HyperHTTPError) -> None:
        self._error = error
        self._close()
        self._wake_all()

    def _wake_all(self) -> None:
        for waiter in (self._head_waiter, self._body_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _abort_request(self) -> None:
        self.in_use = False
        self._cancel_timer()
        # abort(), not close(): close() would first try to flush what the transport still
        # buffers (say, the rest of a large upload to a peer that stopped reading) and keep
        # the socket open for as long as the peer keeps not reading.
        self._close(abort=True)
        self._pool.discard(self)

    def _close(self, *, abort: bool = False) -> None:
        self.is_closed = True
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if abort or self._error is not None or transport.get_write_buffer_size():
                transport.abort()
            else:
                transport.close()


class H1ResponseStream(ResponseStream):
    """The body of one response on an :class:`HTTP11Connection`."""

    __slots__ = ("_conn", "_read_timeout", "_request", "trailers")

    def __init__(
        self, conn: HTTP11Connection, read_timeout: float | None, request: Request
    ) -> None:
        self._conn: HTTP11Connection | None = conn
        self._read_timeout = read_timeout
        self._request = request
        # The Response's ``trailers``: filled once the body has been received whole.
        self.trailers: Headers | None = None

    async def _wait_for_body(self, conn: HTTP11Connection) -> None:
        try:
            await conn.wait_for_body(self._read_timeout)
        except HyperHTTPError as exc:
            # Errors while reading the body carry the request, as every error does.
            exc.request = self._request
            raise

    def _publish_trailers(self, conn: HTTP11Connection) -> None:
        target = self.trailers
        if target is not None and conn.trailers:
            for name, value in conn.trailers:
                target.add(name, value)
        self.trailers = None

    async def aread_all(self, limit: int | None) -> bytes:
        """Every body byte, joined once."""
        conn = self._conn
        if conn is None:
            return b""
        while not conn.body_done:
            if limit is not None and conn.buffered > limit:
                raise ResponseTooLarge(
                    f"response body exceeds {limit} bytes", request=self._request
                )
            await self._wait_for_body(conn)
        if limit is not None and conn.buffered > limit:
            raise ResponseTooLarge(f"response body exceeds {limit} bytes", request=self._request)
        self._publish_trailers(conn)
        chunks = conn.take_chunks()
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        conn.set_streaming()
        while True:
            chunks = conn.take_chunks()
            for chunk in chunks:
                yield chunk
            if conn.body_done:
                if conn.buffered:
                    continue
                self._publish_trailers(conn)
                return
            await self._wait_for_body(conn)

    async def aclose(self) -> None:
        """Release the connection (to the pool if its body was fully received)."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            conn.response_closed()

    def __del__(self) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            # Never leak the pool slot of a response nobody closed (hyperhttp 2.1.0 did).
            try:
                conn.response_closed()
            except RuntimeError:  # the event loop is already closed
                pass
            warnings.warn(
                "a streamed response was garbage-collected without being closed; "
                "use `async with client.stream(...)` or `await response.aclose()`",
                ResourceWarning,
                stacklevel=1,
            )


def _expire_drain(waiter: asyncio.Future[None], write_timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(
            WriteTimeout(f"the server did not accept the request body within {write_timeout} s")
        )


async def wait_with_timeout(awaitable: Awaitable[T], timeout: float) -> T:
    """``await awaitable``, raising ``asyncio.TimeoutError`` after ``timeout`` seconds.

    Not ``asyncio.wait_for``: before Python 3.12 it swallows a cancellation that arrives as
    the awaitable completes (CPython gh-86296), and a cancelled request must always raise
    ``CancelledError`` (checklist CN-01). Python 3.10 has no ``asyncio.timeout``, so it
    keeps ``wait_for`` and that rare race.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)  # pragma: no cover


def _forward_form(
    request: Request, proxy_authorization: bytes | None
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Request target and headers for a forwarding proxy (RFC 9112 §3.2.2: absolute form)."""
    url = request.url
    target = f"{url.scheme}://{url.netloc}{url.target}".encode("ascii")
    headers = request.headers.raw
    if proxy_authorization is not None:
        headers = [field for field in headers if field[0].lower() != b"proxy-authorization"]
        headers.append((b"Proxy-Authorization", proxy_authorization))
    return target, headers


def _reason(head: ResponseHead) -> str:
    if head.reason:
        return head.reason.decode("latin-1")
    return reason_phrase_for(head.status_code)


def _describe_os_error(exc: BaseException) -> str:
    name = type(exc).__name__
    text = getattr(exc, "strerror", None) or str(exc)
    return f"{name}: {text}" if text else name


def _closed_cleanly(transport: asyncio.BaseTransport | None) -> bool:
    """False if ``transport`` is TLS and the peer closed it without a closure alert."""
    if transport is None:
        return True
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return True  # plain TCP: a FIN is the end
    try:
        # After close_notify a read returns b""; without it the TLS layer has nothing to
        # give and wants more bytes, which will never come.
        return bool(ssl_object.read(1) == b"")
    except ssl.SSLError:
        return False
