"""HTTP/2 conformance of the test server, section by section (checklist H2-14).

h2spec is in no package registry, so its most useful *server* cases are written here again
(our own code): each test sends exact frames from a raw loopback peer and checks the reply
the RFC asks for: GOAWAY with a code (connection error), RST_STREAM with a code (stream
error; a connection error of the same code is allowed instead, RFC 9113 §5.4.1), or a
normal answer (frames that must be ignored). Test names carry the h2spec section numbers.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator

import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from hyperhttp._protocol.h2_server import PREFACE
from hyperhttp.testing import HTTPServer

from .h2peer import (
    ACK,
    COMPRESSION_ERROR,
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    GOAWAY,
    HEADERS,
    PADDED,
    PING,
    PRIORITY,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    RST_STREAM,
    SETTINGS,
    STREAM_CLOSED,
    WINDOW_UPDATE,
    Peer,
    RawPeer,
    raw_frame,
)


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", http2=True)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    gate = threading.Event()
    yield gate
    gate.set()


@pytest.fixture
def peer(server: HTTPServer, release: threading.Event) -> Iterator[Peer]:
    server.clear()
    server.expect_request("/").respond_with_data("ok")

    def slow(request: object) -> object:
        from werkzeug import Response

        release.wait(5)  # keeps its stream half-closed (remote) until the test ends
        return Response("slow")

    server.expect_request("/slow").respond_with_handler(slow)
    conn = Peer(server.port)
    yield conn
    conn.close()


# -- 3.5 connection preface ---------------------------------------------------------------------


def test_3_5_1_preface_is_answered_with_settings(server: HTTPServer) -> None:
    peer = RawPeer(server.port)
    try:
        frame = peer.read_until(SettingsFrame)
        assert isinstance(frame, SettingsFrame) and "ACK" not in frame.flags
    finally:
        peer.close()


def test_3_5_2_invalid_preface_closes_the_connection(server: HTTPServer) -> None:
    peer = RawPeer(server.port, preface=False)
    try:
        peer.send_raw(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + SettingsFrame(0).serialize())
        assert peer.read_until(SettingsFrame, timeout=3) is None  # never served as HTTP/2
    finally:
        peer.close()


# -- 4.1 frame format, 4.2 frame size, 4.3 header compression ---------------------------------


def test_4_1_1_unknown_frame_type_is_ignored(peer: Peer) -> None:
    peer.send_raw(raw_frame(0x16, 0, 0, b"\x00" * 8))
    peer.alive()


def test_4_1_2_undefined_flags_are_ignored(peer: Peer) -> None:
    peer.send_raw(raw_frame(PING, 0x16, 0, b"flagged!"))  # 0x16: no ACK bit, others undefined
    frame = peer.read_until(PingFrame)
    assert isinstance(frame, PingFrame) and frame.opaque_data == b"flagged!"


def test_4_1_3_reserved_bit_is_ignored(peer: Peer) -> None:
    peer.send_raw(raw_frame(PING, 0, 0x8000_0000, b"reserved"))
    frame = peer.read_until(PingFrame)
    assert isinstance(frame, PingFrame) and frame.opaque_data == b"reserved"


def test_4_2_1_data_frame_of_max_default_size_is_accepted(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), DataFrame(1, b"x" * 16384, flags={"END_STREAM"}))
    assert dict(peer.response(1))[":status"] == "200"


def test_4_2_2_data_frame_over_max_frame_size(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False))
    peer.send_raw(raw_frame(DATA, END_STREAM, 1, b"x" * 16385))
    peer.stream_error(1, FRAME_SIZE_ERROR)


def test_4_2_3_headers_frame_over_max_frame_size(peer: Peer) -> None:
    fields = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")]
    block = peer.encoder.encode(
        fields + [(f"x-h{i}", "v" * 100) for i in range(170)], huffman=False
    )
    assert len(block) > 16384
    peer.send_raw(raw_frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    peer.connection_error(FRAME_SIZE_ERROR)


def test_4_3_1_invalid_header_block_fragment(peer: Peer) -> None:
    # literal, new name, Huffman string that ends in a full EOS symbol: undecodable
    peer.send_raw(
        raw_frame(HEADERS, END_STREAM | END_HEADERS, 1, bytes.fromhex("0085f2b24a84ff84"))
    )
    peer.connection_error(COMPRESSION_ERROR)


def test_4_3_2_priority_inside_a_header_block(peer: Peer) -> None:
    block = peer.block()
    peer.send(
        HeadersFrame(1, block, flags={"END_STREAM"}),
        PriorityFrame(1, depends_on=0, stream_weight=255),
    )
    peer.connection_error(PROTOCOL_ERROR)


def test_4_3_3_headers_of_another_stream_inside_a_header_block(peer: Peer) -> None:
    peer.send(HeadersFrame(1, peer.block(), flags={"END_STREAM"}), peer.request(3))
    peer.connection_error(PROTOCOL_ERROR)


# -- 5.1 stream states ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(raw_frame(DATA, 0, 1, b"idle"), id="1-data"),
        pytest.param(RstStreamFrame(1, error_code=8).serialize(), id="2-rst_stream"),
        pytest.param(WindowUpdateFrame(1, window_increment=100).serialize(), id="3-window_update"),
        pytest.param(raw_frame(CONTINUATION, END_HEADERS, 1, b"\x82"), id="4-continuation"),
    ],
)
def test_5_1_idle_stream_frames_are_connection_errors(peer: Peer, frame: bytes) -> None:
    peer.send_raw(frame)
    peer.connection_error(PROTOCOL_ERROR)


def test_5_1_5_data_on_half_closed_remote(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"), DataFrame(1, b"late"))
    peer.stream_error(1, STREAM_CLOSED)


def test_5_1_6_headers_on_half_closed_remote(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"))
    peer.send(HeadersFrame(1, peer.block(), flags={"END_HEADERS", "END_STREAM"}))
    peer.stream_error(1, STREAM_CLOSED)


def test_5_1_7_continuation_on_half_closed_remote(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"))
    peer.send_raw(raw_frame(CONTINUATION, END_HEADERS, 1, b"\x82"))
    frame = peer.read_until((RstStreamFrame, GoAwayFrame))
    assert frame is not None and frame.error_code in (STREAM_CLOSED, PROTOCOL_ERROR)


def test_5_1_8_data_after_rst_stream(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), RstStreamFrame(1, error_code=8))
    peer.send(DataFrame(1, b"after reset"))
    peer.stream_error(1, STREAM_CLOSED)


def test_5_1_9_headers_after_rst_stream(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), RstStreamFrame(1, error_code=8))
    peer.send(HeadersFrame(1, peer.block(), flags={"END_HEADERS", "END_STREAM"}))
    peer.stream_error(1, STREAM_CLOSED)


def test_5_1_10_continuation_after_rst_stream(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), RstStreamFrame(1, error_code=8))
    peer.send_raw(raw_frame(CONTINUATION, END_HEADERS, 1, b"\x82"))
    frame = peer.read_until((RstStreamFrame, GoAwayFrame))
    assert frame is not None and frame.error_code in (STREAM_CLOSED, PROTOCOL_ERROR)


def test_5_1_11_data_on_a_closed_stream(peer: Peer) -> None:
    peer.send(peer.request(1))
    assert dict(peer.response(1))[":status"] == "200"
    assert peer.read_until(DataFrame) is not None  # END_STREAM: the stream is closed
    peer.send(DataFrame(1, b"after close"))
    peer.stream_error(1, STREAM_CLOSED)


def test_5_1_12_headers_on_a_closed_stream(peer: Peer) -> None:
    peer.send(peer.request(1))
    assert peer.read_until(DataFrame) is not None
    peer.send(HeadersFrame(1, peer.block(), flags={"END_HEADERS", "END_STREAM"}))
    peer.stream_error(1, STREAM_CLOSED)


# -- 5.1.1 stream identifiers, 5.1.2 concurrency ------------------------------------------------


def test_5_1_1_1_even_stream_id(peer: Peer) -> None:
    peer.send(peer.request(2))
    peer.connection_error(PROTOCOL_ERROR)


def test_5_1_1_2_stream_id_lower_than_a_previous_one(peer: Peer) -> None:
    peer.send(peer.request(5))
    assert peer.read_until(DataFrame) is not None
    peer.send(peer.request(3))
    peer.connection_error(PROTOCOL_ERROR)


def test_5_1_2_1_more_streams_than_max_concurrent_streams(peer: Peer) -> None:
    settings = next(f for f in peer.frames if isinstance(f, SettingsFrame))
    limit = settings.settings[SettingsFrame.MAX_CONCURRENT_STREAMS]
    peer.send(*(peer.request(2 * i + 1, end_stream=False) for i in range(limit + 1)))
    frame = peer.read_until((RstStreamFrame, GoAwayFrame))
    assert frame is not None and frame.error_code in (PROTOCOL_ERROR, 0x7)  # or REFUSED_STREAM


# -- 5.3 priority, 5.4 error handling, 5.5 extending ----------------------------------------------


def test_5_3_1_1_headers_depending_on_itself(peer: Peer) -> None:
    frame = HeadersFrame(
        1,
        peer.block(),
        flags={"END_HEADERS", "END_STREAM", "PRIORITY"},
        depends_on=1,
        stream_weight=16,
    )
    peer.send(frame)
    peer.stream_error(1, PROTOCOL_ERROR)


def test_5_3_1_2_priority_depending_on_itself(peer: Peer) -> None:
    peer.send(PriorityFrame(1, depends_on=1, stream_weight=16))
    peer.stream_error(1, PROTOCOL_ERROR)


def test_5_4_1_1_invalid_frame_gets_goaway(peer: Peer) -> None:
    peer.send_raw(raw_frame(PING, 0, 0, b"short"))
    peer.connection_error(FRAME_SIZE_ERROR)


def test_5_4_1_2_connection_closed_after_goaway(peer: Peer) -> None:
    peer.send_raw(raw_frame(PING, 0, 0, b"short"))
    peer.connection_error(FRAME_SIZE_ERROR)
    peer.sock.settimeout(3)
    assert peer.read_until(PingFrame, timeout=3) is None  # EOF, not a hang


def test_5_5_1_unknown_extension_frame_is_ignored(peer: Peer) -> None:
    peer.send_raw(raw_frame(0xFF, 0x00, 0, b"ext"))
    peer.send_raw(raw_frame(0xFF, 0xFF, 1, b"ext on an idle stream"))
    peer.alive()


def test_5_5_2_unknown_extension_frame_inside_a_header_block(peer: Peer) -> None:
    peer.send(HeadersFrame(1, peer.block(), flags={"END_STREAM"}))
    peer.send_raw(raw_frame(0xFF, 0, 1, b"ext"))
    peer.connection_error(PROTOCOL_ERROR)


# -- 6.1 DATA, 6.2 HEADERS, 6.3 PRIORITY, 6.4 RST_STREAM --------------------------------------


def test_6_1_1_data_on_stream_0(peer: Peer) -> None:
    peer.send_raw(raw_frame(DATA, 0, 0, b"zero"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_1_2_data_on_a_half_closed_stream(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"), DataFrame(1, b"x", flags={"END_STREAM"}))
    peer.stream_error(1, STREAM_CLOSED)


def test_6_1_3_data_with_pad_length_too_long(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False))
    peer.send_raw(raw_frame(DATA, PADDED | END_STREAM, 1, bytes([6]) + b"tiny"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_2_1_headers_followed_by_data(peer: Peer) -> None:
    peer.send(HeadersFrame(1, peer.block(method="POST"), flags=set()), DataFrame(1, b"x"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_2_2_continuation_on_another_stream(peer: Peer) -> None:
    block = peer.block()
    peer.send(HeadersFrame(1, block[:2], flags={"END_STREAM"}))
    peer.send(ContinuationFrame(3, block[2:], flags={"END_HEADERS"}))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_2_3_headers_on_stream_0(peer: Peer) -> None:
    peer.send_raw(raw_frame(HEADERS, END_STREAM | END_HEADERS, 0, peer.block()))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_2_4_headers_with_pad_length_too_long(peer: Peer) -> None:
    block = peer.block()
    peer.send_raw(
        raw_frame(HEADERS, PADDED | END_STREAM | END_HEADERS, 1, bytes([len(block) + 1]) + block)
    )
    peer.connection_error(PROTOCOL_ERROR)


def test_6_3_1_priority_on_stream_0(peer: Peer) -> None:
    peer.send_raw(raw_frame(PRIORITY, 0, 0, b"\x00\x00\x00\x01\x10"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_3_2_priority_with_bad_length(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"))
    peer.send_raw(raw_frame(PRIORITY, 0, 1, b"\x00\x00\x00\x03"))
    peer.stream_error(1, FRAME_SIZE_ERROR)


def test_6_4_1_rst_stream_on_stream_0(peer: Peer) -> None:
    peer.send_raw(raw_frame(RST_STREAM, 0, 0, b"\x00\x00\x00\x08"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_4_2_rst_stream_on_an_idle_stream(peer: Peer) -> None:
    peer.send_raw(raw_frame(RST_STREAM, 0, 7, b"\x00\x00\x00\x08"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_4_3_rst_stream_with_bad_length(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"))
    peer.send_raw(raw_frame(RST_STREAM, 0, 1, b"\x00\x00\x00\x08\x00"))
    peer.connection_error(FRAME_SIZE_ERROR)


# -- 6.5 SETTINGS ------------------------------------------------------------------------------


def test_6_5_1_settings_ack_with_a_payload(peer: Peer) -> None:
    peer.send_raw(raw_frame(SETTINGS, ACK, 0, b"\x00\x01\x00\x00\x10\x00"))
    peer.connection_error(FRAME_SIZE_ERROR)


def test_6_5_2_settings_on_a_stream(peer: Peer) -> None:
    peer.send_raw(raw_frame(SETTINGS, 0, 1, b"\x00\x01\x00\x00\x10\x00"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_5_3_settings_length_not_a_multiple_of_6(peer: Peer) -> None:
    peer.send_raw(raw_frame(SETTINGS, 0, 0, b"\x00\x01\x00\x00\x10"))
    peer.connection_error(FRAME_SIZE_ERROR)


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        pytest.param(0x2, 2, PROTOCOL_ERROR, id="1-enable_push-2"),
        pytest.param(0x4, 2**31, FLOW_CONTROL_ERROR, id="2-initial_window_size-2^31"),
        pytest.param(0x5, 16383, PROTOCOL_ERROR, id="3-max_frame_size-16383"),
        pytest.param(0x5, 2**24, PROTOCOL_ERROR, id="4-max_frame_size-2^24"),
    ],
)
def test_6_5_2_invalid_setting_values(peer: Peer, setting: int, value: int, code: int) -> None:
    peer.send_raw(raw_frame(SETTINGS, 0, 0, struct.pack(">HI", setting, value)))
    peer.connection_error(code)


def test_6_5_2_5_unknown_setting_is_ignored(peer: Peer) -> None:
    peer.send_raw(raw_frame(SETTINGS, 0, 0, struct.pack(">HI", 0xFF, 1)))
    frame = peer.read_until(SettingsFrame)
    assert isinstance(frame, SettingsFrame) and "ACK" in frame.flags
    peer.alive()


def test_6_5_3_2_settings_are_acknowledged(peer: Peer) -> None:
    peer.send(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 100}))
    frame = peer.read_until(SettingsFrame)
    assert isinstance(frame, SettingsFrame) and "ACK" in frame.flags


# -- 6.7 PING, 6.8 GOAWAY -----------------------------------------------------------------------


def test_6_7_1_ping_is_answered_with_the_same_data(peer: Peer) -> None:
    peer.alive()


def test_6_7_2_ping_ack_is_not_answered(peer: Peer) -> None:
    peer.send(PingFrame(0, b"an-ack!!", flags={"ACK"}))
    peer.alive()
    assert [f.opaque_data for f in peer.frames if isinstance(f, PingFrame)] == [b"h2-alive"]


def test_6_7_3_ping_on_a_stream(peer: Peer) -> None:
    peer.send_raw(raw_frame(PING, 0, 1, b"streamed"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_7_4_ping_with_bad_length(peer: Peer) -> None:
    peer.send_raw(raw_frame(PING, 0, 0, b"nine bytes"[:9]))
    peer.connection_error(FRAME_SIZE_ERROR)


def test_6_8_1_goaway_on_a_stream(peer: Peer) -> None:
    peer.send_raw(raw_frame(GOAWAY, 0, 1, b"\x00\x00\x00\x00\x00\x00\x00\x00"))
    peer.connection_error(PROTOCOL_ERROR)


# -- 6.9 WINDOW_UPDATE ---------------------------------------------------------------------------


def test_6_9_1_zero_increment_on_the_connection(peer: Peer) -> None:
    peer.send_raw(raw_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_9_2_zero_increment_on_a_stream(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"))
    peer.send_raw(raw_frame(WINDOW_UPDATE, 0, 1, b"\x00\x00\x00\x00"))
    peer.stream_error(1, PROTOCOL_ERROR)


def test_6_9_3_window_update_with_bad_length(peer: Peer) -> None:
    peer.send_raw(raw_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x01\x00"))
    peer.connection_error(FRAME_SIZE_ERROR)


def test_6_9_1_1_connection_window_above_2_31_minus_1(peer: Peer) -> None:
    peer.send(WindowUpdateFrame(0, window_increment=2**31 - 1))
    peer.connection_error(FLOW_CONTROL_ERROR)


def test_6_9_1_2_stream_window_above_2_31_minus_1(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"), WindowUpdateFrame(1, window_increment=2**31 - 1))
    peer.stream_error(1, FLOW_CONTROL_ERROR)


def test_6_9_2_3_initial_window_size_above_the_maximum(peer: Peer) -> None:
    peer.send_raw(raw_frame(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 2**31)))
    peer.connection_error(FLOW_CONTROL_ERROR)


# -- 6.10 CONTINUATION ---------------------------------------------------------------------------


def test_6_10_1_several_continuation_frames_are_fine(peer: Peer) -> None:
    block = peer.block()
    peer.send(
        HeadersFrame(1, block[:1], flags={"END_STREAM"}),
        ContinuationFrame(1, block[1:2]),
        ContinuationFrame(1, block[2:], flags={"END_HEADERS"}),
    )
    assert dict(peer.response(1))[":status"] == "200"


def test_6_10_2_continuation_after_end_headers(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"))
    peer.send_raw(raw_frame(CONTINUATION, END_HEADERS, 1, b"\x82"))
    frame = peer.read_until(GoAwayFrame)
    assert isinstance(frame, GoAwayFrame) and frame.error_code == PROTOCOL_ERROR


def test_6_10_3_continuation_on_stream_0(peer: Peer) -> None:
    block = peer.block()
    peer.send(HeadersFrame(1, block[:2], flags={"END_STREAM"}))
    peer.send_raw(raw_frame(CONTINUATION, END_HEADERS, 0, block[2:]))
    peer.connection_error(PROTOCOL_ERROR)


def test_6_10_4_continuation_after_data(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), DataFrame(1, b"x"))
    peer.send_raw(raw_frame(CONTINUATION, END_HEADERS, 1, b"\x82"))
    peer.connection_error(PROTOCOL_ERROR)


# -- 7 error codes --------------------------------------------------------------------------------


def test_7_1_goaway_with_an_unknown_code(peer: Peer) -> None:
    peer.send(GoAwayFrame(0, last_stream_id=0, error_code=0xFF), PingFrame(0, b"unknown!"))
    frame = peer.read_until(PingFrame, timeout=3)  # answered, or a clean close: no special act
    assert frame is None or frame.opaque_data == b"unknown!"


def test_7_2_rst_stream_with_an_unknown_code(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), RstStreamFrame(1, error_code=0xFF))
    peer.alive()


# -- 8.1 HTTP request/response exchange -----------------------------------------------------------


def test_8_1_1_second_headers_without_end_stream(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), DataFrame(1, b"x"))
    peer.send(HeadersFrame(1, peer.encoder.encode([("x-trailer", "1")]), flags={"END_HEADERS"}))
    peer.stream_error(1, PROTOCOL_ERROR)


def test_8_1_trailers_are_accepted(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), DataFrame(1, b"body"))
    trailer = peer.encoder.encode([("x-checksum", "abc")])
    peer.send(HeadersFrame(1, trailer, flags={"END_HEADERS", "END_STREAM"}))
    assert dict(peer.response(1))[":status"] in ("200", "500")


MALFORMED = [
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("X-Upper", "a")],
        id="8.1.2-1-uppercase-name",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":unknown", "a")],
        id="8.1.2.1-1-unknown-pseudo",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":status", "200")],
        id="8.1.2.1-2-response-pseudo",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), ("x-a", "1"), (":path", "/")],
        id="8.1.2.1-4-pseudo-after-regular",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("connection", "keep-alive")],
        id="8.1.2.2-1-connection",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("te", "gzip")],
        id="8.1.2.2-2-te-not-trailers",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":path", "")], id="8.1.2.3-1-empty-path"
    ),
    pytest.param([(":scheme", "http"), (":path", "/")], id="8.1.2.3-2-no-method"),
    pytest.param([(":method", "GET"), (":path", "/")], id="8.1.2.3-3-no-scheme"),
    pytest.param([(":method", "GET"), (":scheme", "http")], id="8.1.2.3-4-no-path"),
    pytest.param(
        [(":method", "GET"), (":method", "GET"), (":scheme", "http"), (":path", "/")],
        id="8.1.2.3-5-two-methods",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":scheme", "http"), (":path", "/")],
        id="8.1.2.3-6-two-schemes",
    ),
    pytest.param(
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":path", "/")],
        id="8.1.2.3-7-two-paths",
    ),
]


@pytest.mark.parametrize("fields", MALFORMED)
def test_8_1_2_malformed_request_heads(peer: Peer, fields: list[tuple[str, str]]) -> None:
    block = peer.encoder.encode(
        [*fields, (":authority", "x")] if fields[-1][0] != ":authority" else fields
    )
    peer.send(HeadersFrame(1, block, flags={"END_HEADERS", "END_STREAM"}))
    peer.stream_error(1, PROTOCOL_ERROR)


def test_8_1_2_1_3_pseudo_header_in_trailers(peer: Peer) -> None:
    peer.send(peer.request(1, end_stream=False), DataFrame(1, b"x"))
    trailer = peer.encoder.encode([(":method", "POST")])
    peer.send(HeadersFrame(1, trailer, flags={"END_HEADERS", "END_STREAM"}))
    peer.stream_error(1, PROTOCOL_ERROR)


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([b"abc"], id="1-less-than-content-length"),
        pytest.param([b"abcd", b"efg"], id="2-more"),
    ],
)
def test_8_1_2_6_content_length_mismatch(peer: Peer, chunks: list[bytes]) -> None:
    block = peer.block(("content-length", "5"), method="POST")
    peer.send(HeadersFrame(1, block, flags={"END_HEADERS"}))
    peer.send(
        *(DataFrame(1, c) for c in chunks[:-1]), DataFrame(1, chunks[-1], flags={"END_STREAM"})
    )
    peer.stream_error(1, PROTOCOL_ERROR)


def test_8_2_1_push_promise_from_a_client(peer: Peer) -> None:
    peer.send(peer.request(1, path="/slow"))
    peer.send_raw(raw_frame(PUSH_PROMISE, END_HEADERS, 1, b"\x00\x00\x00\x02" + peer.block()))
    peer.connection_error(PROTOCOL_ERROR)


# -- HPACK ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(bytes([0x82, 0x86, 0x84, 0xBE]), id="2.3.3-1-index-past-the-tables"),
        pytest.param(
            bytes([0x82, 0x86, 0x84, 0x7F, 0x00, 0x01, 0x61]),
            id="2.3.3-2-name-index-past-the-tables",
        ),
        pytest.param(
            bytes([0x3F, 0xE2, 0x1F, 0x82, 0x86, 0x84]), id="4.2-1-size-update-above-the-setting"
        ),
        pytest.param(
            bytes([0x82, 0x86, 0x84, 0x40, 0x81, 0xFF, 0x81, 0x1F]), id="5.2-1-huffman-with-eos"
        ),
        pytest.param(
            bytes([0x82, 0x86, 0x84, 0x40, 0x82, 0x1F, 0xFF, 0x81, 0x1F]),
            id="5.2-2-padding-over-7-bits",
        ),
        pytest.param(
            bytes([0x82, 0x86, 0x84, 0x40, 0x81, 0x1C, 0x81, 0x1F]), id="5.2-3-padding-not-eos"
        ),
        pytest.param(bytes([0x82, 0x86, 0x84, 0x80]), id="6.1-1-index-0"),
        pytest.param(
            bytes([0x82, 0x86, 0x84, 0x3F, 0xE1, 0x1F]), id="6.3-1-size-update-after-a-field"
        ),
    ],
)
def test_hpack_decoding_errors(peer: Peer, block: bytes) -> None:
    peer.send_raw(
        raw_frame(
            HEADERS, END_STREAM | END_HEADERS, 1, block + peer.encoder.encode([(":authority", "x")])
        )
    )
    peer.connection_error(COMPRESSION_ERROR)


def test_preface_constant_is_the_rfc_one() -> None:
    assert PREFACE == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
