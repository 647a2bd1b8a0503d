"""One HTTP/1.1 connection of the test server: parse, queue, answer in order, apply faults."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._protocol.h1_server import (
    BodyChunk,
    RequestEnd,
    RequestHead,
    RequestParser,
    RequestRejected,
    ResponseHeaderError,
    body_allowed,
    chunk,
    last_chunk,
    serialize_response_head,
)
from ._faults import Fault
from ._wire import RawRequest, Reply

if TYPE_CHECKING:
    from ._server import ServerThread

__all__ = ["H1Connection"]

_LINGER_SECONDS = 1.0
_LINGER_BYTES = 4 * 1024 * 1024
_STREAM_END = object()


def _next_chunk(iterator: Iterator[bytes]) -> Any:
    return next(iterator, _STREAM_END)


class H1Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: parse, queue, answer in order, apply faults."""

    def __init__(self, server: ServerThread) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = server.loop
        self._parser = RequestParser(
            max_request_line=self._limits.max_request_line,
            max_header_block=self._limits.max_header_block,
            max_header_count=self._limits.max_header_count,
            max_body_size=self._limits.max_body_size,
        )
        self._transport: asyncio.Transport | None = None
        self._queue: deque[RawRequest | _Prepared | RequestRejected] = deque()
        self._wakeup = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._head: RequestHead | None = None
        self._body: list[bytes] = []
        self._closed = False
        self._reading_paused = False
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind = ""
        self._activity = 0.0
        self._task: asyncio.Task[None] | None = None
        self._client: tuple[str, int] = ("", 0)
        self._local: tuple[str, int] = ("", 0)
        self._scheme = "http"
        self._eof = False
        self._lingering = False
        self._reject_rest = False  # a rejection was queued: ignore further input
        self._body_bytes = 0
        self._body_started = 0.0
        self._lingered = 0

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._server.register(self):
            transport.abort()
            return
        peer = transport.get_extra_info("peername") or ("", 0)
        local = transport.get_extra_info("sockname") or ("", 0)
        self._client = (str(peer[0]), int(peer[1]))
        self._local = (str(local[0]), int(local[1]))
        if transport.get_extra_info("sslcontext") is not None:
            self._scheme = "https"
        transport.set_write_buffer_limits(high=self._limits.write_buffer_high)
        self._task = self._loop.create_task(self._serve())
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        if self._closed or self._parser.dead or self._reject_rest:
            if self._lingering:
                self._lingered += len(data)
                if self._lingered > _LINGER_BYTES:
                    self._close()
            return
        for event in self._parser.feed(data):
            if isinstance(event, RequestHead):
                self._head = event
                self._body = []
                self._body_bytes = 0
                self._body_started = self._loop.time()
                if event.expect_continue and not self._busy and not self._queue:
                    self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            elif isinstance(event, BodyChunk):
                self._body.append(event.data)
                self._body_bytes += len(event.data)
                if self._body_too_slow():
                    self._parser_failed(RequestRejected(408, "Request Timeout (body too slow)"))
                    break
            elif isinstance(event, RequestEnd):
                head = self._head
                assert head is not None
                raw = RawRequest(
                    method=head.method,
                    target=head.target,
                    http_version=head.http_version,
                    headers=head.headers,
                    body=b"".join(self._body),
                    client=self._client,
                    server=self._local,
                    scheme=self._scheme,
                    keep_alive=head.keep_alive,
                )
                self._head = None
                self._body = []
                if self._queue or self._busy or self._closed:
                    self._queue.append(raw)
                else:
                    self._answer_now(raw)
            else:
                self._queue.append(event)
        if self._parser.dead or len(self._queue) >= self._limits.max_pipelined:
            self._pause_reading()
        if self._queue:
            self._wakeup.set()
        self._arm_timer()

    def _body_too_slow(self) -> bool:
        """A body dripped slower than ``min_body_rate`` after the grace period (slow POST)."""
        elapsed = self._loop.time() - self._body_started
        limits = self._limits
        return elapsed > limits.body_timeout and self._body_bytes < limits.min_body_rate * elapsed

    def _parser_failed(self, rejected: RequestRejected) -> None:
        self._head = None
        self._body = []
        self._queue.append(rejected)
        self._pause_reading()
        self._reject_rest = True

    def eof_received(self) -> bool | None:
        self._eof = True
        if self._lingering:
            self._close()
            return False
        if not self._queue and not self._busy:
            self._close()
        return True  # keep the write side open to answer what is queued

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._cancel_timer()
        self._can_write.set()
        self._wakeup.set()
        self._server.unregister(self)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # -- deadlines -----------------------------------------------------------------------

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_kind = ""

    def _arm_timer(self) -> None:
        """(Re)arm the read deadline that matches the connection's state."""
        if self._closed or self._busy or self._queue:
            self._cancel_timer()
            return
        if self._head is not None:  # receiving a body: reset on every byte
            kind, delay = "body", self._limits.body_timeout
        elif self._parser.mid_request:  # receiving a head: from its first byte, never reset
            if self._timer_kind == "head":
                return
            kind, delay = "head", self._limits.header_timeout
        else:
            kind, delay = "idle", self._limits.idle_timeout
        self._activity = self._loop.time()
        if self._timer is not None and self._timer_kind == kind:
            return  # sliding deadline: _on_timeout re-checks the last activity
        self._cancel_timer()
        self._timer = self._loop.call_later(delay, self._on_timeout)
        self._timer_kind = kind

    def _on_timeout(self) -> None:
        kind = self._timer_kind
        self._timer = None
        self._timer_kind = ""
        if self._closed or self._busy or self._queue:
            return
        if kind in ("body", "idle"):
            delay = self._limits.body_timeout if kind == "body" else self._limits.idle_timeout
            remaining = self._activity + delay - self._loop.time()
            if remaining > 0.001:
                self._timer = self._loop.call_later(remaining, self._on_timeout)
                self._timer_kind = kind
                return
        if self._head is not None or self._parser.mid_request:
            self._parser_failed(RequestRejected(408, "Request Timeout"))
            self._wakeup.set()
        else:
            self._close()

    # -- the serving loop ----------------------------------------------------------------

    async def _serve(self) -> None:
        try:
            while not self._closed:
                if not self._queue:
                    self._wakeup.clear()
                    self._arm_timer()
                    await self._wakeup.wait()
                    continue
                item = self._queue.popleft()
                self._busy = True
                self._cancel_timer()
                if isinstance(item, RequestRejected):
                    await self._send_rejection(item)
                    await self._drain()
                    self._linger_close()
                    return
                if isinstance(item, _Prepared):
                    if item.result is None:  # answered already; we only waited for the writer
                        await self._drain()
                        keep_open = not self._closed
                    else:
                        keep_open = await self._answer(item.request, item.result)
                else:
                    keep_open = await self._answer(item)
                self._busy = False
                if not keep_open or (self._eof and not self._queue):
                    self._close()
                    return
                if (
                    self._reading_paused
                    and len(self._queue) < self._limits.max_pipelined
                    and not self._parser.dead
                    and not self._reject_rest
                ):
                    self._resume_reading()
        except asyncio.CancelledError:
            self._abort()
            raise
        except Exception as exc:  # never let one connection take the loop down
            self._server.record_internal_error(exc)
            self._abort()

    async def _answer(
        self, request: RawRequest, prepared: Reply | Callable[[], Reply] | None = None
    ) -> bool:
        try:
            result = self._server.app(request) if prepared is None else prepared
            if isinstance(result, Reply):
                reply = result
            else:
                reply = await self._in_worker(result)
        except Exception as exc:
            self._server.record_internal_error(exc)
            reply = Reply(500, "Internal Server Error", [("Content-Length", "0")], close=True)
        try:
            return await self._send_reply(request, reply)
        finally:
            if reply.on_close is not None:
                await self._in_worker(reply.on_close)

    async def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self._server.workers.submit(fn, *args))

    async def _send_rejection(self, rejected: RequestRejected) -> None:
        body = f"{rejected.status} {rejected.reason}\n".encode("latin-1", "replace")
        head = serialize_response_head(
            rejected.status,
            rejected.reason.split(" (")[0],
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        self._write(head + body)
        self._server.record_rejection(rejected, self._client)

    async def _send_reply(self, request: RawRequest, reply: Reply) -> bool:
        fault = reply.fault or _NO_FAULT
        if fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if self._closed:
            return False
        if fault.action == "close":
            self._close()
            return False
        if fault.action == "reset":
            self._reset()
            return False
        if fault.action == "raw":
            await self._emit([fault.raw_bytes], fault, head_len=0)
            return not fault.close_connection

        built = self._build_head(request, reply, fault)
        if built is None:
            return False
        head, keep_alive, with_body, chunked = built
        if not with_body:
            await self._emit([head], fault, head_len=len(head))
        elif isinstance(reply.body, bytes):
            await self._emit([head, reply.body], fault, head_len=len(head))
        else:
            await self._emit_stream(head, reply.body, chunked, fault)
        return keep_alive and not self._closed

    def _build_head(
        self, request: RawRequest, reply: Reply, fault: Fault
    ) -> tuple[bytes, bool, bool, bool] | None:
        """Frame the reply: ``(head, keep_alive, with_body, chunked)``; None if refused."""
        keep_alive = self._keep_alive(request) and not reply.close and not fault.close_connection
        with_body = body_allowed(request.method, reply.status)
        headers = list(reply.headers)
        names = {name.lower() for name, _ in headers}
        streaming = not isinstance(reply.body, bytes)
        chunked = False
        if fault.content_length is not None:
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            headers.append(("Content-Length", str(fault.content_length)))
        elif "content-length" not in names and with_body:
            if not streaming:
                assert isinstance(reply.body, bytes)
                headers.append(("Content-Length", str(len(reply.body))))
            elif request.http_version == "1.1" and "transfer-encoding" not in names:
                headers.append(("Transfer-Encoding", "chunked"))
                chunked = True
            else:
                keep_alive = False  # the body ends when the connection does
        if "date" not in names:
            headers.append(("Date", self._server.date.get()))
        if not keep_alive:
            if "connection" not in names:
                headers.append(("Connection", "close"))
        elif request.http_version == "1.0" and "connection" not in names:
            headers.append(("Connection", "keep-alive"))
        try:
            head = serialize_response_head(reply.status, reply.reason, headers)
        except ResponseHeaderError as exc:
            self._server.record_handler_error(exc)
            head = serialize_response_head(
                500,
                "Internal Server Error",
                [("Content-Length", "0"), ("Connection", "close")],
            )
            self._write(head)
            return None
        if fault.status_line is not None:
            head = fault.status_line + b"\r\n" + head.split(b"\r\n", 1)[1]
        if fault.extra_header_lines:
            extra = b"".join(line + b"\r\n" for line in fault.extra_header_lines)
            head = head[:-2] + extra + b"\r\n"
        return head, keep_alive, with_body, chunked

    def _answer_now(self, request: RawRequest) -> bool:
        """The synchronous fast path, on the loop, for an idle connection.

        Runs the app; a plain buffered reply (no fault, no worker needed) is written right
        away. Returns False when the request must go through the serving task instead
        (then it has been queued, with the app's result when there is one).
        """
        try:
            result = self._server.app(request)
        except Exception as exc:
            self._server.record_internal_error(exc)
            result = Reply(500, "Internal Server Error", [("Content-Length", "0")], close=True)
        if (
            not isinstance(result, Reply)
            or result.fault is not None
            or not isinstance(result.body, bytes)
            or result.on_close is not None
        ):
            self._queue.append(_Prepared(request, result))
            return False
        built = self._build_head(request, result, _NO_FAULT)
        if built is None:
            self._close()
            return True
        head, keep_alive, with_body, _ = built
        self._write(head + result.body if with_body else head)
        if not keep_alive or (self._eof and not self._queue):
            self._close()
        elif not self._can_write.is_set():
            self._pause_reading()  # a client that does not read: let the serving task wait
            self._queue.append(_Prepared(request, None))
        return True

    async def _emit_stream(
        self, head: bytes, body: Iterator[bytes], chunked: bool, fault: Fault
    ) -> None:
        budget = _Budget(fault, len(head))
        if not await self._write_piece(head, fault, budget):
            return
        while not self._closed:
            piece = await self._in_worker(_next_chunk, body)
            if piece is _STREAM_END:
                break
            data = piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)
            if chunked:
                data = chunk(data)
            if data and not await self._write_piece(data, fault, budget):
                return
        if chunked and not self._closed:
            await self._write_piece(last_chunk(), fault, budget)
        if fault.close_connection and not self._closed:
            self._close()

    async def _emit(self, pieces: list[bytes], fault: Fault, head_len: int) -> None:
        if fault is _NO_FAULT:  # the common case: one write, one send
            self._write(b"".join(pieces))
            await self._drain()
            return
        budget = _Budget(fault, head_len)
        for piece in pieces:
            if piece and not await self._write_piece(piece, fault, budget):
                return
        if fault.close_connection and not self._closed:
            await self._drain()
            self._close()

    async def _write_piece(self, data: bytes, fault: Fault, budget: _Budget) -> bool:
        """Write one piece honouring drip and truncation; False once the connection is gone."""
        data, stop = budget.take(data)
        if fault.drip_bytes:
            step = fault.drip_bytes
            for start in range(0, len(data), step):
                if self._closed:
                    return False
                self._write(data[start : start + step])
                await self._drain()
                await asyncio.sleep(fault.drip_interval)
        else:
            self._write(data)
            await self._drain()
        if stop:
            self._close()
            return False
        return not self._closed

    # -- small helpers -------------------------------------------------------------------

    def _keep_alive(self, request: RawRequest) -> bool:
        # llhttp's verdict: HTTP/1.1 unless "Connection: close", HTTP/1.0 with keep-alive
        return request.keep_alive and not self._server.stopping

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._closed:
            self._transport.write(data)

    async def _drain(self) -> None:
        if self._can_write.is_set() or self._closed:
            return
        try:
            await asyncio.wait_for(self._can_write.wait(), self._limits.write_timeout)
        except asyncio.TimeoutError:
            self._abort()

    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None and not self._closed:
            self._reading_paused = True
            with contextlib.suppress(Exception):
                self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None and not self._closed:
            self._reading_paused = False
            with contextlib.suppress(Exception):
                self._transport.resume_reading()

    def _linger_close(self) -> None:
        """Half-close after an error response and discard input briefly before closing.

        Closing with unread input makes the kernel send RST, which can destroy the error
        response before the client reads it; lingering lets the client see the 4xx.
        """
        transport = self._transport
        if transport is None or self._closed:
            return
        if not transport.can_write_eof() or self._eof:
            self._close()
            return
        self._lingering = True
        with contextlib.suppress(Exception):
            transport.write_eof()
        self._resume_reading()
        self._cancel_timer()
        self._timer = self._loop.call_later(_LINGER_SECONDS, self._close)

    def _close(self) -> None:
        if self._transport is not None and not self._closed:
            self._closed = True
            self._transport.close()
            self._wakeup.set()

    def _abort(self) -> None:
        if self._transport is not None:
            self._closed = True
            self._transport.abort()
            self._wakeup.set()

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
        if self._task is not None:
            self._task.cancel()
        self._abort()


_NO_FAULT = Fault()


@dataclass
class _Prepared:
    """A request whose app result is known (or, with ``result=None``, already answered)."""

    request: RawRequest
    result: Reply | Callable[[], Reply] | None


class _Budget:
    """Counts body bytes for ``Fault.close_mid_body``."""

    def __init__(self, fault: Fault, head_len: int) -> None:
        limit = fault.close_after_body_bytes
        self._left = None if limit is None else head_len + limit

    def take(self, data: bytes) -> tuple[bytes, bool]:
        if self._left is None:
            return data, False
        if len(data) >= self._left:
            data, self._left = data[: self._left], 0
            return data, True
        self._left -= len(data)
        return data, False
