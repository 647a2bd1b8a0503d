"""The asyncio HTTP server that runs in a background thread.

It knows nothing about expectations or werkzeug: every complete request becomes a
:class:`RawRequest` handed to ``app`` (on the loop), which answers with a :class:`Reply` or
with a function to run on a worker thread. Reading, framing, keep-alive, deadlines, caps and
fault injection happen in the connection (:mod:`._h1_connection`).

HTTP/2: :meth:`ServerThread._protocol_factory` creates each connection's protocol object.
Without ``http2`` that is always :class:`H1Connection`. With it, a :class:`_Sniffer` decides
per connection: with TLS, by ALPN once the handshake is done (``h2`` or ``http/1.1``); in
cleartext (or TLS without ALPN), by the first bytes: the preface ``PRI * HTTP/2.0`` means
h2c by prior knowledge (:class:`H2Connection`), anything else HTTP/1.1. Both speak to the
same ``app`` through :class:`RawRequest` / :class:`Reply`, so expectations, the log and
faults stay shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Protocol

from .._protocol.h1_server import RequestRejected
from .._protocol.h2_server import PREFACE
from ._h1_connection import H1Connection
from ._h2_connection import H2Connection
from ._wire import App, RawRequest, Reply, ServerLimits
from ._workers import WorkerPool

__all__ = ["RawRequest", "Reply", "ServerLimits", "ServerThread"]


class _DateCache:
    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def get(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True)
        return self._value


class _Served(Protocol):
    def shutdown(self) -> None: ...


class ServerThread:
    """An asyncio event loop in a daemon thread serving ``app`` on already-bound sockets."""

    def __init__(
        self,
        sockets: list[socket.socket],
        app: App,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: ServerLimits | None = None,
        on_internal_error: Callable[[BaseException], None] | None = None,
        on_rejection: Callable[[RequestRejected, tuple[str, int]], None] | None = None,
        thread_target: Callable[[], None] | None = None,
        http2: bool = False,
    ) -> None:
        self.sockets = sockets
        self.app = app
        self.ssl_context = ssl_context
        self.limits = limits or ServerLimits()
        self.http2 = http2
        self.workers = WorkerPool()
        self.date = _DateCache()
        self.stopping = False
        self.loop = asyncio.new_event_loop()
        self._on_internal_error = on_internal_error
        self._on_rejection = on_rejection
        self._connections: set[_Served] = set()
        self._attaching: set[asyncio.Task[None]] = set()
        self._target = thread_target or self.run
        self._started = False
        self._finished = threading.Event()
        # created now, so that a stop() issued before the thread runs is never lost
        self._stop_future: asyncio.Future[None] = self.loop.create_future()

    # called on the loop by connections
    def register(self, conn: _Served) -> bool:
        if self.stopping or len(self._connections) >= self.limits.max_connections:
            return False
        self._connections.add(conn)
        return True

    def unregister(self, conn: _Served) -> None:
        self._connections.discard(conn)

    def record_internal_error(self, exc: BaseException) -> None:
        if self._on_internal_error is not None:
            self._on_internal_error(exc)

    def record_handler_error(self, exc: BaseException) -> None:
        self.record_internal_error(exc)

    def record_rejection(self, rejected: RequestRejected, client: tuple[str, int]) -> None:
        if self._on_rejection is not None:
            self._on_rejection(rejected, client)

    def _protocol_factory(self) -> asyncio.Protocol:
        # HTTP/2 (see the module docstring): with it on, choose per connection.
        if self.http2:
            return _Sniffer(self)
        return H1Connection(self)

    # lifecycle
    def start(self) -> None:
        """Hand the server to a loop thread and return at once.

        The sockets are already listening, so clients can connect right away: the kernel
        queues their connections until the loop accepts them. Loop threads are reused
        (``_LoopThreads``): creating and scheduling a fresh thread costs milliseconds on an
        idle virtual machine, handing work to a parked one does not block the caller at all.
        """
        self._started = True
        _LOOP_THREADS.run(self._run_target)

    def _run_target(self) -> None:
        try:
            self._target()
        finally:
            self._finished.set()

    def run(self) -> None:
        """The body of the server thread: run the event loop until stop()."""
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _main(self) -> None:
        try:
            for sock in self.sockets:
                self.loop.add_reader(sock.fileno(), self._on_acceptable, sock)
        except Exception as exc:  # cannot happen with the sockets start() bound; be loud
            self.record_internal_error(exc)
            return
        await self._stop_future
        self.stopping = True
        for sock in self.sockets:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(sock.fileno())
        for task in list(self._attaching):
            task.cancel()
        if self._attaching:
            await asyncio.wait(list(self._attaching), timeout=1.0)
        for conn in list(self._connections):
            conn.shutdown()
        tasks = [t for t in asyncio.all_tasks(self.loop) if t is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for _ in range(5):  # the connection_lost callbacks close the sockets
            await asyncio.sleep(0)

    # Our own accept loop instead of loop.create_server(): it lets stop() drop connections
    # that are being accepted without racing asyncio's Server bookkeeping, and it backs off
    # on EMFILE instead of spinning (checklist SV-05).
    def _on_acceptable(self, listener: socket.socket) -> None:
        for _ in range(128):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS...: pause accepting briefly
                self.record_internal_error(exc)
                with contextlib.suppress(Exception):
                    self.loop.remove_reader(listener.fileno())
                self.loop.call_later(0.1, self._resume_accepting, listener)
                return
            if self.stopping or len(self._connections) >= self.limits.max_connections:
                conn.close()
                continue
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self.loop.create_task(self._attach(conn))
            self._attaching.add(task)
            task.add_done_callback(functools.partial(self._attached, conn))

    def _resume_accepting(self, listener: socket.socket) -> None:
        if not self.stopping:
            with contextlib.suppress(Exception):
                self.loop.add_reader(listener.fileno(), self._on_acceptable, listener)

    async def _attach(self, conn: socket.socket) -> None:
        await self.loop.connect_accepted_socket(
            self._protocol_factory,
            conn,
            ssl=self.ssl_context,
            ssl_handshake_timeout=(self.limits.tls_handshake_timeout if self.ssl_context else None),
        )

    def _attached(self, conn: socket.socket, task: asyncio.Task[None]) -> None:
        self._attaching.discard(task)
        if task.cancelled() or task.exception() is not None:
            conn.close()  # failed TLS handshake, or stopped before the transport existed

    def stop(self) -> None:
        """Stop serving: close listeners, drop connections, don't wait for running handlers."""
        if self._started and not self._finished.is_set():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._request_stop)
            self._finished.wait(5.0)
        self.workers.shutdown()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _request_stop(self) -> None:
        if not self._stop_future.done():
            self._stop_future.set_result(None)


class _Sniffer(asyncio.Protocol):
    """Picks HTTP/2 or HTTP/1.1 for one connection (ALPN, else the h2c preface), then
    forwards every callback to the chosen connection."""

    def __init__(self, server: ServerThread) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._delegate: H1Connection | H2Connection | None = None
        self._buffer = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if alpn == "h2":
            self._choose(H2Connection(self._server))
        elif alpn is not None:
            self._choose(H1Connection(self._server))
        elif not self._server.register(self):
            transport.abort()
        else:
            self._timer = self._server.loop.call_later(
                self._server.limits.header_timeout, self.shutdown
            )

    def _choose(self, delegate: H1Connection | H2Connection) -> None:
        assert self._transport is not None
        self._server.unregister(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._delegate = delegate
        delegate.connection_made(self._transport)
        data, self._buffer = self._buffer, b""
        if data and not self._transport.is_closing():
            delegate.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self._delegate is not None:
            self._delegate.data_received(data)
            return
        self._buffer += data
        seen = min(len(self._buffer), len(PREFACE))
        if self._buffer[:seen] != PREFACE[:seen]:
            self._choose(H1Connection(self._server))
        elif seen == len(PREFACE):
            self._choose(H2Connection(self._server))

    def eof_received(self) -> bool | None:
        if self._delegate is not None:
            return self._delegate.eof_received()
        if self._buffer:
            self._choose(H1Connection(self._server))  # a short HTTP/1.1 request, then EOF
            return self._delegate.eof_received() if self._delegate is not None else None
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._delegate is not None:
            self._delegate.connection_lost(exc)
        else:
            self._server.unregister(self)

    def pause_writing(self) -> None:
        if self._delegate is not None:
            self._delegate.pause_writing()

    def resume_writing(self) -> None:
        if self._delegate is not None:
            self._delegate.resume_writing()

    def shutdown(self) -> None:
        if self._delegate is not None:
            self._delegate.shutdown()
        elif self._transport is not None:
            self._transport.abort()


class _LoopThreads:
    """Parked daemon threads that run server loops; a stopped server's thread is reused."""

    _IDLE_SECONDS = 60.0

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._jobs.put(job)
            if self._idle > 0:
                self._idle -= 1  # a parked thread takes it
                return
        threading.Thread(target=self._park, name="hyperhttp-testing", daemon=True).start()

    def _park(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if not self._jobs.empty():
                        continue
                    self._idle -= 1
                return
            job()
            with self._lock:
                self._idle += 1


_LOOP_THREADS = _LoopThreads()
