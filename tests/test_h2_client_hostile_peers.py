"""HTTP/2 client conformance, part 3: hostile and broken peers.

Companion of ``test_h2_client_conformance.py`` (the h2specd cases) and
``test_h2_client_messages.py`` (message exchange); same byte-exact peer, same rule: only
public behaviour is observed (what ``hyperhttp.Client`` returns or raises, which frames it
writes).

* Reliability checklist rows, client side: H2-01 flow control, H2-03 RST_STREAM, H2-04
  MAX_CONCURRENT_STREAMS, H2-06 CONTINUATION floods, H2-07 HPACK bombs and table sizes,
  H2-08 SETTINGS abuse, H2-09 PING / empty-frame floods and empty header names, H2-10
  field validity, H2-11 content-length, H2-12 PUSH_PROMISE, H2-13 frame-level garbage (the
  rest of H2-13 is in part 1).

A malformed response (RFC 9113 §8.1.1) must fail that request with a typed error and be
answered with RST_STREAM(PROTOCOL_ERROR) while other streams go on; answering it with a
connection error is allowed by the RFC but not what we want, so the strict stream-isolation
tests require RST_STREAM on that stream alone.

Checklist row -> tests (here unless marked part 2; part 1 covers the h2spec-shaped cases
named in brackets)
  H2-01  test_upload_waits_for_stream_then_connection_window,
         test_one_byte_window_updates_still_complete_the_upload,
         test_initial_window_size_lowered_then_raised_mid_upload,
         test_data_frames_never_exceed_the_peer_max_frame_size[*],
         test_data_beyond_the_client_receive_window_is_a_flow_control_error
         [6.9 zero increments, 6.9.1 window overflows]
  H2-03  test_rst_stream_fails_only_its_own_request[*],
         test_refused_stream_is_retried_on_a_new_stream,
         test_rst_stream_on_a_finished_stream_is_ignored [5.1 frames after RST_STREAM]
  H2-04  test_max_concurrent_streams_one_is_never_exceeded,
         test_max_concurrent_streams_lowered_mid_connection,
         test_max_concurrent_streams_zero_waits_for_a_slot
  H2-06  test_continuation_flood_is_cut_off[full-frames|empty-frames]
         [6.2/6.10 frames interleaved in a header block, 5.1 CONTINUATION on closed streams]
  H2-07  test_hpack_bomb_is_rejected,
         test_table_size_update_above_our_setting_is_a_compression_error,
         test_hpack_dynamic_table_reused_across_responses_and_resized (part 2)
  H2-08  test_settings_flood_is_acknowledged_or_refused,
         test_settings_frame_with_thousands_of_unknown_ids_is_accepted,
         test_server_may_send_enable_push_zero [6.5.2 invalid values, ENABLE_PUSH=1/2]
  H2-09  test_ping_flood_is_answered_in_order,
         test_ping_flood_from_a_peer_that_does_not_read_is_bounded,
         test_empty_data_frame_flood_does_not_hang, test_priority_churn_is_ignored (part 2),
         test_malformed_response_head_fails_the_request[empty-name]
  H2-10  test_malformed_response_head_fails_the_request[*],
         test_malformed_message_fails_the_request[pseudo-header-in-trailers|trailers-*],
         test_malformed_response_is_a_stream_error_and_other_streams_go_on[*],
         test_request_head_is_pseudo_headers_first_lowercase_without_connection_fields (part 2),
         test_te_trailers_is_sent (part 2),
         test_request_header_value_with_cr_lf_nul_is_refused_* (part 2)
  H2-11  test_malformed_message_fails_the_request[too-much-data|too-little-data],
         test_malformed_response_head_fails_the_request[*content-length*],
         test_no_body_responses_with_content_length[*] (part 2)
  H2-12  test_push_promise_after_enable_push_zero_is_a_protocol_error
  H2-13  test_headers_on_an_even_stream_without_push_is_a_protocol_error,
         test_malformed_message_fails_the_request[data-before-headers]
         [4.2 oversized frames, 6.1/6.2 bad padding, 3.5 preface, 5.1.1 stream ids]
"""

from __future__ import annotations

import asyncio
import struct

import pytest
from hyperframe.frame import GoAwayFrame, PingFrame, SettingsFrame

from hyperhttp import Client, HyperHTTPError, Limits, Timeout

from .h2_raw_peer import (
    CANCEL,
    COMPRESSION_ERROR,
    CONTINUATION,
    END_HEADERS,
    END_STREAM,
    ENHANCE_YOUR_CALM,
    FLOW_CONTROL_ERROR,
    HEADER_TABLE_SIZE,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    INTERNAL_ERROR,
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    PING,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    REFUSED_STREAM,
    SETTINGS,
    STATUS_200,
    Fields,
    RawH2Server,
    RawPeer,
    RawServerFactory,
    answered,
    expect_failure,
    h2_client,
    raw_frame,
    settings_payload,
    start_request,
)

# -- H2-01 flow control -----------------------------------------------------------------------


async def test_upload_waits_for_stream_then_connection_window(raw_h2: RawServerFactory) -> None:
    # Stream window 16384, connection window 65535, no automatic credit: the client must stop
    # at each limit exactly and go on when (and only as far as) WINDOW_UPDATE allows.
    server = await raw_h2(settings={INITIAL_WINDOW_SIZE: 16_384}, auto_credit=False)
    body = b"u" * 100_000
    async with h2_client() as c:
        pending = asyncio.ensure_future(c.post(server.url, content=body))
        peer = await server.accept()
        request = await peer.next_request()
        sid = request.stream_id

        async def settled(total: int) -> None:
            for _ in range(200):
                if len(request.body) >= total:
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)  # nothing more may come
            assert len(request.body) == total

        await settled(16_384)  # the stream window
        peer.window_update(sid, 200_000)
        await settled(65_535)  # now the connection window
        peer.window_update(0, 10_000)
        await settled(75_535)
        peer.window_update(0, 100_000)
        await asyncio.wait_for(request.ended.wait(), 5)
        assert bytes(request.body) == body
        peer.respond(sid, body=b"done")
        assert (await answered(pending)).content == b"done"  # type: ignore[attr-defined]


async def test_one_byte_window_updates_still_complete_the_upload(raw_h2: RawServerFactory) -> None:
    # "data dribble": the peer grants one byte at a time; every DATA frame is then 1 byte
    server = await raw_h2(settings={INITIAL_WINDOW_SIZE: 1}, auto_credit=False)
    body = b"dribble-" * 8
    async with h2_client(timeout=Timeout(5.0, write=2.0)) as c:
        pending = asyncio.ensure_future(c.post(server.url, content=body))
        peer = await server.accept()
        request = await peer.next_request()
        seen = 0
        while not request.ended.is_set():
            await asyncio.wait_for(peer._changed.wait(), 5)
            peer._changed.clear()
            while seen < len(request.data_frames):
                if request.data_frames[seen]:
                    peer.window_update(request.stream_id, 1)
                seen += 1
        assert bytes(request.body) == body
        assert max(request.data_frames) == 1
        peer.respond(request.stream_id, body=b"ok")
        await answered(pending)


async def test_initial_window_size_lowered_then_raised_mid_upload(
    raw_h2: RawServerFactory,
) -> None:
    # RFC 9113 §6.9.2: a SETTINGS change adjusts open streams' windows, possibly below zero.
    # The peer accounts every DATA frame against the settings the client acknowledged.
    server = await raw_h2(settings={INITIAL_WINDOW_SIZE: 30_000}, auto_credit=False)
    body = b"w" * 120_000
    async with h2_client(timeout=Timeout(5.0, write=3.0)) as c:
        pending = asyncio.ensure_future(c.post(server.url, content=body))
        peer = await server.accept()
        request = await peer.next_request()
        peer.window_update(0, 1_000_000)
        for _ in range(200):
            if len(request.body) >= 30_000:
                break
            await asyncio.sleep(0.005)
        assert len(request.body) == 30_000
        peer.send_settings({INITIAL_WINDOW_SIZE: 10_000})  # window now -20000
        await peer.settings_acked()
        peer.window_update(request.stream_id, 25_000)  # +5000: 5000 more bytes may go
        await asyncio.sleep(0.1)
        assert len(request.body) == 35_000
        peer.send_settings({INITIAL_WINDOW_SIZE: 200_000})  # +190000: the rest fits
        await asyncio.wait_for(request.ended.wait(), 5)
        assert bytes(request.body) == body
        peer.respond(request.stream_id, body=b"ok")
        await answered(pending)
    # any frame beyond a window would be in peer.violations (checked by the fixture)


@pytest.mark.parametrize("frame_size", [16_384, 65_536, 2**24 - 1])
async def test_data_frames_never_exceed_the_peer_max_frame_size(
    raw_h2: RawServerFactory, frame_size: int
) -> None:
    server = await raw_h2(
        settings={MAX_FRAME_SIZE: frame_size, INITIAL_WINDOW_SIZE: 2**31 - 1}, auto_credit=True
    )
    body = b"f" * 300_000
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, method="POST", content=body)
        peer.window_update(0, 2**31 - 1 - 65_535)
        peer.respond(request.stream_id, body=b"ok")
        await answered(pending)
    assert bytes(request.body) == body
    assert max(request.data_frames) <= frame_size  # per frame, also checked by the peer


async def test_data_beyond_the_client_receive_window_is_a_flow_control_error(
    raw_h2: RawServerFactory,
) -> None:
    # Nobody reads the body, so the client stops crediting the stream; its advertised
    # window (SETTINGS_INITIAL_WINDOW_SIZE) is all the peer may send.
    server = await raw_h2()
    async with h2_client() as c:
        request_cm = c.stream("GET", server.url)
        opening = asyncio.ensure_future(request_cm.__aenter__())
        peer = await server.accept()
        request = await peer.full_request()
        await peer.settings_acked()
        window = peer.client_settings.get(INITIAL_WINDOW_SIZE, 65_535)
        peer.send_headers(request.stream_id, STATUS_200)
        response = await answered(opening)
        chunk = b"o" * 16_384
        sent = 0
        while sent <= window:
            peer.send_data(request.stream_id, chunk)
            sent += len(chunk)
            await peer.drain()
        await peer.expect_stream_error(request.stream_id, FLOW_CONTROL_ERROR)
        with pytest.raises(HyperHTTPError):
            await asyncio.wait_for(response.aread(), 5)  # type: ignore[attr-defined]
        await request_cm.__aexit__(None, None, None)


# -- H2-03 RST_STREAM -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [CANCEL, PROTOCOL_ERROR, INTERNAL_ERROR], ids=["cancel", "protocol", "internal"]
)
async def test_rst_stream_fails_only_its_own_request(raw_h2: RawServerFactory, code: int) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        first, peer, r1 = await start_request(server, c, "/a")
        second, _, r2 = await start_request(server, c, "/b", peer=peer)
        third, _, r3 = await start_request(server, c, "/c", peer=peer)
        peer.send_headers(r2.stream_id, STATUS_200)
        peer.rst_stream(r2.stream_id, code)
        peer.respond(r1.stream_id, body=b"a")
        peer.respond(r3.stream_id, body=b"c")
        await expect_failure(second)
        assert (await answered(first)).content == b"a"  # type: ignore[attr-defined]
        assert (await answered(third)).content == b"c"  # type: ignore[attr-defined]
        # frames the peer had already sent on the reset stream are ignored
        peer.send_data(r2.stream_id, b"late", end_stream=True)
        fourth, _, r4 = await start_request(server, c, "/d", peer=peer)
        peer.respond(r4.stream_id, body=b"d")
        assert (await answered(fourth)).content == b"d"  # type: ignore[attr-defined]
    assert len(server.peers) == 1


async def test_refused_stream_is_retried_on_a_new_stream(raw_h2: RawServerFactory) -> None:
    # RFC 9113 §8.7: REFUSED_STREAM means "not processed", safe to retry even a POST
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, method="POST", content=b"data")
        peer.rst_stream(request.stream_id, REFUSED_STREAM)
        retry = await peer.full_request()
        assert retry.stream_id > request.stream_id and bytes(retry.body) == b"data"
        peer.respond(retry.stream_id, body=b"second")
        assert (await answered(pending)).content == b"second"  # type: ignore[attr-defined]


async def test_rst_stream_on_a_finished_stream_is_ignored(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.respond(request.stream_id, body=b"done")
        assert (await answered(pending)).content == b"done"  # type: ignore[attr-defined]
        peer.rst_stream(request.stream_id, CANCEL)
        peer.rst_stream(request.stream_id, CANCEL)
        pending, _, request = await start_request(server, c, peer=peer)
        peer.respond(request.stream_id, body=b"again")
        assert (await answered(pending)).content == b"again"  # type: ignore[attr-defined]
        assert not peer.received(GoAwayFrame)


# -- H2-04 MAX_CONCURRENT_STREAMS -------------------------------------------------------------


async def answer_all(peer: RawPeer, delay: float = 0.01) -> None:
    while True:
        request = await peer.full_request(timeout=30)
        await asyncio.sleep(delay)
        peer.respond(request.stream_id, body=request.path)


async def test_max_concurrent_streams_one_is_never_exceeded(raw_h2: RawServerFactory) -> None:
    server = await raw_h2(settings={MAX_CONCURRENT_STREAMS: 1})
    async with h2_client(limits=Limits(max_connections=1)) as c:
        first = asyncio.ensure_future(c.get(server.url + "/0"))
        peer = await server.accept()
        responder = asyncio.ensure_future(answer_all(peer))
        try:
            assert (await answered(first)).content == b"/0"  # type: ignore[attr-defined]
            results = await asyncio.wait_for(
                asyncio.gather(*(c.get(f"{server.url}/{i}") for i in range(1, 8))), 5
            )
        finally:
            responder.cancel()
    assert [r.content for r in results] == [f"/{i}".encode() for i in range(1, 8)]
    assert peer.peak_open_streams == 1  # the peer also flags any excess as a violation


async def test_max_concurrent_streams_lowered_mid_connection(raw_h2: RawServerFactory) -> None:
    server = await raw_h2(settings={MAX_CONCURRENT_STREAMS: 10})
    async with h2_client(limits=Limits(max_connections=1)) as c:
        held = [asyncio.ensure_future(c.get(f"{server.url}/held{i}")) for i in range(3)]
        peer = await server.accept()
        requests = [await peer.full_request() for _ in range(3)]
        peer.send_settings({MAX_CONCURRENT_STREAMS: 1})
        await peer.settings_acked()
        later = [asyncio.ensure_future(c.get(f"{server.url}/later{i}")) for i in range(3)]
        await asyncio.sleep(0.1)
        assert len(peer.requests) == 3  # 3 open >= 1: nothing new may start
        for request in requests:
            peer.respond(request.stream_id, body=request.path)
        responder = asyncio.ensure_future(answer_all(peer, 0))
        try:
            done = await asyncio.wait_for(asyncio.gather(*held, *later), 5)
        finally:
            responder.cancel()
    assert [r.content for r in done[3:]] == [b"/later0", b"/later1", b"/later2"]


async def test_max_concurrent_streams_zero_waits_for_a_slot(raw_h2: RawServerFactory) -> None:
    # SETTINGS_MAX_CONCURRENT_STREAMS=0 allows no stream: the client waits (or tries another
    # connection, which says the same), without spinning, until the peer raises it.
    server = await raw_h2(settings={MAX_CONCURRENT_STREAMS: 0})
    async with h2_client(timeout=Timeout(5.0, pool=3.0)) as c:
        pending = asyncio.ensure_future(c.get(server.url + "/z"))
        peer = await server.accept()
        await peer.settings_acked()
        await asyncio.sleep(0.2)
        assert len(server.peers) <= 2
        for each in server.peers:
            each.send_settings({MAX_CONCURRENT_STREAMS: 5})
        owner = None
        for _ in range(100):
            owner = next((p for p in server.peers if p.requests), None)
            if owner is not None:
                break
            await asyncio.sleep(0.01)
        assert owner is not None
        request = await owner.full_request()
        owner.respond(request.stream_id, body=b"finally")
        assert (await answered(pending)).content == b"finally"  # type: ignore[attr-defined]
    assert len(server.peers) <= 2
    assert sum(p.bytes_received for p in server.peers) < 10_000  # no request spinning


# -- H2-06 CONTINUATION floods ----------------------------------------------------------------


@pytest.mark.parametrize("size", [16_384, 0], ids=["full-frames", "empty-frames"])
async def test_continuation_flood_is_cut_off(raw_h2: RawServerFactory, size: int) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        sid = request.stream_id
        peer.send(raw_frame(HEADERS, 0, sid, peer.encode(STATUS_200)))
        frame = raw_frame(CONTINUATION, 0, sid, b"\x00" * size)
        written = 0
        try:
            while not peer.closed.is_set() and not peer.received(GoAwayFrame):
                assert written < 64 * 1024 * 1024, "the client kept accepting CONTINUATION"
                peer.send(frame * 64)
                written += len(frame) * 64
                await asyncio.wait_for(peer.drain(), 5)
                await asyncio.sleep(0)
        except (ConnectionError, OSError):
            pass
        await expect_failure(pending)
        await peer.expect_goaway(PROTOCOL_ERROR, ENHANCE_YOUR_CALM)


# -- H2-07 HPACK ------------------------------------------------------------------------------


async def test_hpack_bomb_is_rejected(raw_h2: RawServerFactory) -> None:
    # One 4 KB field put in the dynamic table, then referenced 2000 times: ~8 MB decoded
    # from ~6 KB on the wire.
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        first = peer.encode([(b"x-bomb", b"b" * 4000)], huffman=False)
        index = b"\xbe"  # indexed field 62: the newest dynamic entry
        block = peer.encode(STATUS_200) + first + index * 2000
        assert len(block) < 16_384
        peer.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, request.stream_id, block))
        await expect_failure(pending)
        await peer.expect_stream_error(
            request.stream_id, ENHANCE_YOUR_CALM, PROTOCOL_ERROR, COMPRESSION_ERROR
        )


async def test_table_size_update_above_our_setting_is_a_compression_error(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        await peer.settings_acked()
        limit = peer.client_settings.get(HEADER_TABLE_SIZE, 4096)
        update = hpack_integer(limit + 1, 5, 0x20)  # dynamic table size update
        block = update + peer.encode(STATUS_200)
        peer.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, request.stream_id, block))
        await expect_failure(pending)
        await peer.expect_goaway(COMPRESSION_ERROR)


def hpack_integer(value: int, prefix: int, first: int) -> bytes:
    """RFC 7541 §5.1 integer with a ``prefix``-bit prefix, OR-ed into ``first``."""
    top = (1 << prefix) - 1
    if value < top:
        return bytes([first | value])
    out = bytearray([first | top])
    value -= top
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# -- H2-08 SETTINGS abuse ---------------------------------------------------------------------


async def test_settings_flood_is_acknowledged_or_refused(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        await peer.settings_acked()
        frame = raw_frame(SETTINGS, 0, 0, settings_payload({MAX_CONCURRENT_STREAMS: 100}))
        for _ in range(5):
            peer._pending_settings.extend({MAX_CONCURRENT_STREAMS: 100} for _ in range(1000))
            peer.send(frame * 1000)
            await peer.drain()
        try:
            await peer.settings_acked()
        except AssertionError:
            await peer.expect_goaway(ENHANCE_YOUR_CALM)  # refusing the flood is fine too
            await expect_failure(pending)
            return
        acks = [f for f in peer.received(SettingsFrame) if "ACK" in f.flags]
        assert len(acks) == 5001
        peer.respond(request.stream_id, body=b"ok")
        assert (await answered(pending)).content == b"ok"  # type: ignore[attr-defined]


async def test_settings_frame_with_thousands_of_unknown_ids_is_accepted(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_settings({0x100 + i: i for i in range(2700)})  # 16200 bytes
        await peer.settings_acked()
        peer.respond(request.stream_id, body=b"ok")
        assert (await answered(pending)).content == b"ok"  # type: ignore[attr-defined]


async def test_server_may_send_enable_push_zero(raw_h2: RawServerFactory) -> None:
    server = await raw_h2(settings={0x2: 0})
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        await peer.settings_acked()
        peer.respond(request.stream_id, body=b"ok")
        assert (await answered(pending)).content == b"ok"  # type: ignore[attr-defined]


# -- H2-09 floods, empty header names ---------------------------------------------------------


async def test_ping_flood_is_answered_in_order(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    count = 10_000
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        for start in range(0, count, 1000):
            peer.send(
                b"".join(
                    raw_frame(PING, 0, 0, struct.pack(">Q", i)) for i in range(start, start + 1000)
                )
            )
            await peer.drain()
        last = struct.pack(">Q", count - 1)
        await peer.wait_for(lambda f: isinstance(f, PingFrame) and f.opaque_data == last)
        acks = [f.opaque_data for f in peer.received(PingFrame) if "ACK" in f.flags]  # type: ignore[attr-defined]
        assert acks == [struct.pack(">Q", i) for i in range(count)]
        peer.respond(request.stream_id, body=b"ok")
        assert (await answered(pending)).content == b"ok"  # type: ignore[attr-defined]


async def test_ping_flood_from_a_peer_that_does_not_read_is_bounded(
    raw_h2: RawServerFactory,
) -> None:
    # CVE-2019-9512: the peer sends PINGs but never reads the ACKs. The client must not queue
    # an unbounded amount of ACKs: it stops reading (the peer's writes then stall) or gives
    # up on the connection. What it may hold is its kernel send buffer (Linux autotunes it
    # up to tcp_wmem's maximum, 4 MiB by default) plus its own cap; the flood is pushed well
    # past both, in a bounded loop.
    server = await raw_h2(socket_buffers=4096)
    async with h2_client() as c:
        pending, peer, _ = await start_request(server, c)
        peer.writer.transport.pause_reading()  # type: ignore[attr-defined]
        batch = raw_frame(PING, 0, 0, b"floodme!") * 4096  # 69632 bytes
        pushed = 0
        stalled = False
        try:
            while pushed < 16 * 1024 * 1024:  # ~1 million PINGs at most
                peer.send(batch)
                pushed += len(batch)
                await asyncio.wait_for(peer.drain(), 0.5)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            stalled = True
        assert stalled, f"the client took {pushed} bytes of PINGs it could not answer"
        # We answer by giving up on the connection: the request fails, typed.
        await expect_failure(pending)


async def test_empty_data_frame_flood_does_not_hang(raw_h2: RawServerFactory) -> None:
    # CVE-2019-9518: thousands of empty DATA frames; finishing the response or refusing
    # the flood (ENHANCE_YOUR_CALM) are both fine, hanging or crashing is not
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, STATUS_200)
        peer.send(peer.data_frame(request.stream_id, b"") * 20_000)
        peer.send_data(request.stream_id, b"end", end_stream=True)
        try:
            response = await answered(pending)
        except HyperHTTPError as exc:
            assert exc.request is not None
            await peer.expect_goaway(ENHANCE_YOUR_CALM)
        else:
            assert response.content == b"end"  # type: ignore[attr-defined]


# -- H2-10, H2-11, H2-09 malformed responses (RFC 9113 §8.1.1, §8.2, §8.3) ------------------


def head(*extra: tuple[bytes, bytes], status: bytes | None = b"200") -> Fields:
    fields: Fields = [(b":status", status)] if status is not None else []
    return fields + list(extra)


MALFORMED_HEADS: dict[str, Fields] = {
    "uppercase-name": head((b"X-Upper", b"1")),
    "connection": head((b"connection", b"close")),
    "keep-alive": head((b"keep-alive", b"timeout=5")),
    "proxy-connection": head((b"proxy-connection", b"keep-alive")),
    "transfer-encoding": head((b"transfer-encoding", b"chunked")),
    "upgrade": head((b"upgrade", b"h2c")),
    "crlf-in-value": head((b"x-bad", b"a\r\nb")),
    "nul-in-value": head((b"x-bad", b"a\x00b")),
    "leading-space": head((b"x-bad", b" a")),
    "trailing-tab": head((b"x-bad", b"a\t")),
    "space-in-name": head((b"x bad", b"1")),
    "colon-in-name": head((b"x:bad", b"1")),
    "empty-name": head((b"", b"x")),
    "pseudo-after-regular": [(b"x-a", b"1"), (b":status", b"200")],
    "unknown-pseudo": head((b":foo", b"bar")),
    "request-pseudo": head((b":path", b"/")),
    "missing-status": head((b"x-a", b"1"), status=None),
    "duplicate-status": head((b":status", b"200")),
    "status-not-a-number": head(status=b"2x0"),
    "status-too-long": head(status=b"2000"),
    "content-length-not-a-number": head((b"content-length", b"+5")),
    "conflicting-content-lengths": head((b"content-length", b"5"), (b"content-length", b"6")),
}


@pytest.mark.parametrize(
    "kind",
    [kind for kind in MALFORMED_HEADS],
)
async def test_malformed_response_head_fails_the_request(
    raw_h2: RawServerFactory, kind: str
) -> None:
    # Typed error for this request and PROTOCOL_ERROR on the wire (RST_STREAM, or GOAWAY
    # as RFC 9113 §5.4.1 allows); the next request works.
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, MALFORMED_HEADS[kind], end_stream=True)
        await expect_failure(pending, within=1.0)
        await peer.expect_stream_error(request.stream_id, PROTOCOL_ERROR)
        await next_request_works(server, c, peer)


async def next_request_works(server: RawH2Server, c: Client, peer: RawPeer) -> None:
    """A request after a stream error: on the same connection, or a new one after GOAWAY."""
    if peer.received(GoAwayFrame):
        await peer.wait_closed()
        pending, peer, request = await start_request(server, c, "/next")
    else:
        pending, _, request = await start_request(server, c, "/next", peer=peer)
    peer.respond(request.stream_id, body=b"next")
    assert (await answered(pending)).content == b"next"  # type: ignore[attr-defined]


def send_malformed(peer: RawPeer, sid: int, kind: str) -> None:
    """A malformed response on ``sid``; each indexes ``x-shared: s`` in the HPACK table."""
    if kind == "too-much-data":
        peer.send_headers(sid, head((b"x-shared", b"s"), (b"content-length", b"4")))
        peer.send_data(sid, b"four")
        peer.send_data(sid, b"more", end_stream=True)
    elif kind == "too-little-data":
        peer.send_headers(sid, head((b"x-shared", b"s"), (b"content-length", b"10")))
        peer.send_data(sid, b"short", end_stream=True)
    elif kind == "data-before-headers":
        peer.send_data(sid, b"early")
    elif kind == "pseudo-header-in-trailers":
        peer.send_headers(sid, head((b"x-shared", b"s")))
        peer.send_headers(sid, [(b":status", b"200")], end_stream=True)
    elif kind == "trailers-without-end-stream":
        peer.send_headers(sid, head((b"x-shared", b"s")))
        peer.send_headers(sid, [(b"x-trailer", b"1")])
    elif kind == "informational-with-end-stream":
        peer.send_headers(sid, head((b"x-shared", b"s"), status=b"103"), end_stream=True)
    else:
        peer.send_headers(sid, [*MALFORMED_HEADS[kind], (b"x-shared", b"s")], end_stream=True)


MESSAGE_ERRORS = [
    "too-much-data",
    "too-little-data",
    "data-before-headers",
    "pseudo-header-in-trailers",
    "trailers-without-end-stream",
    "informational-with-end-stream",
]


@pytest.mark.parametrize("kind", MESSAGE_ERRORS)
async def test_malformed_message_fails_the_request(raw_h2: RawServerFactory, kind: str) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        send_malformed(peer, request.stream_id, kind)
        await expect_failure(pending, within=1.0)
        await peer.expect_stream_error(request.stream_id, PROTOCOL_ERROR)
        await next_request_works(server, c, peer)


@pytest.mark.parametrize(
    "kind", ["connection", "uppercase-name", "empty-name", "missing-status", *MESSAGE_ERRORS]
)
async def test_malformed_response_is_a_stream_error_and_other_streams_go_on(
    raw_h2: RawServerFactory, kind: str
) -> None:
    # RFC 9113 §8.1.1: stream error PROTOCOL_ERROR. The bad header block is still decoded
    # (HPACK state is per connection): the good response reuses its indexed x-shared field.
    server = await raw_h2()
    async with h2_client() as c:
        good, peer, good_request = await start_request(server, c, "/good")
        bad, _, bad_request = await start_request(server, c, "/bad", peer=peer)
        send_malformed(peer, bad_request.stream_id, kind)
        await peer.expect_rst(bad_request.stream_id, PROTOCOL_ERROR)
        await expect_failure(bad)
        fields = head((b"x-shared", b"s"), (b"content-length", b"4"))
        peer.send_headers(good_request.stream_id, fields)
        peer.send_data(good_request.stream_id, b"good", end_stream=True)
        response = await answered(good)
        assert response.content == b"good"  # type: ignore[attr-defined]
        assert response.headers["x-shared"] == "s"  # type: ignore[attr-defined]
        assert not peer.received(GoAwayFrame)


# -- H2-12 PUSH_PROMISE, H2-13 stream identifiers ---------------------------------------------


async def test_push_promise_after_enable_push_zero_is_a_protocol_error(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        await peer.settings_acked()
        assert peer.client_settings[0x2] == 0
        promised = peer.encode(
            [
                (b":method", b"GET"),
                (b":scheme", b"http"),
                (b":path", b"/pushed"),
                (b":authority", b"127.0.0.1"),
            ]
        )
        payload = struct.pack(">L", 2) + promised
        peer.send(raw_frame(PUSH_PROMISE, END_HEADERS, request.stream_id, payload))
        await expect_failure(pending)
        await peer.expect_goaway(PROTOCOL_ERROR)


async def test_headers_on_an_even_stream_without_push_is_a_protocol_error(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, _ = await start_request(server, c)
        peer.send_headers(2, STATUS_200, end_stream=True)
        await expect_failure(pending)
        await peer.expect_goaway(PROTOCOL_ERROR)
