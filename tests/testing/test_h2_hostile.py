"""Hostile HTTP/2 peers against the test server (checklist rows H2-05 ... H2-09, SV-09).

Each test scripts raw frames over a blocking loopback socket and reads frames back until the
server's GOAWAY (or a deadline), with the limit and the limit + 1.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest
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

import hyperhttp
from hyperhttp._protocol.h2_server import (
    CONTROL_FRAME_BURST,
    ENHANCE_YOUR_CALM,
    MAX_CONTINUATION_FRAMES,
    MAX_HEADER_LIST_SIZE,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    RESET_BURST,
)
from hyperhttp.testing import HTTPServer, ServerLimits

from .h2peer import RawPeer

COMPRESSION_ERROR = 0x9
#: Frames sent past a default bucket's burst: it refills while the server works (33 or 100
#: tokens per second), so "burst + 1" is only exact with a near-zero rate.
_REFILL_MARGIN = 500
#: What the whole process may allocate (traced) while five peers attack and one client is
#: served: ~5 MiB measured here, far below what an unbounded queue would reach.
_ATTACK_MEMORY_CAP = 32 * 1024 * 1024


@pytest.fixture
def h2server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", http2=True)
    server.start()
    server.expect_request("/").respond_with_data("ok")
    yield server
    server.stop()


def serve(limits: ServerLimits) -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", http2=True, limits=limits)
    server.start()
    server.expect_request("/").respond_with_data("ok")
    return server


@pytest.fixture
def peer_factory() -> Iterator[list[RawPeer]]:
    peers: list[RawPeer] = []
    yield peers
    for peer in peers:
        peer.close()


def open_peer(server: HTTPServer, peers: list[RawPeer]) -> RawPeer:
    peer = RawPeer(server.port)
    peers.append(peer)
    return peer


# -- max concurrent streams (H2-05, SV-09) ----------------------------------------------------


def test_max_concurrent_streams_advertised_and_enforced(peer_factory: list[RawPeer]) -> None:
    server = serve(ServerLimits(h2_max_concurrent_streams=3))
    try:
        peer = open_peer(server, peer_factory)
        settings = peer.read_until(SettingsFrame)
        assert isinstance(settings, SettingsFrame)
        assert settings.settings[SettingsFrame.MAX_CONCURRENT_STREAMS] == 3
        peer.send(*(peer.headers(sid, end_stream=False) for sid in (1, 3, 5)))  # the limit
        peer.send(PingFrame(0, b"12345678"))
        assert peer.read_until(PingFrame) is not None
        assert not any(isinstance(f, GoAwayFrame) for f in peer.frames)
        peer.send(peer.headers(7, end_stream=False))  # limit + 1
        goaway = peer.goaway()
        assert goaway is not None and goaway.error_code == PROTOCOL_ERROR
    finally:
        server.stop()


def test_running_handlers_never_exceed_the_cap_even_after_resets(
    peer_factory: list[RawPeer],
) -> None:
    """MadeYouReset / rapid reset: reset streams whose handlers still run count."""
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def handler(request: object) -> object:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(5)
        with lock:
            running -= 1
        from werkzeug import Response

        return Response("late")

    server = HTTPServer(
        host="127.0.0.1", http2=True, limits=ServerLimits(h2_max_concurrent_streams=2)
    )
    server.start()
    server.expect_request("/block").respond_with_handler(handler)
    try:
        peer = open_peer(server, peer_factory)
        for sid in (1, 3):  # two handlers start, then the client resets both streams
            peer.send(peer.headers(sid, "/block"), RstStreamFrame(sid, error_code=8))
        deadline = time.monotonic() + 5
        while most < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        peer.send(peer.headers(5, "/block"))  # limit + 1 running handler: refused
        frame = peer.read_until(RstStreamFrame)
        assert isinstance(frame, RstStreamFrame)
        assert (frame.stream_id, frame.error_code) == (5, REFUSED_STREAM)
        assert most == 2
    finally:
        release.set()
        server.stop()


# -- rapid reset (H2-05) -----------------------------------------------------------------------


def test_rapid_reset_small_budget(peer_factory: list[RawPeer]) -> None:
    server = serve(ServerLimits(h2_reset_burst=10, h2_reset_rate=0.001))
    try:
        peer = open_peer(server, peer_factory)
        for i in range(10):  # the limit: still served
            sid = 2 * i + 1
            peer.send(peer.headers(sid, end_stream=False), RstStreamFrame(sid, error_code=8))
        peer.send(PingFrame(0, b"still-ok"))
        assert peer.read_until(PingFrame) is not None
        assert not any(isinstance(f, GoAwayFrame) for f in peer.frames)
        peer.send(peer.headers(21, end_stream=False), RstStreamFrame(21, error_code=8))
        goaway = peer.goaway()
        assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
        assert server.rejections and "rapid reset" in server.rejections[0][1]
    finally:
        server.stop()


def test_rapid_reset_default_budget(h2server: HTTPServer, peer_factory: list[RawPeer]) -> None:
    peer = open_peer(h2server, peer_factory)
    frames: list[Frame] = []
    # the bucket refills at RESET_RATE while the server works through the burst (~1 token
    # per 30 ms), so go well past it; the exact limit + 1 is test_rapid_reset_small_budget
    for i in range(RESET_BURST + _REFILL_MARGIN):
        sid = 2 * i + 1
        frames += [peer.headers(sid, end_stream=False), RstStreamFrame(sid, error_code=8)]
    peer.send(*frames)
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM


# -- CONTINUATION flood (H2-06) ------------------------------------------------------------


def test_continuation_frames_within_the_cap_are_fine(
    h2server: HTTPServer, peer_factory: list[RawPeer]
) -> None:
    peer = open_peer(h2server, peer_factory)
    block = peer.encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")]
    )
    frames: list[Frame] = [HeadersFrame(1, block[:2], flags={"END_STREAM"})]
    frames += [ContinuationFrame(1, block[2 + i : 3 + i]) for i in range(len(block) - 3)]
    frames.append(ContinuationFrame(1, block[-1:], flags={"END_HEADERS"}))
    peer.send(*frames)
    data = peer.read_until(DataFrame)
    assert isinstance(data, DataFrame) and data.data == b"ok"


def test_continuation_flood_is_a_connection_error(
    h2server: HTTPServer, peer_factory: list[RawPeer]
) -> None:
    peer = open_peer(h2server, peer_factory)
    block = peer.encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")]
    )
    frames: list[Frame] = [HeadersFrame(1, block, flags={"END_STREAM"})]
    frames += [ContinuationFrame(1, b"") for _ in range(MAX_CONTINUATION_FRAMES + 1)]
    peer.send(*frames)
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code != 0
    assert "continuation" in h2server.rejections[0][1].lower()
    assert not h2server.log


# -- HPACK bomb (H2-07) ----------------------------------------------------------------------


def test_header_list_at_the_cap_is_served(
    h2server: HTTPServer, peer_factory: list[RawPeer]
) -> None:
    peer = open_peer(h2server, peer_factory)
    base = [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")]
    used = sum(len(n) + len(v) + 32 for n, v in base)
    filler = MAX_HEADER_LIST_SIZE - used - len("x-big") - 32 - 1024  # comfortably under
    block = peer.encoder.encode([*base, ("x-big", "a" * filler)])
    chunks = [block[i : i + 16_000] for i in range(0, len(block), 16_000)]
    frames: list[Frame] = [HeadersFrame(1, chunks[0], flags={"END_STREAM"})]
    frames += [ContinuationFrame(1, c) for c in chunks[1:-1]]
    frames.append(ContinuationFrame(1, chunks[-1], flags={"END_HEADERS"}))
    peer.send(*frames)
    data = peer.read_until(DataFrame)
    assert isinstance(data, DataFrame) and data.data == b"ok"


def test_hpack_bomb_is_cut_off(h2server: HTTPServer, peer_factory: list[RawPeer]) -> None:
    peer = open_peer(h2server, peer_factory)
    # one 4000-byte header enters the dynamic table, then 20 one-byte references to it:
    # a ~90-byte block that decodes to ~80 KiB (> MAX_HEADER_LIST_SIZE)
    first = peer.encoder.encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", "/"),
            ("x-bomb", "b" * 4000),
        ]
    )
    peer.send(HeadersFrame(1, first, flags={"END_HEADERS", "END_STREAM"}))
    assert peer.read_until(DataFrame) is not None
    second = peer.encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")]
        + [("x-bomb", "b" * 4000)] * 20
    )
    assert len(second) < 200
    peer.send(HeadersFrame(3, second, flags={"END_HEADERS", "END_STREAM"}))
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    assert len(h2server.log) == 1


def test_table_size_update_at_the_setting_is_fine(
    h2server: HTTPServer, peer_factory: list[RawPeer]
) -> None:
    peer = open_peer(h2server, peer_factory)
    # dynamic table size update to exactly 4096 (our SETTINGS_HEADER_TABLE_SIZE): 0x3f e1 1f
    block = bytes([0x3F, 0xE1, 0x1F]) + peer.encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")]
    )
    peer.send(HeadersFrame(1, block, flags={"END_HEADERS", "END_STREAM"}))
    data = peer.read_until(DataFrame)
    assert isinstance(data, DataFrame) and data.data == b"ok"


def test_table_size_update_above_the_setting_is_a_compression_error(
    h2server: HTTPServer, peer_factory: list[RawPeer]
) -> None:
    peer = open_peer(h2server, peer_factory)
    # the limit + 1: a size update to 4097 (0x3f e2 1f), then ":method: GET" (static index 2)
    peer.send(HeadersFrame(1, bytes([0x3F, 0xE2, 0x1F, 0x82]), flags={"END_HEADERS"}))
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == COMPRESSION_ERROR  # RFC 9113 §4.3
    assert "table size" in h2server.rejections[0][1]
    assert not h2server.log


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(bytes([0xBE]), id="index-62-with-an-empty-dynamic-table"),
        pytest.param(bytes([0x80]), id="index-0"),
        pytest.param(bytes([0x82, 0xFF, 0xFF, 0xFF, 0xFF]), id="truncated-integer"),
        pytest.param(bytes([0x82, 0x04, 0x81, 0xFF]), id="huffman-eos-padding"),
    ],
)
def test_hpack_decoding_failures_are_compression_errors(
    block: bytes, h2server: HTTPServer, peer_factory: list[RawPeer]
) -> None:
    peer = open_peer(h2server, peer_factory)
    peer.send(HeadersFrame(1, block, flags={"END_HEADERS", "END_STREAM"}))
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == COMPRESSION_ERROR
    assert not h2server.log


# -- SETTINGS / PING floods (H2-08, H2-09) ---------------------------------------------------


@pytest.mark.parametrize("kind", ["ping", "settings"])
def test_control_frame_flood(kind: str, h2server: HTTPServer, peer_factory: list[RawPeer]) -> None:
    peer = open_peer(h2server, peer_factory)

    def frame(i: int) -> Frame:
        if kind == "ping":
            return PingFrame(0, struct.pack(">Q", i))
        return SettingsFrame(0, settings={SettingsFrame.HEADER_TABLE_SIZE: 4096})

    peer.send(*(frame(i) for i in range(CONTROL_FRAME_BURST // 2)))  # under the cap
    peer.send(peer.headers(1))
    assert peer.read_until(DataFrame) is not None
    peer.send(*(frame(i) for i in range(CONTROL_FRAME_BURST + 1)))  # beyond it
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM


def test_empty_data_frame_flood(h2server: HTTPServer, peer_factory: list[RawPeer]) -> None:
    peer = open_peer(h2server, peer_factory)
    peer.send(peer.headers(1, end_stream=False))
    peer.send(*(DataFrame(1, b"") for _ in range(CONTROL_FRAME_BURST + _REFILL_MARGIN)))
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM


# -- a well-behaved client keeps being served (SV-09, P-14) -----------------------------------


async def test_well_behaved_client_served_while_hostile_peers_are_cut_off(
    h2server: HTTPServer,
) -> None:
    def attack() -> list[int]:
        codes = []
        for _ in range(5):
            peer = RawPeer(h2server.port)
            try:
                frames: list[Frame] = []
                for i in range(RESET_BURST + _REFILL_MARGIN):
                    sid = 2 * i + 1
                    frames += [peer.headers(sid, end_stream=False), RstStreamFrame(sid)]
                frames += [PingFrame(0) for _ in range(CONTROL_FRAME_BURST + _REFILL_MARGIN)]
                peer.send(*frames)
                goaway = peer.goaway()
                codes.append(-1 if goaway is None else goaway.error_code)
            finally:
                peer.close()
        return codes

    # P-14: memory stays bounded too. tracemalloc sees every thread of this process: the
    # server's loop thread, the attacker's and ours.
    tracemalloc.start()
    try:
        attacker = asyncio.get_running_loop().run_in_executor(None, attack)
        latencies = []
        async with hyperhttp.Client(http2="prior-knowledge") as client:
            while not attacker.done() or len(latencies) < 20:
                started = time.perf_counter()
                response = await client.get(h2server.url_for("/"))
                latencies.append(time.perf_counter() - started)
                assert response.text == "ok"
                if len(latencies) > 2000:
                    break
        codes = await attacker
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert codes == [ENHANCE_YOUR_CALM] * 5
    assert max(latencies) < 2.0
    assert peak < _ATTACK_MEMORY_CAP, f"{peak / 2**20:.1f} MiB traced during the attack"
