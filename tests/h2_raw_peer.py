"""A byte-exact HTTP/2 server peer for client conformance tests (cleartext h2c on loopback).

Unlike ``h2_peer`` (which runs a whole ``h2`` server state machine), this peer keeps no
protocol state of its own on the sending side: a test writes whatever frames or raw bytes it
wants, including malformed ones. On the receiving side it parses everything the client sends
with ``hyperframe`` and ``hpack``, so a test can wait for "GOAWAY(FRAME_SIZE_ERROR)" or
"RST_STREAM(3, PROTOCOL_ERROR)" and read the decoded request headers.

While it reads, the peer also checks the client against the limits the peer announced and
records every breach in :attr:`RawPeer.violations` (the fixture fails the test on any):

* the connection preface, then a SETTINGS frame first;
* no frame larger than our SETTINGS_MAX_FRAME_SIZE;
* no DATA beyond the connection or stream send windows;
* new streams odd and increasing, never more open than our SETTINGS_MAX_CONCURRENT_STREAMS.

A SETTINGS value we send takes effect when the client acknowledges it: TCP keeps the client's
frames in order, so frames before its ACK were sent under the old values, frames after it
under the new ones.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

from hyperhttp import Client, HyperHTTPError, RemoteProtocolError, Response, Timeout

from .h2_peer import PeerRequest

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §7 error codes and §6.5.2 setting identifiers, spelled out for readable tests.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB

HEADER_TABLE_SIZE = 0x1
ENABLE_PUSH = 0x2
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4
MAX_FRAME_SIZE = 0x5
MAX_HEADER_LIST_SIZE = 0x6

# frame types
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 0x8, 0x9
# flags
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

_DEFAULTS = {
    HEADER_TABLE_SIZE: 4096,
    ENABLE_PUSH: 1,
    MAX_CONCURRENT_STREAMS: 2**31 - 1,
    INITIAL_WINDOW_SIZE: 65_535,
    MAX_FRAME_SIZE: 16_384,
    MAX_HEADER_LIST_SIZE: 2**31 - 1,
}


def raw_frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame, packed by hand (any length, type, flags or stream id, reserved bit too)."""
    length = len(payload)
    return struct.pack(">BHBBL", length >> 16, length & 0xFFFF, kind, flags, stream_id) + payload


def settings_payload(values: dict[int, int]) -> bytes:
    return b"".join(struct.pack(">HL", key, value) for key, value in values.items())


@dataclass
class RawRequest(PeerRequest):
    """A request stream as the peer saw it, with how its DATA was framed."""

    end_stream: bool = False
    data_frames: list[int] = field(default_factory=list)  # payload length of each DATA frame


class RawPeer:
    """The server side of one connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        auto_credit: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.auto_credit = auto_credit
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 2**31 - 1
        self.frames: list[Frame] = []
        self.violations: list[str] = []
        self.preface_ok = asyncio.Event()
        self.closed = asyncio.Event()
        self.client_settings: dict[int, int] = {}
        self.requests: dict[int, RawRequest] = {}
        self.new_requests: asyncio.Queue[RawRequest] = asyncio.Queue()
        self.bytes_received = 0
        # what the client may do, as far as the settings it has acknowledged go
        self.settings = dict(_DEFAULTS)
        self._pending_settings: list[dict[int, int]] = []
        self.conn_window = 65_535
        self.stream_windows: dict[int, int] = {}
        self.open_streams: set[int] = set()  # streams counting against MAX_CONCURRENT_STREAMS
        self.peak_open_streams = 0
        self._client_ended: set[int] = set()
        self._peer_ended: set[int] = set()
        self._last_stream_id = 0
        self._header_block: tuple[int, bool, bytearray] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- reading ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        buffer = bytearray()
        try:
            while len(buffer) < len(PREFACE):
                chunk = await self.reader.read(65536)
                if not chunk:
                    return
                self.bytes_received += len(chunk)
                buffer += chunk
            if bytes(buffer[: len(PREFACE)]) != PREFACE:
                self.violations.append(f"bad client preface {bytes(buffer[:24])!r}")
                return
            del buffer[: len(PREFACE)]
            self.preface_ok.set()
            while True:
                while len(buffer) >= 9:
                    length = int.from_bytes(buffer[:3], "big")
                    if len(buffer) < 9 + length:
                        break
                    header = memoryview(bytes(buffer[:9]))
                    body = memoryview(bytes(buffer[9 : 9 + length]))
                    del buffer[: 9 + length]
                    frame, _ = Frame.parse_frame_header(header)
                    frame.parse_body(body)
                    self._on_frame(frame, length)
                chunk = await self.reader.read(65536)
                if not chunk:
                    return
                self.bytes_received += len(chunk)
                buffer += chunk
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            self._changed.set()
            for request in self.requests.values():
                request.ended.set()

    def _on_frame(self, frame: Frame, length: int) -> None:
        if not self.frames and not isinstance(frame, SettingsFrame):
            self.violations.append(f"first frame after the preface is not SETTINGS: {frame}")
        if length > self.settings[MAX_FRAME_SIZE]:
            self.violations.append(
                f"{type(frame).__name__} of {length} bytes exceeds our "
                f"MAX_FRAME_SIZE {self.settings[MAX_FRAME_SIZE]}"
            )
        self.frames.append(frame)
        if self._header_block is not None and not isinstance(frame, ContinuationFrame):
            self.violations.append(f"{frame} inside the client's header block")
        if isinstance(frame, SettingsFrame):
            if "ACK" in frame.flags:
                if self._pending_settings:
                    self._apply(self._pending_settings.pop(0))
            else:
                self.client_settings.update(frame.settings)
                self.send(raw_frame(SETTINGS, ACK, 0))
        elif isinstance(frame, HeadersFrame):
            self._open_stream(frame.stream_id)
            ended = "END_STREAM" in frame.flags
            if ended:
                self._client_ended.add(frame.stream_id)
            self._header_block = (frame.stream_id, ended, bytearray(frame.data))
            if "END_HEADERS" in frame.flags:
                self._end_header_block()
        elif isinstance(frame, ContinuationFrame):
            if self._header_block is None or self._header_block[0] != frame.stream_id:
                self.violations.append(f"unexpected {frame}")
            else:
                self._header_block[2].extend(frame.data)
                if "END_HEADERS" in frame.flags:
                    self._end_header_block()
        elif isinstance(frame, DataFrame):
            self._on_data(frame, length)
        elif isinstance(frame, RstStreamFrame):
            self._client_ended.add(frame.stream_id)
            self.open_streams.discard(frame.stream_id)
            request = self.requests.get(frame.stream_id)
            if request is not None:
                request.ended.set()
        elif isinstance(frame, PingFrame) and "ACK" not in frame.flags:
            self.send(raw_frame(PING, ACK, 0, frame.opaque_data))
        self._changed.set()

    def _open_stream(self, stream_id: int) -> None:
        if stream_id in self.requests:  # trailers
            return
        if stream_id % 2 == 0 or stream_id <= self._last_stream_id:
            self.violations.append(f"client opened stream {stream_id} after {self._last_stream_id}")
        self._last_stream_id = stream_id
        if len(self.open_streams) >= self.settings[MAX_CONCURRENT_STREAMS]:
            self.violations.append(
                f"stream {stream_id} opened while {len(self.open_streams)} were open "
                f"(MAX_CONCURRENT_STREAMS {self.settings[MAX_CONCURRENT_STREAMS]})"
            )
        self.open_streams.add(stream_id)
        self.peak_open_streams = max(self.peak_open_streams, len(self.open_streams))
        self.stream_windows[stream_id] = self.settings[INITIAL_WINDOW_SIZE]

    def _end_header_block(self) -> None:
        assert self._header_block is not None
        stream_id, ended, block = self._header_block
        self._header_block = None
        headers = [(bytes(k), bytes(v)) for k, v in self.decoder.decode(bytes(block), raw=True)]
        if stream_id in self.requests:
            request = self.requests[stream_id]
            request.headers += headers  # trailers
            if ended:
                request.ended.set()
            return
        request = RawRequest(stream_id, headers, end_stream=ended)
        self.requests[stream_id] = request
        self.new_requests.put_nowait(request)
        if ended:
            request.ended.set()

    def _on_data(self, frame: DataFrame, length: int) -> None:
        stream_id = frame.stream_id
        self.conn_window -= length
        if self.conn_window < 0:
            self.violations.append(f"DATA overran the connection window by {-self.conn_window}")
        window = self.stream_windows.get(stream_id, 0) - length
        self.stream_windows[stream_id] = window
        if window < 0:
            self.violations.append(f"DATA overran the window of stream {stream_id} by {-window}")
        request = self.requests.get(stream_id)
        if request is None:
            self.violations.append(f"DATA on stream {stream_id} before its HEADERS")
            return
        request.body += frame.data
        request.data_frames.append(len(frame.data))
        if "END_STREAM" in frame.flags:
            self._client_ended.add(stream_id)
            request.end_stream = True
            request.ended.set()
            self._maybe_closed(stream_id)
        if self.auto_credit and length:
            self.window_update(0, length)
            if "END_STREAM" not in frame.flags:
                self.window_update(stream_id, length)

    def _apply(self, values: dict[int, int]) -> None:
        old = self.settings[INITIAL_WINDOW_SIZE]
        self.settings.update(values)
        delta = self.settings[INITIAL_WINDOW_SIZE] - old
        if delta:
            for stream_id in self.stream_windows:
                self.stream_windows[stream_id] += delta

    def _maybe_closed(self, stream_id: int) -> None:
        if stream_id in self._client_ended and stream_id in self._peer_ended:
            self.open_streams.discard(stream_id)

    # -- waiting ----------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[Frame], bool], timeout: float = 5.0, what: str = "frame"
    ) -> Frame:
        """The first frame received (so far or later) that satisfies ``predicate``."""

        async def scan() -> Frame:
            index = 0
            while True:
                while index < len(self.frames):
                    frame = self.frames[index]
                    index += 1
                    if predicate(frame):
                        return frame
                if self.closed.is_set():
                    raise AssertionError(f"connection closed without a {what}: {self.frames}")
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s; got {self.frames}") from None

    async def client_goaway(self, timeout: float = 5.0) -> GoAwayFrame:
        frame = await self.wait_for(
            lambda f: isinstance(f, GoAwayFrame), timeout, "GOAWAY from the client"
        )
        assert isinstance(frame, GoAwayFrame)
        return frame

    async def expect_goaway(self, *codes: int, timeout: float = 5.0) -> GoAwayFrame:
        """The client sends GOAWAY with one of ``codes``, then closes the connection."""
        frame = await self.client_goaway(timeout)
        assert frame.error_code in codes, f"GOAWAY error code {frame.error_code}, want {codes}"
        await self.wait_closed(timeout)
        return frame

    async def expect_rst(self, stream_id: int, *codes: int, timeout: float = 5.0) -> None:
        frame = await self.wait_for(
            lambda f: isinstance(f, RstStreamFrame) and f.stream_id == stream_id,
            timeout,
            f"RST_STREAM on stream {stream_id}",
        )
        assert isinstance(frame, RstStreamFrame)
        assert frame.error_code in codes, f"RST_STREAM error code {frame.error_code}, want {codes}"

    async def expect_stream_error(self, stream_id: int, *codes: int) -> None:
        """RST_STREAM(stream_id) or GOAWAY with one of ``codes`` (RFC 9113 §5.4.1 lets an
        endpoint treat a stream error as a connection error)."""
        frame = await self.wait_for(
            lambda f: (
                isinstance(f, GoAwayFrame)
                or (isinstance(f, RstStreamFrame) and f.stream_id == stream_id)
            ),
            what=f"RST_STREAM on stream {stream_id} or GOAWAY",
        )
        assert isinstance(frame, (GoAwayFrame, RstStreamFrame))
        assert frame.error_code in codes, f"{frame} error code {frame.error_code}, want {codes}"

    async def wait_closed(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the client kept the connection open {timeout} s") from None

    async def next_request(self, timeout: float = 5.0) -> RawRequest:
        return await asyncio.wait_for(self.new_requests.get(), timeout)

    async def full_request(self, timeout: float = 5.0) -> RawRequest:
        request = await self.next_request(timeout)
        await asyncio.wait_for(request.ended.wait(), timeout)
        return request

    async def settings_acked(self, timeout: float = 5.0) -> None:
        """Every SETTINGS frame we sent has been acknowledged."""

        async def wait() -> None:
            while self._pending_settings:
                if self.closed.is_set():
                    raise AssertionError("connection closed before the SETTINGS ACK")
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)

    def received(self, kind: type[Frame]) -> list[Frame]:
        return [frame for frame in self.frames if isinstance(frame, kind)]

    # -- writing ----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    def send_settings(self, values: dict[int, int] | None = None) -> None:
        values = dict(values or {})
        self._pending_settings.append(values)
        self.send(raw_frame(SETTINGS, 0, 0, settings_payload(values)))

    def encode(self, fields: Iterable[tuple[bytes, bytes]], huffman: bool = True) -> bytes:
        return bytes(self.encoder.encode(list(fields), huffman=huffman))

    def headers_frames(
        self,
        stream_id: int,
        block: bytes,
        end_stream: bool = False,
        fragment: int | None = None,
        pad: int = 0,
    ) -> bytes:
        """A header block as HEADERS (+ CONTINUATION frames of at most ``fragment`` bytes)."""
        size = fragment or len(block) or 1
        pieces = [block[i : i + size] for i in range(0, len(block), size)] or [b""]
        out = bytearray()
        for index, piece in enumerate(pieces):
            flags = END_HEADERS if index == len(pieces) - 1 else 0
            if index == 0:
                flags |= END_STREAM if end_stream else 0
                payload = piece
                if pad:
                    flags |= PADDED
                    payload = bytes([pad - 1]) + piece + b"\x00" * (pad - 1)
                out += raw_frame(HEADERS, flags, stream_id, payload)
            else:
                out += raw_frame(CONTINUATION, flags, stream_id, piece)
        return bytes(out)

    def send_headers(
        self,
        stream_id: int,
        fields: Iterable[tuple[bytes, bytes]],
        end_stream: bool = False,
        fragment: int | None = None,
        pad: int = 0,
        huffman: bool = True,
    ) -> None:
        block = self.encode(fields, huffman)
        self.send(self.headers_frames(stream_id, block, end_stream, fragment, pad))
        if end_stream:
            self._peer_ended.add(stream_id)
            self._maybe_closed(stream_id)

    def data_frame(
        self, stream_id: int, data: bytes, end_stream: bool = False, pad: int = 0
    ) -> bytes:
        flags = END_STREAM if end_stream else 0
        if pad:
            flags |= PADDED
            data = bytes([pad - 1]) + data + b"\x00" * (pad - 1)
        return raw_frame(DATA, flags, stream_id, data)

    def send_data(
        self, stream_id: int, data: bytes, end_stream: bool = False, pad: int = 0
    ) -> None:
        self.send(self.data_frame(stream_id, data, end_stream, pad))
        if end_stream:
            self._peer_ended.add(stream_id)
            self._maybe_closed(stream_id)

    def respond(
        self,
        stream_id: int,
        status: int = 200,
        body: bytes = b"",
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """A whole small response: HEADERS, then the body in one DATA frame."""
        fields = [(b":status", b"%d" % status)]
        fields += list(headers) if headers is not None else [(b"content-length", b"%d" % len(body))]
        self.send_headers(stream_id, fields, end_stream=not body)
        if body:
            self.send_data(stream_id, body, end_stream=True)

    def window_update(self, stream_id: int, increment: int) -> None:
        self.send(raw_frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">L", increment)))
        if stream_id == 0:
            self.conn_window += increment
        elif stream_id in self.stream_windows:
            self.stream_windows[stream_id] += increment

    def ping(self, data: bytes = b"\x00" * 8, ack: bool = False) -> None:
        self.send(raw_frame(PING, ACK if ack else 0, 0, data))

    def rst_stream(self, stream_id: int, code: int) -> None:
        self.send(raw_frame(RST_STREAM, 0, stream_id, struct.pack(">L", code)))
        self._peer_ended.add(stream_id)
        self._client_ended.add(stream_id)
        self._maybe_closed(stream_id)

    def send_goaway(self, last_stream_id: int, code: int = NO_ERROR) -> None:
        self.send(raw_frame(GOAWAY, 0, 0, struct.pack(">LL", last_stream_id, code)))

    async def ping_ack(self, data: bytes, timeout: float = 5.0) -> None:
        """Send PING(data) and wait for the client's ACK carrying the same payload."""
        self.ping(data)
        await self.wait_for(
            lambda f: isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == data,
            timeout,
            f"PING ACK with {data!r}",
        )

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


class RawH2Server:
    """Accepts h2c connections on 127.0.0.1; tests take them with :meth:`accept`.

    Each connection gets our SETTINGS (``settings``) at once, unless ``preface`` gives other
    bytes to open with (``b""``: say nothing first). ``auto_credit`` returns flow-control
    credit for every DATA frame received; ``socket_buffers`` shrinks the kernel buffers.
    """

    def __init__(
        self,
        settings: dict[int, int] | None = None,
        auto_credit: bool = True,
        preface: bytes | None = None,
        socket_buffers: int | None = None,
    ) -> None:
        self.settings = settings or {}
        self.auto_credit = auto_credit
        self.preface = preface
        self.socket_buffers = socket_buffers
        self.peers: list[RawPeer] = []
        self.pending: list[asyncio.Future[Any]] = []  # requests started by start_request
        self._accepted: asyncio.Queue[RawPeer] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> RawH2Server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.socket_buffers is not None:
            # small kernel buffers (inherited by accepted sockets): backpressure shows early
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.socket_buffers)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.socket_buffers)
        sock.bind(("127.0.0.1", 0))
        self._server = await asyncio.start_server(self._accept, sock=sock)
        self.port = sock.getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # every write goes out now
        peer = RawPeer(reader, writer, self.auto_credit)
        self.peers.append(peer)
        if self.preface is None:
            peer.send_settings(self.settings)
        else:
            peer.send(self.preface)
        peer.start()
        self._accepted.put_nowait(peer)

    async def accept(self, timeout: float = 5.0) -> RawPeer:
        """The next connection, once the client's preface has arrived."""
        peer = await asyncio.wait_for(self._accepted.get(), timeout)
        await asyncio.wait_for(peer.preface_ok.wait(), timeout)
        return peer

    async def aclose(self) -> None:
        for future in self.pending:
            future.cancel()
        # a test that failed half-way may leave requests behind: collect their outcome
        await asyncio.gather(*self.pending, return_exceptions=True)
        for peer in self.peers:
            peer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for peer in self.peers:
            if peer._task is not None:
                peer._task.cancel()
                try:
                    await peer._task
                except (asyncio.CancelledError, Exception):
                    pass


# -- the client side of a test ----------------------------------------------------------------


def h2_client(**kwargs: Any) -> Client:
    """An HTTP/2 (prior knowledge) client with tight timeouts."""
    kwargs.setdefault("timeout", Timeout(5.0))
    return Client(http2="prior-knowledge", **kwargs)


async def expect_failure(
    pending: Awaitable[Any],
    kind: type[HyperHTTPError] = RemoteProtocolError,
    within: float = 5.0,
) -> HyperHTTPError:
    """``pending`` fails, within ``within`` s, with our own typed exception carrying the
    request."""
    try:
        result = await asyncio.wait_for(pending, within)
    except HyperHTTPError as exc:
        assert isinstance(exc, kind), f"{type(exc).__name__}: {exc} is not a {kind.__name__}"
        assert type(exc).__module__.startswith("hyperhttp"), type(exc)
        assert exc.request is not None
        return exc
    raise AssertionError(f"expected {kind.__name__}, got {result!r}")


async def start_request(
    server: RawH2Server,
    client: Client,
    path: str = "/",
    peer: RawPeer | None = None,
    **kwargs: Any,
) -> tuple[asyncio.Future[Response], RawPeer, RawRequest]:
    """Send a request in the background (on a new connection unless ``peer`` is given); the
    pending response, the connection and the request as the peer received it whole."""
    method = kwargs.pop("method", "GET")
    pending = asyncio.ensure_future(client.request(method, server.url + path, **kwargs))
    server.pending.append(pending)
    if peer is None:
        peer = await server.accept()
    request = await peer.full_request()
    return pending, peer, request


RawServerFactory = Callable[..., Awaitable[RawH2Server]]
Fields = list[tuple[bytes, bytes]]
STATUS_200: Fields = [(b":status", b"200")]


async def answered(pending: Awaitable[object]) -> object:
    """The result of ``pending``, within 5 s."""
    return await asyncio.wait_for(pending, 5)
