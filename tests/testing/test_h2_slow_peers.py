"""Slow and non-reading HTTP/2 peers against the test server (checklist SV-04, H2-09).

Deadlines are configured small (tenths of a second) so each test runs fast; each limit is
tested on both sides: completing just in time is served, missing it is cut off, and other
streams and connections keep being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

import hyperhttp
from hyperhttp._protocol.h2_server import ENHANCE_YOUR_CALM
from hyperhttp.testing import HTTPServer, ServerLimits
from hyperhttp.testing._h2_connection import MAX_DATA_WRITE, H2Connection
from hyperhttp.testing._wire import (
    BODY_TIMEOUT,
    H2_MAX_WRITE_BUFFER,
    HEADER_TIMEOUT,
    MIN_BODY_RATE,
    WRITE_BUFFER_HIGH,
)

from .h2peer import RawPeer

NO_ERROR = 0x0
#: The deadline the tests configure: long enough for a loaded CI runner, short enough to be fast.
DEADLINE = 0.3
#: A response far larger than any write-buffer mark, for the peers that never read.
BIG = b"x" * (8 * 1024 * 1024)
#: Most bytes one read hands the server (asyncio reads up to 256 KiB), all of it PINGs whose
#: ACKs are as long: what can be queued after the read that crossed the pause mark.
ONE_READ = 256 * 1024


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    opened: list[RawPeer] = []
    yield opened
    for peer in opened:
        peer.close()


def serve(**limits: float) -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", http2=True, limits=ServerLimits(**limits))  # type: ignore[arg-type]
    server.start()
    server.expect_request("/").respond_with_data("ok")
    server.expect_request("/upload", method="POST").respond_with_data("stored")
    server.expect_request("/big").respond_with_data(BIG)
    return server


def connect(server: HTTPServer, peers: list[RawPeer], **kwargs: int) -> RawPeer:
    peer = RawPeer(server.port, **kwargs)
    peers.append(peer)
    return peer


def h2_connections(server: HTTPServer) -> list[H2Connection]:
    assert server.server is not None
    found = []
    for conn in list(server.server._connections):
        conn = getattr(conn, "_delegate", None) or conn
        if isinstance(conn, H2Connection):
            found.append(conn)
    return found


def test_defaults_are_the_documented_ones() -> None:
    limits = ServerLimits()
    assert (
        (limits.header_timeout, limits.body_timeout) == (HEADER_TIMEOUT, BODY_TIMEOUT) == (10, 30)
    )
    assert limits.min_body_rate == MIN_BODY_RATE == 1024
    assert limits.write_buffer_high == WRITE_BUFFER_HIGH == 256 * 1024
    assert limits.h2_max_write_buffer == H2_MAX_WRITE_BUFFER == 4 * 1024 * 1024


# -- header deadline: a header block or frame that never completes ---------------------------


def test_header_block_completed_within_the_deadline_is_served(peers: list[RawPeer]) -> None:
    server = serve(header_timeout=DEADLINE)
    try:
        peer = connect(server, peers)
        block = peer.headers(1).data
        peer.send(HeadersFrame(1, block[:3], flags={"END_STREAM"}))
        time.sleep(DEADLINE / 3)  # under the limit
        peer.send(ContinuationFrame(1, block[3:], flags={"END_HEADERS"}))
        data = peer.read_until(DataFrame)
        assert isinstance(data, DataFrame) and data.data == b"ok"
        time.sleep(DEADLINE)  # the deadline was cancelled with the block: nothing follows
        peer.send(PingFrame(0, b"still-ok"))
        assert peer.read_until(PingFrame) is not None
        assert not any(isinstance(f, GoAwayFrame) for f in peer.frames)
    finally:
        server.stop()


def test_header_block_past_the_deadline_ends_the_connection(peers: list[RawPeer]) -> None:
    server = serve(header_timeout=DEADLINE)
    try:
        peer = connect(server, peers)
        block = peer.headers(1).data
        started = time.monotonic()
        peer.send(HeadersFrame(1, block[:3], flags={"END_STREAM"}))  # no END_HEADERS, ever
        goaway = peer.goaway()
        elapsed = time.monotonic() - started
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
        assert goaway.last_stream_id == 0  # stream 1 was never processed
        assert DEADLINE * 0.9 <= elapsed < DEADLINE + 2
        assert not server.log
        assert "request head" in server.rejections[0][1]
    finally:
        server.stop()


def test_dribbled_headers_frame_is_not_kept_alive_by_its_bytes(peers: list[RawPeer]) -> None:
    """Slowloris: one byte of a HEADERS frame every DEADLINE / 4 never resets the deadline."""
    server = serve(header_timeout=DEADLINE, idle_timeout=DEADLINE)
    try:
        peer = connect(server, peers)
        wire = peer.headers(1).serialize()
        started = time.monotonic()
        goaway = None
        for i in range(len(wire) - 1):  # never the last byte; bounded by the frame
            try:
                peer.send_raw(wire[i : i + 1])
            except OSError:
                break
            time.sleep(DEADLINE / 4)
            if time.monotonic() - started > DEADLINE * 1.5:
                break
        goaway = peer.goaway()
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
        assert time.monotonic() - started < DEADLINE + 3
        assert not server.log
    finally:
        server.stop()


def test_other_connections_are_served_while_one_stalls_its_head(peers: list[RawPeer]) -> None:
    server = serve(header_timeout=DEADLINE * 3)
    try:
        stalled = connect(server, peers)
        stalled.send(HeadersFrame(1, stalled.headers(1).data[:3]))
        well_behaved = connect(server, peers)
        well_behaved.send(well_behaved.headers(1))
        data = well_behaved.read_until(DataFrame)
        assert isinstance(data, DataFrame) and data.data == b"ok"
        goaway = stalled.goaway()
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    finally:
        server.stop()


# -- body deadline: per stream -----------------------------------------------------------------


def _upload_head(peer: RawPeer, sid: int) -> HeadersFrame:
    return peer.headers(sid, "/upload", method="POST", end_stream=False)


def test_body_gaps_under_the_deadline_are_served(peers: list[RawPeer]) -> None:
    server = serve(body_timeout=DEADLINE, min_body_rate=1)
    try:
        peer = connect(server, peers)
        peer.send(_upload_head(peer, 1))
        for _ in range(3):  # 0.45 s in all, but never DEADLINE without a DATA frame
            time.sleep(DEADLINE / 2)
            peer.send(DataFrame(1, b"ab"))
        peer.send(DataFrame(1, b"", flags={"END_STREAM"}))
        data = peer.read_until(DataFrame)
        assert isinstance(data, DataFrame) and data.data == b"stored"
        assert server.log[0][0].get_data() == b"ababab"
        assert not server.rejections
    finally:
        server.stop()


def test_silent_body_gets_408_and_rst_stream_no_error(peers: list[RawPeer]) -> None:
    """RFC 9113 §8.1: a complete response, then RST_STREAM(NO_ERROR) stops the upload."""
    server = serve(body_timeout=DEADLINE)
    try:
        peer = connect(server, peers)
        started = time.monotonic()
        peer.send(_upload_head(peer, 1), DataFrame(1, b"partial"))  # then nothing
        rst = peer.read_until(RstStreamFrame)
        elapsed = time.monotonic() - started
        assert isinstance(rst, RstStreamFrame)
        assert (rst.stream_id, rst.error_code) == (1, NO_ERROR)
        assert DEADLINE * 0.9 <= elapsed < DEADLINE + 2
        head = next(f for f in peer.frames if isinstance(f, HeadersFrame))
        assert peer.decoder.decode(head.data)[0] == (":status", "408")
        body = next(f for f in peer.frames if isinstance(f, DataFrame))
        assert body.data.startswith(b"408") and "END_STREAM" in body.flags
        # the handler never ran; the connection and other streams are fine
        assert not server.log
        assert server.rejections[0][0] == 408
        peer.send(DataFrame(1, b"late bytes for the reset stream"), peer.headers(3))
        data = peer.read_until(DataFrame)
        assert isinstance(data, DataFrame) and (data.stream_id, data.data) == (3, b"ok")
        assert not any(isinstance(f, GoAwayFrame) for f in peer.frames)
        assert len(server.log) == 1
    finally:
        server.stop()


def test_only_the_slow_stream_is_reset(peers: list[RawPeer]) -> None:
    server = serve(body_timeout=DEADLINE, min_body_rate=1)
    try:
        peer = connect(server, peers)
        peer.send(_upload_head(peer, 1), _upload_head(peer, 3))
        deadline = time.monotonic() + DEADLINE * 1.5
        while time.monotonic() < deadline:  # stream 3 keeps sending; stream 1 is silent
            peer.send(DataFrame(3, b"x"))
            time.sleep(DEADLINE / 5)
        peer.send(DataFrame(3, b"", flags={"END_STREAM"}))
        rst = peer.read_until(RstStreamFrame)
        assert isinstance(rst, RstStreamFrame) and rst.stream_id == 1
        data = peer.read_until(DataFrame)
        while isinstance(data, DataFrame) and data.stream_id != 3:
            data = peer.read_until(DataFrame)
        assert isinstance(data, DataFrame) and data.data == b"stored"
        assert [r.method for r, _ in server.log] == ["POST"]
    finally:
        server.stop()


def test_body_below_the_minimum_rate_is_cut_off(peers: list[RawPeer]) -> None:
    """Slow POST: a byte every DEADLINE / 4 keeps the gap deadline happy but not the rate."""
    server = serve(body_timeout=DEADLINE, min_body_rate=100)
    try:
        peer = connect(server, peers)
        peer.send(_upload_head(peer, 1))
        rst = None
        for _ in range(20):  # bounded: the rate check trips after DEADLINE
            peer.send(DataFrame(1, b"x"))
            time.sleep(DEADLINE / 4)
            peer.sock.settimeout(0.01)
            rst = peer.read_until(RstStreamFrame, timeout=0.01)
            peer.sock.settimeout(5)
            if rst is not None:
                break
        assert isinstance(rst, RstStreamFrame) and rst.error_code == NO_ERROR
        assert "too slow" in server.rejections[0][1]
        assert not server.log
    finally:
        server.stop()


# -- a client that never reads (H2-09, CVE-2019-9517) ---------------------------------------


def _flood(peer: RawPeer, streams: int, until: Callable[[], bool]) -> None:
    """Ask for ``streams`` big responses with huge windows and frames, then send PINGs and
    never read anything back, until ``until()`` (bounded: 64 MiB sent, 10 s)."""
    peer.send(
        SettingsFrame(
            0,
            settings={
                SettingsFrame.INITIAL_WINDOW_SIZE: 2**31 - 1,
                SettingsFrame.MAX_FRAME_SIZE: 2**24 - 1,
            },
        ),
        WindowUpdateFrame(0, window_increment=2**31 - 1 - 65_535),
        *(peer.headers(2 * i + 1, "/big") for i in range(streams)),
    )
    batch = b"".join(PingFrame(0, i.to_bytes(8, "big")).serialize() for i in range(500))
    peer.sock.settimeout(0.05)
    sent = 0
    deadline = time.monotonic() + 10
    while sent < 64 * 1024 * 1024 and time.monotonic() < deadline and not until():
        try:
            peer.sock.sendall(batch)
        except TimeoutError:
            time.sleep(0.01)  # the kernel buffers are full for now
            continue
        except OSError:
            return  # dropped
        sent += len(batch)


def _paused(server: HTTPServer) -> bool:
    conns = h2_connections(server)
    return bool(conns) and conns[0]._transport is not None and not conns[0]._transport.is_reading()


def test_client_that_never_reads_is_paused_with_a_bounded_buffer(peers: list[RawPeer]) -> None:
    high = 64 * 1024
    server = serve(
        h2_control_frame_burst=10**7, h2_control_frame_rate=10**7, write_buffer_high=high
    )
    try:
        peer = connect(server, peers, rcvbuf=4096)
        streams = 4
        _flood(peer, streams, lambda: _paused(server))
        assert _paused(server), "the server never stopped reading"
        [conn] = h2_connections(server)
        transport = conn._transport
        assert transport is not None
        # bounded: the pause mark, one DATA frame per stream (not the 8 MiB the client's
        # windows and frame size allow), the ACKs of the last read; far below the hard cap
        bound = high + streams * MAX_DATA_WRITE + ONE_READ
        assert transport.get_write_buffer_size() <= bound < H2_MAX_WRITE_BUFFER
        for _ in range(20):  # more PINGs cannot get in: the buffer stays put
            with contextlib.suppress(OSError):
                peer.sock.sendall(PingFrame(0).serialize() * 100)
            time.sleep(0.005)
        assert transport.get_write_buffer_size() <= bound
        assert not server.rejections

        async def fetch() -> str:
            async with hyperhttp.Client(http2="prior-knowledge") as client:
                return (await client.get(server.url_for("/"))).text

        assert asyncio.run(fetch()) == "ok"  # a well-behaved client is still served
    finally:
        server.stop()


def test_client_that_never_reads_past_the_cap_is_dropped(peers: list[RawPeer]) -> None:
    """The hard cap below the pause mark: one big DATA frame passes it, so: dropped."""
    cap = 16 * 1024
    server = serve(
        h2_control_frame_burst=10**7,
        h2_control_frame_rate=10**7,
        write_buffer_high=1024 * 1024,
        h2_max_write_buffer=cap,
    )
    try:
        peer = connect(server, peers, rcvbuf=4096)
        _flood(peer, 1, lambda: bool(server.rejections))
        deadline = time.monotonic() + 5
        while h2_connections(server) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not h2_connections(server)
        assert "not reading" in server.rejections[0][1]
        with pytest.raises(OSError):  # reset, not a polite GOAWAY it would never read
            for _ in range(100):
                peer.sock.sendall(PingFrame(0).serialize())
                time.sleep(0.01)
    finally:
        server.stop()
