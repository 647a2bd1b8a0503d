"""HTTP/2 client conformance, h2specd style: frame-level cases against a byte-exact peer.

This is our own re-implementation of the *client* cases of h2spec (``h2spec``'s ``h2specd``
mode, RFC 9113 section numbers), run against ``hyperhttp.Client(http2="prior-knowledge")``
over h2c on 127.0.0.1. The peer (``tests/h2_raw_peer.py``) writes exact bytes and parses what
the client sends, so every case observes public behaviour only: what the request returns or
raises, and which frames the client puts on the wire. The same cases must pass whatever
implements the client's HTTP/2 codec.

Where h2spec accepts "any GOAWAY or a closed connection" we are stricter and assert the
error code RFC 9113 requires. A stream error may be answered with RST_STREAM or, as RFC 9113
§5.4.1 allows, a connection error with the same code; ``expect_stream_error`` accepts both.
Every connection error must fail the pending request with a ``RemoteProtocolError`` that has
``.request`` set, send GOAWAY with the right code and close the connection.

The rest of the client suite (message exchange, section 8.1, and the reliability-checklist
rows H2-01..H2-13) is in ``test_h2_client_messages.py`` and ``test_h2_client_hostile_peers.py``.

h2specd section (57 client cases) -> tests here
  3.5    test_client_sends_preface_and_settings_first_and_acks_ours (+ beyond h2spec:
         test_server_preface_not_starting_with_settings_fails_the_request[*])
  4.1    test_unknown_frame_types_are_ignored, test_undefined_flags_are_ignored,
         test_the_reserved_bit_is_ignored
  4.2    test_data_frame_of_max_frame_size_is_accepted,
         test_data_frame_above_max_frame_size_is_frame_size_error,
         test_headers_frame_above_max_frame_size_is_a_connection_error
  4.3    test_invalid_header_block_is_a_compression_error
  5.1    idle stream: test_frames_on_an_idle_stream_are_a_protocol_error[*] (4 cases)
         after RST_STREAM: test_frames_after_the_peer_reset_the_stream[*] (3 cases)
         after END_STREAM: test_frames_after_end_stream_are_a_stream_closed_error[*] (3)
  5.1.1  test_headers_on_a_stream_the_client_never_opened
  5.4.1  test_connection_error_sends_goaway_then_closes (both cases)
  5.5    test_unknown_frame_types_are_ignored
  6.1    test_data_on_stream_zero_is_a_protocol_error,
         test_frames_after_end_stream_are_a_stream_closed_error[data],
         test_data_with_padding_longer_than_payload
  6.2    test_priority_inside_a_header_block_is_a_protocol_error,
         test_headers_on_stream_zero_is_a_protocol_error,
         test_headers_with_padding_longer_than_payload
  6.3    test_priority_on_stream_zero_is_a_protocol_error,
         test_priority_of_wrong_length_is_a_frame_size_error
  6.4    test_rst_stream_on_stream_zero_is_a_protocol_error,
         test_frames_on_an_idle_stream_are_a_protocol_error[rst],
         test_rst_stream_of_wrong_length_is_a_frame_size_error
  6.5    test_settings_ack_with_payload_is_a_frame_size_error,
         test_settings_on_a_stream_is_a_protocol_error,
         test_settings_of_bad_length_is_a_frame_size_error
  6.5.2  test_invalid_settings_values[*] (h2spec's 3 + ENABLE_PUSH from a server),
         test_unknown_settings_are_ignored
  6.5.3  test_settings_are_acknowledged
  6.7    test_ping_is_answered_with_the_same_payload, test_ping_ack_is_not_answered,
         test_ping_on_a_stream_is_a_protocol_error,
         test_ping_of_wrong_length_is_a_frame_size_error
  6.8    test_goaway_on_a_stream_is_a_protocol_error
  6.9    test_zero_window_update_on_the_connection, test_zero_window_update_on_a_stream,
         test_window_update_of_wrong_length_is_a_frame_size_error
  6.9.1  test_connection_window_overflow_is_a_flow_control_error,
         test_stream_window_overflow_is_a_flow_control_error
  6.10   test_headers_and_continuations_are_one_header_block,
         test_other_frame_inside_a_header_block_is_a_protocol_error,
         test_continuation_on_stream_zero_is_a_protocol_error,
         test_continuation_after_end_headers[headers|continuation],
         test_continuation_after_data_is_a_protocol_error
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import pytest
from hyperframe.frame import GoAwayFrame, PingFrame, SettingsFrame

from .h2_raw_peer import (
    ACK,
    CANCEL,
    COMPRESSION_ERROR,
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    GOAWAY,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    PADDED,
    PING,
    PRIORITY,
    PROTOCOL_ERROR,
    RST_STREAM,
    SETTINGS,
    STATUS_200,
    STREAM_CLOSED,
    WINDOW_UPDATE,
    RawPeer,
    RawServerFactory,
    expect_failure,
    h2_client,
    raw_frame,
    settings_payload,
    start_request,
)

PRIORITY_PAYLOAD = struct.pack(">LB", 0, 255)  # depends on stream 0, weight 256


async def connection_error(
    raw_h2: RawServerFactory,
    bad: Callable[[RawPeer, int], bytes],
    *codes: int,
    within: float = 5.0,
) -> None:
    """Open a request, write ``bad(peer, stream_id)``: the request fails typed and the client
    sends GOAWAY with one of ``codes`` and closes the connection."""
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send(bad(peer, request.stream_id))
        await expect_failure(pending, within=within)
        await peer.expect_goaway(*codes)


# -- 3.5 connection preface -------------------------------------------------------------------


async def test_client_sends_preface_and_settings_first_and_acks_ours(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2(settings={MAX_CONCURRENT_STREAMS: 10})
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, "/x")
        peer.respond(request.stream_id, body=b"hello")
        response = await asyncio.wait_for(pending, 5)
        assert response.http_version == "HTTP/2" and response.content == b"hello"
        await peer.settings_acked()
    # the preface and "SETTINGS first" are checked by the peer (violations)
    first = peer.frames[0]
    assert isinstance(first, SettingsFrame) and "ACK" not in first.flags
    assert peer.client_settings.get(0x2) == 0  # ENABLE_PUSH off: we refuse pushes


@pytest.mark.parametrize(
    "preface",
    [raw_frame(PING, 0, 0, b"12345678"), b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"],
    ids=["ping-first", "http11-answer"],
)
async def test_server_preface_not_starting_with_settings_fails_the_request(
    raw_h2: RawServerFactory, preface: bytes
) -> None:
    # RFC 9113 §3.4: the server preface is a SETTINGS frame; anything else is a connection
    # error of type PROTOCOL_ERROR.
    server = await raw_h2(preface=preface)
    async with h2_client() as c:
        pending = asyncio.ensure_future(c.get(server.url))
        peer = await server.accept()
        await expect_failure(pending, within=0.5)
        await peer.wait_closed()
        goaways = [f for f in peer.frames if f.type == GOAWAY]
        assert all(f.error_code == PROTOCOL_ERROR for f in goaways)  # type: ignore[attr-defined]


# -- 4.1 frame format, 5.5 extensions -----------------------------------------------------------


async def test_unknown_frame_types_are_ignored(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send(raw_frame(0x16, 0, 0, b"\x00" * 8))  # unknown type on the connection
        peer.send(raw_frame(0xFF, 0xFF, request.stream_id, b"whatever"))  # and on the stream
        await peer.ping_ack(b"\x00" * 8)
        peer.respond(request.stream_id, body=b"ok")
        assert (await asyncio.wait_for(pending, 5)).content == b"ok"


async def test_undefined_flags_are_ignored(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send(raw_frame(PING, 0xFE, 0, b"flagged!"))  # every flag but ACK
        await peer.wait_for(
            lambda f: isinstance(f, PingFrame) and "ACK" in f.flags, what="PING ACK"
        )
        block = peer.encode([*STATUS_200, (b"content-length", b"2")])
        peer.send(
            raw_frame(HEADERS, END_HEADERS | 0x2 | 0x10 | 0x40 | 0x80, request.stream_id, block)
        )
        peer.send(raw_frame(DATA, END_STREAM | 0x2 | 0x4 | 0x10, request.stream_id, b"ok"))
        assert (await asyncio.wait_for(pending, 5)).content == b"ok"


async def test_the_reserved_bit_is_ignored(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send(raw_frame(PING, 0, 0x8000_0000, b"reserved"))  # R bit set, stream 0
        await peer.wait_for(
            lambda f: isinstance(f, PingFrame) and f.opaque_data == b"reserved",
            what="PING ACK",
        )
        block = peer.encode(STATUS_200)
        peer.send(raw_frame(HEADERS, END_HEADERS, request.stream_id | 0x8000_0000, block))
        peer.send(raw_frame(DATA, END_STREAM, request.stream_id | 0x8000_0000, b"ok"))
        assert (await asyncio.wait_for(pending, 5)).content == b"ok"


# -- 4.2 frame size -----------------------------------------------------------------------------


async def test_data_frame_of_max_frame_size_is_accepted(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    body = bytes(range(256)) * 64  # 16384 bytes: one frame of exactly 2^14
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, STATUS_200)
        peer.send_data(request.stream_id, body, end_stream=True)
        assert (await asyncio.wait_for(pending, 5)).content == body
        await peer.ping_ack(b"still ok")


async def test_data_frame_above_max_frame_size_is_frame_size_error(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, STATUS_200)
        peer.send_data(request.stream_id, b"x" * 16385, end_stream=True)
        await expect_failure(pending)
        await peer.expect_stream_error(request.stream_id, FRAME_SIZE_ERROR)


async def test_headers_frame_above_max_frame_size_is_a_connection_error(
    raw_h2: RawServerFactory,
) -> None:
    def bad(peer: RawPeer, stream_id: int) -> bytes:
        fields = STATUS_200 + [(b"x-dummy%d" % i, b"d" * 4000) for i in range(5)]
        block = peer.encode(fields, huffman=False)  # 20 KB > 16384
        return raw_frame(HEADERS, END_HEADERS | END_STREAM, stream_id, block)

    await connection_error(raw_h2, bad, FRAME_SIZE_ERROR)


async def test_oversized_frame_header_fails_before_its_payload(raw_h2: RawServerFactory) -> None:
    # H2-13: only the 9-byte header of a 16 MiB DATA frame; the payload never comes
    def bad(peer: RawPeer, sid: int) -> bytes:
        head = peer.headers_frames(sid, peer.encode(STATUS_200))
        return head + b"\xff\xff\xff" + struct.pack(">BBL", DATA, 0, sid)

    await connection_error(raw_h2, bad, FRAME_SIZE_ERROR, within=0.5)


# -- 4.3 header compression ---------------------------------------------------------------------


async def test_invalid_header_block_is_a_compression_error(raw_h2: RawServerFactory) -> None:
    # 0x40: "literal with incremental indexing, new name" and nothing after it
    await connection_error(
        raw_h2,
        lambda peer, sid: raw_frame(HEADERS, END_HEADERS | END_STREAM, sid, b"\x40"),
        COMPRESSION_ERROR,
    )


# -- 5.1 stream states --------------------------------------------------------------------------


IDLE_FRAMES = {
    "data": lambda peer: raw_frame(DATA, END_STREAM, 2, b"test"),
    "rst": lambda peer: raw_frame(RST_STREAM, 0, 2, struct.pack(">L", CANCEL)),
    "window-update": lambda peer: raw_frame(WINDOW_UPDATE, 0, 2, struct.pack(">L", 100)),
    "continuation": lambda peer: raw_frame(CONTINUATION, END_HEADERS, 2, peer.encode(STATUS_200)),
}


@pytest.mark.parametrize(
    "kind",
    [
        "data",
        "rst",
        "window-update",
        "continuation",
    ],
)
async def test_frames_on_an_idle_stream_are_a_protocol_error(
    raw_h2: RawServerFactory, kind: str
) -> None:
    # Stream 2 was never opened (no PUSH_PROMISE): only HEADERS/PRIORITY could be valid there.
    await connection_error(
        raw_h2, lambda peer, sid: IDLE_FRAMES[kind](peer), PROTOCOL_ERROR, within=0.5
    )


AFTER_CLOSE = {
    "data": lambda peer, sid: raw_frame(DATA, END_STREAM, sid, b"test"),
    "headers": lambda peer, sid: raw_frame(
        HEADERS, END_HEADERS | END_STREAM, sid, peer.encode(STATUS_200)
    ),
    "continuation": lambda peer, sid: raw_frame(
        CONTINUATION, END_HEADERS, sid, peer.encode([(b"x-dummy0", b"d")])
    ),
}


@pytest.mark.parametrize("kind", list(AFTER_CLOSE))
async def test_frames_after_the_peer_reset_the_stream(raw_h2: RawServerFactory, kind: str) -> None:
    # RFC 9113 §5.1 "closed": frames after RST_STREAM are a stream error STREAM_CLOSED (a
    # CONTINUATION without a header block may also be a PROTOCOL_ERROR connection error).
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, STATUS_200)
        peer.rst_stream(request.stream_id, CANCEL)
        exc = await expect_failure(pending)
        assert "CANCEL" in str(exc)
        peer.send(AFTER_CLOSE[kind](peer, request.stream_id))
        codes = (STREAM_CLOSED, PROTOCOL_ERROR) if kind == "continuation" else (STREAM_CLOSED,)
        await peer.expect_stream_error(request.stream_id, *codes)


@pytest.mark.parametrize("kind", list(AFTER_CLOSE))
async def test_frames_after_end_stream_are_a_stream_closed_error(
    raw_h2: RawServerFactory, kind: str
) -> None:
    # RFC 9113 §5.1 "closed": frames after END_STREAM are an error STREAM_CLOSED; RFC 7540
    # (and h2spec) made it a connection error, RFC 9113 lets a stream error do. PROTOCOL_ERROR
    # also fits a CONTINUATION that continues no header block. Other requests keep working.
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.respond(request.stream_id, body=b"done")
        assert (await asyncio.wait_for(pending, 5)).content == b"done"
        peer.send(AFTER_CLOSE[kind](peer, request.stream_id))
        codes = (STREAM_CLOSED, PROTOCOL_ERROR) if kind == "continuation" else (STREAM_CLOSED,)
        await peer.expect_stream_error(request.stream_id, *codes)
        if peer.received(GoAwayFrame):
            await peer.wait_closed()
            pending, peer, request = await start_request(server, c, "/next")
        else:
            pending, peer, request = await start_request(server, c, "/next", peer=peer)
        peer.respond(request.stream_id, body=b"fresh")
        assert (await asyncio.wait_for(pending, 5)).content == b"fresh"


async def test_headers_on_a_stream_the_client_never_opened(raw_h2: RawServerFactory) -> None:
    # 5.1.1: stream 101 is odd (client-initiated) but the client opened only stream 1
    await connection_error(
        raw_h2,
        lambda peer, sid: raw_frame(
            HEADERS, END_HEADERS | END_STREAM, 101, peer.encode(STATUS_200)
        ),
        PROTOCOL_ERROR,
    )


# -- 5.4.1 connection error handling ------------------------------------------------------------


async def test_connection_error_sends_goaway_then_closes(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, _ = await start_request(server, c)
        peer.send(raw_frame(PING, 0, 3, b"\x00" * 8))  # PING on a stream
        await expect_failure(pending)
        goaway = await peer.expect_goaway(PROTOCOL_ERROR)
        # the last stream the client processed from us: none (it opened stream 1 itself)
        assert goaway.last_stream_id == 0
        assert peer.frames[-1] is goaway  # nothing after GOAWAY


# -- 6.1 DATA -----------------------------------------------------------------------------------


async def test_data_on_stream_zero_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(DATA, END_STREAM, 0, b"test"), PROTOCOL_ERROR
    )


async def test_data_with_padding_longer_than_payload(raw_h2: RawServerFactory) -> None:
    # pad length 6 with 4 octets left: RFC 9113 §6.1 connection error PROTOCOL_ERROR
    def bad(peer: RawPeer, sid: int) -> bytes:
        head = peer.headers_frames(sid, peer.encode(STATUS_200))
        return head + raw_frame(DATA, END_STREAM | PADDED, sid, b"\x06Test")

    await connection_error(raw_h2, bad, PROTOCOL_ERROR)


# -- 6.2 HEADERS --------------------------------------------------------------------------------


async def test_priority_inside_a_header_block_is_a_protocol_error(
    raw_h2: RawServerFactory,
) -> None:
    def bad(peer: RawPeer, sid: int) -> bytes:
        return (
            raw_frame(HEADERS, 0, sid, peer.encode(STATUS_200))
            + raw_frame(PRIORITY, 0, sid, PRIORITY_PAYLOAD)
            + raw_frame(CONTINUATION, END_HEADERS, sid, peer.encode([(b"x-dummy0", b"d")]))
        )

    await connection_error(raw_h2, bad, PROTOCOL_ERROR)


async def test_headers_on_stream_zero_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2,
        lambda peer, sid: raw_frame(HEADERS, END_HEADERS | END_STREAM, 0, peer.encode(STATUS_200)),
        PROTOCOL_ERROR,
    )


async def test_headers_with_padding_longer_than_payload(raw_h2: RawServerFactory) -> None:
    def bad(peer: RawPeer, sid: int) -> bytes:
        payload = b"\x11" + peer.encode(STATUS_200)  # pad length 17 > what is left
        return raw_frame(HEADERS, END_HEADERS | END_STREAM | PADDED, sid, payload)

    await connection_error(raw_h2, bad, PROTOCOL_ERROR)


# -- 6.3 PRIORITY -------------------------------------------------------------------------------


async def test_priority_on_stream_zero_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(PRIORITY, 0, 0, PRIORITY_PAYLOAD), PROTOCOL_ERROR
    )


async def test_priority_of_wrong_length_is_a_frame_size_error(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send(raw_frame(PRIORITY, 0, request.stream_id, b"\x80\x00\x00\x01"))
        await peer.expect_stream_error(request.stream_id, FRAME_SIZE_ERROR)
        await expect_failure(pending)


# -- 6.4 RST_STREAM -----------------------------------------------------------------------------


async def test_rst_stream_on_stream_zero_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2,
        lambda peer, sid: raw_frame(RST_STREAM, 0, 0, struct.pack(">L", CANCEL)),
        PROTOCOL_ERROR,
    )


async def test_rst_stream_of_wrong_length_is_a_frame_size_error(
    raw_h2: RawServerFactory,
) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(RST_STREAM, 0, sid, b"\x00\x00\x00"), FRAME_SIZE_ERROR
    )


# -- 6.5 SETTINGS -------------------------------------------------------------------------------


async def test_settings_ack_with_payload_is_a_frame_size_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(SETTINGS, ACK, 0, b"\x00"), FRAME_SIZE_ERROR
    )


async def test_settings_on_a_stream_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    payload = settings_payload({MAX_CONCURRENT_STREAMS: 100})
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(SETTINGS, 0, 1, payload), PROTOCOL_ERROR
    )


async def test_settings_of_bad_length_is_a_frame_size_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(SETTINGS, 0, 0, b"\x00\x03\x00"), FRAME_SIZE_ERROR
    )


@pytest.mark.parametrize(
    "setting,value,code",
    [
        (INITIAL_WINDOW_SIZE, 2**31, FLOW_CONTROL_ERROR),
        (MAX_FRAME_SIZE, 16_383, PROTOCOL_ERROR),
        (MAX_FRAME_SIZE, 2**24, PROTOCOL_ERROR),
        (0x2, 1, PROTOCOL_ERROR),  # ENABLE_PUSH=1 from a server (RFC 9113 §6.5.2)
        (0x2, 2, PROTOCOL_ERROR),
    ],
    ids=[
        "initial-window-too-big",
        "frame-size-too-small",
        "frame-size-too-big",
        "server-enable-push-1",
        "enable-push-2",
    ],
)
async def test_invalid_settings_values(
    raw_h2: RawServerFactory, setting: int, value: int, code: int
) -> None:
    await connection_error(
        raw_h2,
        lambda peer, sid: raw_frame(SETTINGS, 0, 0, settings_payload({setting: value})),
        code,
    )


async def test_unknown_settings_are_ignored(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_settings({0xFF: 1, 0x10: 7, 0x8: 1})  # 0x8: ENABLE_CONNECT_PROTOCOL
        await peer.settings_acked()
        await peer.ping_ack(b"\x01" * 8)
        peer.respond(request.stream_id, body=b"ok")
        assert (await asyncio.wait_for(pending, 5)).content == b"ok"


async def test_settings_are_acknowledged(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        await peer.settings_acked()  # the initial SETTINGS
        for limit in (50, 60, 70):
            peer.send_settings({MAX_CONCURRENT_STREAMS: limit})
        await peer.settings_acked()
        acks = [f for f in peer.received(SettingsFrame) if "ACK" in f.flags]
        assert len(acks) == 4
        peer.respond(request.stream_id, body=b"ok")
        assert (await asyncio.wait_for(pending, 5)).content == b"ok"


# -- 6.7 PING -----------------------------------------------------------------------------------


async def test_ping_is_answered_with_the_same_payload(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        for payload in (b"\x00" * 8, b"\xff" * 8, b"h2spec!!"):
            await peer.ping_ack(payload)
        peer.respond(request.stream_id, body=b"ok")
        assert (await asyncio.wait_for(pending, 5)).content == b"ok"


async def test_ping_ack_is_not_answered(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.ping(b"unexpect", ack=True)
        await peer.ping_ack(b"expected")
        pings = peer.received(PingFrame)
        assert [f.opaque_data for f in pings] == [b"expected"]  # type: ignore[attr-defined]
        peer.respond(request.stream_id, body=b"ok")
        assert (await asyncio.wait_for(pending, 5)).content == b"ok"


async def test_ping_on_a_stream_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(PING, 0, 1, b"\x00" * 8), PROTOCOL_ERROR
    )


async def test_ping_of_wrong_length_is_a_frame_size_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(PING, 0, 0, b"\x00" * 6), FRAME_SIZE_ERROR
    )


# -- 6.8 GOAWAY ---------------------------------------------------------------------------------


async def test_goaway_on_a_stream_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(GOAWAY, 0, 1, b"\x00" * 8), PROTOCOL_ERROR
    )


# -- 6.9 WINDOW_UPDATE --------------------------------------------------------------------------


async def test_zero_window_update_on_the_connection(raw_h2: RawServerFactory) -> None:
    await connection_error(
        raw_h2,
        lambda peer, sid: raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">L", 0)),
        PROTOCOL_ERROR,
    )


async def test_zero_window_update_on_a_stream(raw_h2: RawServerFactory) -> None:
    # RFC 9113 §6.9: a stream error PROTOCOL_ERROR for a stream's flow-control window
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, STATUS_200)
        peer.send(raw_frame(WINDOW_UPDATE, 0, request.stream_id, struct.pack(">L", 0)))
        await peer.expect_stream_error(request.stream_id, PROTOCOL_ERROR)
        await expect_failure(pending)


async def test_window_update_of_wrong_length_is_a_frame_size_error(
    raw_h2: RawServerFactory,
) -> None:
    await connection_error(
        raw_h2, lambda peer, sid: raw_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"), FRAME_SIZE_ERROR
    )


async def test_connection_window_overflow_is_a_flow_control_error(
    raw_h2: RawServerFactory,
) -> None:
    def bad(peer: RawPeer, sid: int) -> bytes:
        frame = raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">L", 2**31 - 1))
        return frame + frame

    await connection_error(raw_h2, bad, FLOW_CONTROL_ERROR)


async def test_stream_window_overflow_is_a_flow_control_error(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, STATUS_200)
        frame = raw_frame(WINDOW_UPDATE, 0, request.stream_id, struct.pack(">L", 2**31 - 1))
        peer.send(frame + frame)
        await peer.expect_stream_error(request.stream_id, FLOW_CONTROL_ERROR)
        await expect_failure(pending)


# -- 6.10 CONTINUATION --------------------------------------------------------------------------


async def test_headers_and_continuations_are_one_header_block(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        fields = STATUS_200 + [(b"x-dummy%d" % i, b"v%d" % i * 50) for i in range(3)]
        block = peer.encode(fields)
        third = len(block) // 3
        sid = request.stream_id
        peer.send(
            raw_frame(HEADERS, END_STREAM, sid, block[:third])
            + raw_frame(CONTINUATION, 0, sid, block[third : 2 * third])
            + raw_frame(CONTINUATION, END_HEADERS, sid, block[2 * third :])
        )
        await peer.ping_ack(b"\x02" * 8)
        response = await asyncio.wait_for(pending, 5)
        assert response.status_code == 200 and response.content == b""
        assert [response.headers[f"x-dummy{i}"] for i in range(3)] == [
            f"v{i}" * 50 for i in range(3)
        ]


async def test_other_frame_inside_a_header_block_is_a_protocol_error(
    raw_h2: RawServerFactory,
) -> None:
    def bad(peer: RawPeer, sid: int) -> bytes:
        return (
            raw_frame(HEADERS, 0, sid, peer.encode(STATUS_200))
            + raw_frame(CONTINUATION, 0, sid, peer.encode([(b"x-dummy0", b"d")]))
            + raw_frame(DATA, END_STREAM, sid, b"test")
        )

    await connection_error(raw_h2, bad, PROTOCOL_ERROR)


async def test_continuation_on_stream_zero_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    def bad(peer: RawPeer, sid: int) -> bytes:
        return raw_frame(HEADERS, END_STREAM, sid, peer.encode(STATUS_200)) + raw_frame(
            CONTINUATION, END_HEADERS, 0, peer.encode([(b"x-dummy0", b"d")])
        )

    await connection_error(raw_h2, bad, PROTOCOL_ERROR)


@pytest.mark.parametrize("after", ["headers", "continuation"])
async def test_continuation_after_end_headers(raw_h2: RawServerFactory, after: str) -> None:
    # a CONTINUATION that continues no header block: connection error PROTOCOL_ERROR
    def bad(peer: RawPeer, sid: int) -> bytes:
        extra = raw_frame(CONTINUATION, END_HEADERS, sid, peer.encode([(b"x-dummy1", b"d")]))
        if after == "headers":
            head = raw_frame(HEADERS, END_HEADERS, sid, peer.encode(STATUS_200))
        else:
            head = raw_frame(HEADERS, 0, sid, peer.encode(STATUS_200)) + raw_frame(
                CONTINUATION, END_HEADERS, sid, peer.encode([(b"x-dummy0", b"d")])
            )
        return head + extra

    await connection_error(raw_h2, bad, PROTOCOL_ERROR)


async def test_continuation_after_data_is_a_protocol_error(raw_h2: RawServerFactory) -> None:
    def bad(peer: RawPeer, sid: int) -> bytes:
        return (
            raw_frame(HEADERS, END_HEADERS, sid, peer.encode(STATUS_200))
            + raw_frame(DATA, 0, sid, b"test")
            + raw_frame(CONTINUATION, END_HEADERS, sid, peer.encode([(b"x-dummy0", b"d")]))
        )

    await connection_error(raw_h2, bad, PROTOCOL_ERROR)
