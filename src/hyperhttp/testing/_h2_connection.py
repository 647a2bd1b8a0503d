"""One HTTP/2 connection of the test server: streams, flow control, faults, flood limits.

The protocol work is :class:`~hyperhttp._protocol.h2_server.H2ServerProtocol` (sans I/O);
this module moves its bytes, runs each complete request through the server's ``app`` (a
:class:`RawRequest` in, a :class:`Reply` out, exactly as for HTTP/1.1) and writes the reply
within the client's flow-control windows, one task per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._protocol.h1_server import RequestRejected, body_allowed
from .._protocol.h2_server import (
    CANCEL,
    ENHANCE_YOUR_CALM,
    NO_ERROR,
    PROTOCOL_ERROR,
    BodyReceived,
    ConnectionEnded,
    H2ServerProtocol,
    RequestEnded,
    RequestReceived,
    StreamCancelled,
    WindowOpened,
)
from ._faults import Fault
from ._h1_connection import _STREAM_END, _next_chunk
from ._wire import RawRequest, Reply

if TYPE_CHECKING:
    from ._server import ServerThread

__all__ = ["H2Connection"]

_NO_FAULT = Fault()
_UNLIMITED = 1 << 62
#: Largest DATA frame we write, whatever SETTINGS_MAX_FRAME_SIZE the client allows (up to
#: 16 MiB): every stream waits for the write buffer to drain before each frame, so a frame
#: per stream is all it can overshoot the pause mark by (checklist H2-09).
MAX_DATA_WRITE: Final = 64 * 1024


class _Stream:
    __slots__ = (
        "body",
        "cancelled",
        "dispatched",
        "headers",
        "last",
        "method",
        "size",
        "started",
        "stream_id",
        "target",
        "timer",
        "window",
    )

    def __init__(self, ev: RequestReceived, now: float) -> None:
        self.stream_id = ev.stream_id
        self.method = ev.method
        self.target = ev.target
        self.headers = ev.headers
        self.body: list[bytes] = []
        self.size = 0
        self.cancelled = False
        self.dispatched = False
        self.window = asyncio.Event()
        self.started = now  # body deadline: when the head arrived, and the last DATA frame
        self.last = now
        self.timer: asyncio.TimerHandle | None = None

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class H2Connection(asyncio.Protocol):
    """One HTTP/2 connection (h2c by prior knowledge, or h2 negotiated with ALPN)."""

    def __init__(self, server: ServerThread) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = server.loop
        limits = self._limits
        self._proto = H2ServerProtocol(
            max_concurrent_streams=limits.h2_max_concurrent_streams,
            max_header_list_size=limits.h2_max_header_list_size,
            initial_window_size=limits.h2_initial_window_size,
            reset_burst=limits.h2_reset_burst,
            reset_rate=limits.h2_reset_rate,
            control_frame_burst=limits.h2_control_frame_burst,
            control_frame_rate=limits.h2_control_frame_rate,
        )
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0
        self._closed = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._write_timer: asyncio.TimerHandle | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._activity = 0.0
        self._client: tuple[str, int] = ("", 0)
        self._local: tuple[str, int] = ("", 0)
        self._scheme = "http"
        self._goaway_last: int | None = None  # GOAWAY sent: streams above are refused
        self._close_when_idle = False
        self._head_key: tuple[object, ...] | None = None  # what the header deadline times
        self._head_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._server.register(self):
            transport.abort()
            self._closed = True
            return
        peer = transport.get_extra_info("peername") or ("", 0)
        local = transport.get_extra_info("sockname") or ("", 0)
        self._client = (str(peer[0]), int(peer[1]))
        self._local = (str(local[0]), int(local[1]))
        if transport.get_extra_info("sslcontext") is not None:
            self._scheme = "https"
        transport.set_write_buffer_limits(high=self._limits.write_buffer_high)
        self._proto.initiate()
        self._flush()
        self._activity = self._loop.time()
        self._idle_timer = self._loop.call_later(self._limits.idle_timeout, self._on_idle)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._activity = self._loop.time()
        try:
            for ev in self._proto.receive(data):
                if isinstance(ev, RequestReceived):
                    self._on_request(ev)
                elif isinstance(ev, BodyReceived):
                    self._on_body(ev)
                elif isinstance(ev, RequestEnded):
                    stream = self._streams.get(ev.stream_id)
                    if stream is not None and not stream.cancelled:
                        self._dispatch(stream)
                elif isinstance(ev, StreamCancelled):
                    stream = self._streams.get(ev.stream_id)
                    if stream is not None:
                        stream.cancelled = True
                        stream.stop_timer()
                        stream.window.set()
                        if not stream.dispatched:
                            del self._streams[ev.stream_id]
                elif isinstance(ev, WindowOpened):
                    self._wake(ev.stream_id)
                elif isinstance(ev, ConnectionEnded):
                    self._ended(ev)
                    return
            self._watch_head()
        except Exception as exc:  # never let one connection take the loop down
            self._server.record_internal_error(exc)
            self._abort()
            return
        self._flush()

    def eof_received(self) -> bool | None:
        self._close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        for timer in (self._idle_timer, self._write_timer, self._head_timer):
            if timer is not None:
                timer.cancel()
        for stream in self._streams.values():
            stream.stop_timer()
        self._can_write.set()
        self._wake(0)
        self._server.unregister(self)

    def pause_writing(self) -> None:
        # The client does not read: stop reading too, so the ACKs and WINDOW_UPDATEs that
        # h2 queues for its frames stay bounded (checklist H2-09, CVE-2019-9517).
        self._can_write.clear()
        if self._transport is not None and not self._closed:
            with contextlib.suppress(Exception):
                self._transport.pause_reading()
        self._write_timer = self._loop.call_later(self._limits.write_timeout, self._abort)

    def resume_writing(self) -> None:
        self._can_write.set()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        if self._transport is not None and not self._closed:
            with contextlib.suppress(Exception):
                self._transport.resume_reading()

    # -- inbound ---------------------------------------------------------------------------

    def _on_request(self, ev: RequestReceived) -> None:
        if self._goaway_last is not None and ev.stream_id > self._goaway_last:
            self._proto.reset(ev.stream_id, CANCEL)  # after our GOAWAY: never processed
            return
        if self._running >= self._limits.h2_max_concurrent_streams:
            # handlers of streams the client reset still run: never exceed the cap (H2-05)
            ended = self._proto.refuse(ev.stream_id)
            if ended is not None:
                self._ended(ended)
            return
        stream = _Stream(ev, self._loop.time())
        self._streams[ev.stream_id] = stream
        if ev.end_stream:
            self._dispatch(stream)
        else:
            delay = self._limits.body_timeout
            stream.timer = self._loop.call_later(delay, self._on_body_timeout, stream)

    def _on_body(self, ev: BodyReceived) -> None:
        stream = self._streams.get(ev.stream_id)
        live = stream is not None and not stream.cancelled and not stream.dispatched
        # request bodies are buffered whole (bounded below), so data is consumed on arrival
        self._proto.credit(ev.stream_id, ev.flow_length, live and not ev.end_stream)
        if not live or stream is None:
            return
        stream.body.append(ev.data)
        stream.size += len(ev.data)
        stream.last = self._loop.time()
        if stream.size > self._limits.max_body_size:
            self._reject_stream(stream, 413, "Content Too Large")
        elif self._body_too_slow(stream):
            self._reject_stream(stream, 408, "Request Timeout (body too slow)")
        elif ev.end_stream:
            self._dispatch(stream)

    # -- per-stream deadlines (checklist SV-04 on HTTP/2) -----------------------------------

    def _body_too_slow(self, stream: _Stream) -> bool:
        """A body dripped slower than ``min_body_rate`` after the grace period (slow POST)."""
        elapsed = stream.last - stream.started
        limits = self._limits
        return elapsed > limits.body_timeout and stream.size < limits.min_body_rate * elapsed

    def _on_body_timeout(self, stream: _Stream) -> None:
        """``body_timeout`` without a DATA frame on a stream whose request is not complete."""
        stream.timer = None
        if self._closed or stream.cancelled or stream.dispatched:
            return
        remaining = stream.last + self._limits.body_timeout - self._loop.time()
        if remaining > 0.001:  # sliding: a frame arrived since the timer was armed
            stream.timer = self._loop.call_later(remaining, self._on_body_timeout, stream)
            return
        self._reject_stream(stream, 408, "Request Timeout")
        self._flush()

    def _reject_stream(self, stream: _Stream, status: int, reason: str) -> None:
        """Answer a request that will never reach a handler, then stop its upload.

        A complete response followed by RST_STREAM(NO_ERROR) is how RFC 9113 §8.1 lets a
        server ask a client to stop sending a request it no longer needs, without calling
        it an error; the status (408, 413) says why, as on HTTP/1.1. Other streams and the
        connection are untouched.
        """
        sid = stream.stream_id
        stream.cancelled = True
        stream.stop_timer()
        stream.body = []
        self._streams.pop(sid, None)
        text = f"{status} {reason}\n".encode("ascii")
        headers = [("content-type", "text/plain"), ("content-length", str(len(text)))]
        if self._proto.send_response(sid, status, headers, False):
            self._proto.send_data(sid, text, True)
        self._proto.reset(sid, NO_ERROR)
        self._server.record_rejection(RequestRejected(status, reason), self._client)

    def _watch_head(self) -> None:
        """Run the header deadline on whatever non-DATA input is incomplete.

        HTTP/2 allows no other frame inside a header block (RFC 9113 §6.10) and the HPACK
        context cannot advance without the rest of it (§4.3), so a stalled block or frame
        stalls every stream: past ``header_timeout`` the connection ends with
        GOAWAY(ENHANCE_YOUR_CALM), the code for a peer whose behaviour costs us resources
        (§7). Bytes that keep trickling in do not extend it (slowloris).
        """
        key = self._proto.pending_head()
        if key == self._head_key:
            return
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_key = key
        if key is not None:
            delay = self._limits.header_timeout
            self._head_timer = self._loop.call_later(delay, self._on_head_timeout)

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self._closed or self._proto.ended:
            return
        reason = f"request head not complete within {self._limits.header_timeout:g} s"
        self._ended(self._proto.terminate(ENHANCE_YOUR_CALM, reason))

    def _dispatch(self, stream: _Stream) -> None:
        if stream.dispatched:
            return
        stream.dispatched = True
        stream.stop_timer()
        self._running += 1
        task = self._loop.create_task(self._respond(stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _wake(self, stream_id: int) -> None:
        if stream_id == 0:
            for stream in self._streams.values():
                stream.window.set()
        else:
            one = self._streams.get(stream_id)
            if one is not None:
                one.window.set()

    def _ended(self, ev: ConnectionEnded) -> None:
        if not ev.remote and ev.error_code != NO_ERROR:
            rejected = RequestRejected(400, f"HTTP/2 connection error {ev.error_code}: {ev.reason}")
            self._server.record_rejection(rejected, self._client)
        for stream in self._streams.values():
            stream.cancelled = True
            stream.stop_timer()
            stream.window.set()
        self._flush()
        self._close()

    # -- answering -------------------------------------------------------------------------

    async def _respond(self, stream: _Stream) -> None:
        try:
            request = RawRequest(
                method=stream.method,
                target=stream.target,
                http_version="2",
                headers=stream.headers,
                body=b"".join(stream.body),
                client=self._client,
                server=self._local,
                scheme=self._scheme,
            )
            stream.body = []
            try:
                result = self._server.app(request)
                reply = result if isinstance(result, Reply) else await self._in_worker(result)
            except Exception as exc:
                self._server.record_internal_error(exc)
                reply = Reply(500, "Internal Server Error", [("content-length", "0")])
            try:
                await self._send_reply(stream, reply)
            finally:
                if reply.on_close is not None:
                    await self._in_worker(reply.on_close)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._server.record_internal_error(exc)
            self._abort()
        finally:
            self._running -= 1
            self._streams.pop(stream.stream_id, None)
            if self._close_when_idle and self._running == 0:
                self._flush()
                self._close()

    async def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self._server.workers.submit(fn, *args))

    async def _send_reply(self, stream: _Stream, reply: Reply) -> None:
        fault = reply.fault or _NO_FAULT
        sid = stream.stream_id
        if fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if self._closed or stream.cancelled:
            return
        if fault.h2_settings:
            self._proto.update_settings(dict(fault.h2_settings))
            self._flush()
        if fault.h2_goaway:
            last = sid if fault.h2_last_stream_id is None else fault.h2_last_stream_id
            self._goaway_last = last
            self._proto.goaway(fault.h2_error_code, last)
            self._flush()
            self._close_when_idle = True
            if sid > last:
                return  # "never processed": no response on this stream
        if fault.action == "close":
            self._close()
            return
        if fault.action == "reset":
            self._reset()
            return
        if fault.action == "raw":
            self._write(fault.raw_bytes)
            if fault.close_connection:
                self._close()
            return
        if fault.h2_rst_stream and fault.h2_rst_after_bytes is None:
            self._proto.reset(sid, fault.h2_error_code)
            self._flush()
            return
        if fault.status_line is not None or fault.extra_header_lines:
            # HTTP/1.1 head faults have no HTTP/2 wire form: a malformed stream instead
            self._proto.reset(sid, PROTOCOL_ERROR)
            self._flush()
            return

        with_body = body_allowed(stream.method, reply.status)
        headers = list(reply.headers)
        names = {name.lower() for name, _ in headers}
        if fault.content_length is not None:
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            headers.append(("content-length", str(fault.content_length)))
        elif "content-length" not in names and with_body and isinstance(reply.body, bytes):
            headers.append(("content-length", str(len(reply.body))))
        if "date" not in names:
            headers.append(("date", self._server.date.get()))
        body = reply.body
        empty = isinstance(body, bytes) and not body
        end_now = not with_body or (empty and not fault.h2_rst_stream)
        try:
            sent = self._proto.send_response(sid, reply.status, headers, end_now)
        except Exception as exc:  # a header h2 refuses to send: the handler's mistake
            self._server.record_handler_error(exc)
            sent = self._proto.send_response(sid, 500, [("content-length", "0")], True)
        self._flush()
        if not sent or end_now:
            return

        budget = _UNLIMITED
        if fault.close_after_body_bytes is not None:
            budget = fault.close_after_body_bytes
        if fault.h2_rst_stream and fault.h2_rst_after_bytes is not None:
            budget = min(budget, fault.h2_rst_after_bytes)
        if isinstance(body, bytes):
            budget = await self._send_body(stream, body, fault, budget)
        else:
            while budget >= 0 and not self._gone(stream):
                piece = await self._in_worker(_next_chunk, body)
                if piece is _STREAM_END:
                    break
                data = piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)
                budget = await self._send_body(stream, data, fault, budget)
        if self._gone(stream):
            return
        if budget < 0:  # the fault's byte budget is spent
            if fault.h2_rst_stream:
                self._proto.reset(sid, fault.h2_error_code)
                self._flush()
            else:
                self._close()  # close_mid_body: the connection goes, as in HTTP/1.1
            return
        self._proto.send_data(sid, b"", True)
        self._flush()
        if fault.close_connection:
            await self._drain()
            self._close()

    async def _send_body(self, stream: _Stream, data: bytes, fault: Fault, budget: int) -> int:
        """Send ``data`` within the windows; returns the budget left (-1: spent, or gone)."""
        sid = stream.stream_id
        stop = False
        if budget != _UNLIMITED and len(data) >= budget:
            data, stop = data[:budget], True
        length = len(data)
        step = fault.drip_bytes or _UNLIMITED
        while data:
            if self._closed or stream.cancelled:
                return -1
            room = self._proto.sendable(sid)
            if room < 0:
                return -1
            if room == 0:
                stream.window.clear()
                try:
                    await asyncio.wait_for(stream.window.wait(), self._limits.write_timeout)
                except asyncio.TimeoutError:  # the client never opens its window
                    self._proto.reset(sid, CANCEL)
                    self._flush()
                    return -1
                continue
            if not self._can_write.is_set():
                await self._drain()
                continue  # the windows may have changed while we waited
            piece = data[: min(room, step, MAX_DATA_WRITE)]
            if not self._proto.send_data(sid, piece, False):
                return -1
            self._flush()
            data = data[len(piece) :]
            await self._drain()
            if fault.drip_bytes:
                await asyncio.sleep(fault.drip_interval)
        if stop:
            return -1
        return budget if budget == _UNLIMITED else budget - length

    # -- small helpers -------------------------------------------------------------------

    def _gone(self, stream: _Stream) -> bool:
        return self._closed or stream.cancelled

    def _flush(self) -> None:
        data = self._proto.data_to_send()
        if data:
            self._write(data)

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._closed:
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self._limits.h2_max_write_buffer:
            # the client does not read what we owe it (CVE-2019-9517): drop it, no GOAWAY
            # (it would never read that either), so its memory is released now
            size = transport.get_write_buffer_size()
            reason = f"HTTP/2 client not reading: write buffer {size} bytes over the cap"
            self._server.record_rejection(RequestRejected(400, reason), self._client)
            self._abort()

    async def _drain(self) -> None:
        # a loop: all streams wake together on resume_writing; the first write may pause again
        while not self._can_write.is_set() and not self._closed:
            await self._can_write.wait()  # pause_writing armed the write timeout

    def _on_idle(self) -> None:
        self._idle_timer = None
        if self._closed:
            return
        remaining = self._activity + self._limits.idle_timeout - self._loop.time()
        if self._running or remaining > 0.001:
            delay = max(remaining, 0.05) if not self._running else self._limits.idle_timeout
            self._idle_timer = self._loop.call_later(delay, self._on_idle)
            return
        self._proto.goaway(NO_ERROR)
        self._flush()
        self._close()

    def _close(self) -> None:
        if self._transport is not None and not self._closed:
            self._closed = True
            self._transport.close()
            self._wake(0)

    def _abort(self) -> None:
        if self._transport is not None:
            self._closed = True
            self._transport.abort()
            self._wake(0)

    def _reset(self) -> None:
        if self._transport is None:
            return
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._abort()

    def shutdown(self) -> None:
        """Called by the server on stop: drop the connection now."""
        for task in list(self._tasks):
            task.cancel()
        self._abort()
