"""A frame-scripted HTTP/2 server for client tests (cleartext h2c on loopback).

Each accepted connection runs a test's *script* with an :class:`H2Peer`: an ``h2`` server
connection parses what the client sends (so the peer knows its requests, bodies and
windows), while the script decides what goes back, including what a well-behaved server
would never send: headers without ``:status`` (outbound validation is off here), GOAWAY
with any ``last_stream_id``, RST_STREAM on one stream, CONTINUATION floods, tiny windows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from hyperframe.frame import ContinuationFrame, GoAwayFrame, HeadersFrame

PeerScript = Callable[["H2Peer"], Awaitable[None]]


@dataclass
class PeerRequest:
    """One request as the peer received it."""

    stream_id: int
    headers: list[tuple[bytes, bytes]]
    body: bytearray = field(default_factory=bytearray)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reset: int | None = None

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def path(self) -> bytes:
        return self.header(b":path") or b""

    @property
    def method(self) -> bytes:
        return self.header(b":method") or b""


class H2Peer:
    """The server side of one connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: dict[int, int] | None,
        auto_credit: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config=config)
        if settings:
            self.conn.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self.auto_credit = auto_credit
        self.requests: dict[int, PeerRequest] = {}
        self.new_requests: asyncio.Queue[PeerRequest] = asyncio.Queue()
        self.events: list[h2.events.Event] = []
        self.closed = asyncio.Event()
        self.received_bytes = 0
        self.window_changed = asyncio.Event()
        self.hold = False  # while True, nothing is written (see start's settings_delay)
        self._reader_task: asyncio.Task[None] | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def start(self, settings_delay: float = 0.0) -> None:
        self.conn.initiate_connection()
        loop = asyncio.get_running_loop()
        if settings_delay:
            # Our SETTINGS (and everything after them) go out late: the client meanwhile
            # knows nothing of our limits.
            self.hold = True

            def release() -> None:
                self.hold = False
                self.flush()

            loop.call_later(settings_delay, release)
        else:
            self.flush()
        self._reader_task = loop.create_task(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.received_bytes += len(data)
                try:
                    events = self.conn.receive_data(data)
                except Exception:
                    break
                for event in events:
                    self._file(event)
                self.flush()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            for request in self.requests.values():
                request.ended.set()

    def _file(self, event: h2.events.Event) -> None:
        self.events.append(event)
        if isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.window_changed.set()
        if isinstance(event, h2.events.RequestReceived):
            assert event.stream_id is not None
            request = PeerRequest(event.stream_id, list(event.headers or []))
            self.requests[event.stream_id] = request
            self.new_requests.put_nowait(request)
            if event.stream_ended is not None:
                request.ended.set()
        elif isinstance(event, h2.events.DataReceived):
            assert event.stream_id is not None
            request = self.requests[event.stream_id]
            request.body += event.data or b""
            if self.auto_credit and event.flow_controlled_length:
                # Credit every byte back at once. h2's acknowledge_received_data() batches
                # updates by its own heuristics, which never restore a stream window that a
                # SETTINGS change drove negative (RFC 9113 §6.9.2: a client may send DATA
                # under the default window before our SETTINGS reach it).
                length = event.flow_controlled_length
                self.conn.increment_flow_control_window(length)
                if event.stream_ended is None:
                    self.conn.increment_flow_control_window(length, stream_id=event.stream_id)
            if event.stream_ended is not None:
                request.ended.set()
        elif isinstance(event, h2.events.StreamReset):
            request_ = self.requests.get(event.stream_id or 0)
            if request_ is not None:
                request_.reset = int(event.error_code or 0)
                request_.ended.set()

    def flush(self) -> None:
        if self.hold:
            return
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def write_raw(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    # -- script helpers ---------------------------------------------------------------------

    async def next_request(self, timeout: float = 5.0) -> PeerRequest:
        return await asyncio.wait_for(self.new_requests.get(), timeout)

    async def full_request(self, timeout: float = 5.0) -> PeerRequest:
        request = await self.next_request(timeout)
        await asyncio.wait_for(request.ended.wait(), timeout)
        return request

    def respond(
        self,
        stream_id: int,
        status: int = 200,
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        end: bool = True,
    ) -> None:
        """Headers, then the body in frames the client's windows allow (small bodies only)."""
        fields = [(b":status", str(status).encode())]
        fields += headers if headers is not None else [(b"content-length", b"%d" % len(body))]
        self.conn.send_headers(stream_id, fields, end_stream=end and not body)
        if body:
            self.send_body(stream_id, body, end=end)
        self.flush()

    def send_body(self, stream_id: int, body: bytes, end: bool = True) -> None:
        size = self.conn.max_outbound_frame_size
        for start in range(0, len(body), size):
            piece = body[start : start + size]
            last = start + size >= len(body)
            self.conn.send_data(stream_id, piece, end_stream=end and last)
        self.flush()

    async def send_all(self, stream_id: int, body: bytes, end: bool = True) -> None:
        """Send ``body`` as the client's windows allow, waiting for WINDOW_UPDATE."""
        view = memoryview(body)
        while view:
            window = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if window <= 0:
                self.window_changed.clear()
                await self.window_changed.wait()
                continue
            piece, view = view[:window], view[window:]
            self.conn.send_data(stream_id, bytes(piece), end_stream=end and not view)
            self.flush()
            await self.writer.drain()

    def goaway_raw(self, last_stream_id: int, error_code: int = 0) -> None:
        """GOAWAY without telling the local h2 state (so it can still answer older streams)."""
        frame = GoAwayFrame(0)
        frame.last_stream_id = last_stream_id
        frame.error_code = error_code
        self.write_raw(frame.serialize())

    def continuation_flood(self, stream_id: int, frames: int, size: int = 0) -> None:
        """HEADERS without END_HEADERS, then ``frames`` CONTINUATIONs that never end it."""
        block = hpack.Encoder().encode([(b":status", b"200")])
        first = HeadersFrame(stream_id)
        first.data = block
        self.write_raw(first.serialize())
        payload = b"\x00" * size
        for _ in range(frames):
            cont = ContinuationFrame(stream_id)
            cont.data = payload
            self.write_raw(cont.serialize())

    async def wait_closed(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout)

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


class H2PeerServer:
    """Runs ``script`` for every accepted connection on 127.0.0.1."""

    def __init__(
        self,
        script: PeerScript,
        settings: dict[int, int] | None = None,
        auto_credit: bool = True,
        settings_delay: float = 0.0,
    ) -> None:
        self.settings_delay = settings_delay
        self.script = script
        self.settings = settings
        self.auto_credit = auto_credit
        self.peers: list[H2Peer] = []
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> H2PeerServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = H2Peer(reader, writer, self.settings, self.auto_credit)
        self.peers.append(peer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            peer.start(self.settings_delay)
            await self.script(peer)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # surfaced by the test through .errors
            self.errors.append(exc)
        finally:
            self._tasks.discard(task)

    async def aclose(self) -> None:
        for peer in self.peers:
            peer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for peer in self.peers:
            if peer._reader_task is not None:
                peer._reader_task.cancel()
                try:
                    await peer._reader_task
                except (asyncio.CancelledError, Exception):
                    pass
