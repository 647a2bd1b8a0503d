"""HTTP/2 client conformance, part 2: message exchange (RFC 9113 §8.1-8.3).

Companion of ``test_h2_client_conformance.py`` (the h2specd cases) and
``test_h2_client_hostile_peers.py`` (the checklist rows); same byte-exact peer, same rule:
only public behaviour is observed (what ``hyperhttp.Client`` returns or raises, which frames
it writes). Here: request header blocks, padding, CONTINUATION, HPACK dynamic table and size
updates, Huffman and plain literals, dripped and coalesced writes, interleaved streams,
trailers, 1xx, HEAD/204/304.
"""

from __future__ import annotations

import asyncio
import struct

import pytest
from hyperframe.frame import GoAwayFrame, PingFrame

from hyperhttp import HyperHTTPError

from .h2_raw_peer import (
    CONTINUATION,
    HEADERS,
    MAX_CONCURRENT_STREAMS,
    PING,
    PRIORITY,
    SETTINGS,
    STATUS_200,
    RawServerFactory,
    answered,
    h2_client,
    raw_frame,
    settings_payload,
    start_request,
)

# -- 8.2, 8.3 the request header block --------------------------------------------------------


async def test_request_head_is_pseudo_headers_first_lowercase_without_connection_fields(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    headers = {
        "Connection": "keep-alive, Upgrade",
        "Keep-Alive": "timeout=5",
        "Proxy-Connection": "keep-alive",
        "Upgrade": "h2c",
        "TE": "gzip",
        "X-Mixed-Case": "Value Kept",
    }
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, "/p?q=1", headers=headers)
        peer.respond(request.stream_id, body=b"ok")
        await answered(pending)
    names = [name for name, _ in request.headers]
    assert names[:4] == [b":method", b":scheme", b":authority", b":path"]
    assert not any(name.startswith(b":") for name in names[4:])
    assert all(name == name.lower() for name in names)
    for dropped in (b"connection", b"keep-alive", b"proxy-connection", b"upgrade", b"host", b"te"):
        assert dropped not in names
    assert request.header(b":path") == b"/p?q=1"
    assert request.header(b":scheme") == b"http"
    assert request.header(b":authority") == f"127.0.0.1:{server.port}".encode()
    assert request.header(b"x-mixed-case") == b"Value Kept"
    assert request.end_stream  # a GET without body: END_STREAM on HEADERS


async def test_te_trailers_is_sent(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, headers={"TE": "trailers"})
        peer.respond(request.stream_id)
        await answered(pending)
    assert request.header(b"te") == b"trailers"


@pytest.mark.parametrize("value", ["a\r\nb", "a\nb", "a\x00b"], ids=["crlf", "lf", "nul"])
async def test_request_header_value_with_cr_lf_nul_is_refused_before_sending(
    raw_h2: RawServerFactory, value: str
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        with pytest.raises(HyperHTTPError):
            await answered(c.get(server.url, headers={"x-bad": value}))
    for peer in server.peers:
        assert not peer.requests


async def test_large_request_header_block_is_split_into_continuations(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    big = "v" * 20_000
    async with h2_client() as c:
        pending, peer, request = await start_request(
            server, c, headers={f"x-big{i}": big + str(i) for i in range(3)}
        )
        peer.respond(request.stream_id, body=b"ok")
        await answered(pending)
    assert [request.header(b"x-big%d" % i) for i in range(3)] == [
        (big + str(i)).encode() for i in range(3)
    ]
    kinds = [f.type for f in peer.frames if f.stream_id == request.stream_id]
    assert kinds[0] == HEADERS and CONTINUATION in kinds  # each frame <= 16384 (peer checks)


async def test_request_body_arrives_whole_with_end_stream(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    body = bytes(range(256)) * 300
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, method="POST", content=body)
        peer.respond(request.stream_id, body=b"%d" % len(request.body))
        assert (await answered(pending)).content == b"76800"  # type: ignore[attr-defined]
    assert bytes(request.body) == body and request.end_stream
    assert request.header(b"content-length") == b"76800"


# -- 8.1 responses: framing variants ----------------------------------------------------------


@pytest.mark.parametrize("pad", [1, 17, 256])
async def test_padded_headers_and_data_are_accepted(raw_h2: RawServerFactory, pad: int) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        fields = [*STATUS_200, (b"x-a", b"1")]
        peer.send_headers(request.stream_id, fields, pad=pad)
        peer.send_data(request.stream_id, b"pad", pad=pad)
        peer.send_data(request.stream_id, b"ded", end_stream=True, pad=pad)
        response = await answered(pending)
        assert response.content == b"padded"  # type: ignore[attr-defined]
        assert response.headers["x-a"] == "1"  # type: ignore[attr-defined]


async def test_response_head_in_one_byte_continuation_fragments(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        fields = [*STATUS_200, (b"x-long", b"L" * 40), (b"content-length", b"2")]
        block = peer.encode(fields, huffman=False)
        assert len(block) < 64  # a CONTINUATION cap of 64 frames per block is fine
        peer.send(peer.headers_frames(request.stream_id, block, fragment=1))
        peer.send_data(request.stream_id, b"ok", end_stream=True)
        response = await answered(pending)
        assert response.headers["x-long"] == "L" * 40  # type: ignore[attr-defined]
        assert response.content == b"ok"  # type: ignore[attr-defined]


async def test_hpack_dynamic_table_reused_across_responses_and_resized(
    raw_h2: RawServerFactory,
) -> None:
    # The peer's encoder indexes these fields once and refers to them afterwards; the table
    # is shrunk to 0 (evicting everything) and grown again between responses.
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, "/0")
        peer_ = peer
        for i in range(30):
            if i == 10:
                peer_.encoder.header_table_size = 0
            if i == 11:
                peer_.encoder.header_table_size = 4096
            if i == 20:
                peer_.encoder.header_table_size = 256  # small: constant eviction
            fields = [
                *STATUS_200,
                (b"x-server-id", b"node-7"),
                (b"cache-control", b"private, max-age=0"),
                (b"x-request", b"%d" % i),
                (b"content-length", b"%d" % len(b"%d" % i)),
            ]
            peer_.send_headers(request.stream_id, fields, huffman=i % 2 == 0)
            peer_.send_data(request.stream_id, b"%d" % i, end_stream=True)
            response = await answered(pending)
            assert response.headers["x-server-id"] == "node-7"  # type: ignore[attr-defined]
            assert response.headers["x-request"] == str(i)  # type: ignore[attr-defined]
            assert response.content == b"%d" % i  # type: ignore[attr-defined]
            if i < 29:
                pending, _, request = await start_request(server, c, f"/{i + 1}", peer=peer_)
    assert len(server.peers) == 1


@pytest.mark.parametrize("huffman", [True, False], ids=["huffman", "plain"])
async def test_huffman_and_plain_literals_decode_alike(
    raw_h2: RawServerFactory, huffman: bool
) -> None:
    server = await raw_h2()
    value = b"MiXeD value with spaces, digits 0123456789 and ~!@#$%^&*()_+{}|"
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        fields = [*STATUS_200, (b"x-literal", value), (b"content-length", b"0")]
        peer.send_headers(request.stream_id, fields, end_stream=True, huffman=huffman)
        response = await answered(pending)
        assert response.headers["x-literal"] == value.decode()  # type: ignore[attr-defined]


async def test_response_dripped_one_byte_per_write(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        sid = request.stream_id
        block = peer.encode([*STATUS_200, (b"x-drip", b"yes"), (b"content-length", b"10")])
        wire = (
            peer.headers_frames(sid, block)
            + peer.data_frame(sid, b"drip", pad=3)
            + raw_frame(PING, 0, 0, b"drip-png")
            + peer.data_frame(sid, b"-drop", pad=0)
            + peer.data_frame(sid, b"!", end_stream=True)
        )
        for byte in wire:
            peer.send(bytes([byte]))
            await peer.drain()
            await asyncio.sleep(0.0005)
        response = await answered(pending)
        assert response.content == b"drip-drop!"  # type: ignore[attr-defined]
        assert response.headers["x-drip"] == "yes"  # type: ignore[attr-defined]
        await peer.wait_for(lambda f: isinstance(f, PingFrame) and f.opaque_data == b"drip-png")


async def test_all_responses_and_control_frames_in_one_write(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        first, peer, r1 = await start_request(server, c, "/1")
        rest = [await start_request(server, c, f"/{i}", peer=peer) for i in (2, 3, 4)]
        requests = [r1] + [r for _, _, r in rest]
        wire = bytearray(raw_frame(SETTINGS, 0, 0, settings_payload({MAX_CONCURRENT_STREAMS: 50})))
        wire += raw_frame(PING, 0, 0, b"together")
        for request in requests:
            block = peer.encode([*STATUS_200, (b"content-length", b"%d" % len(request.path))])
            wire += peer.headers_frames(request.stream_id, block)
            wire += peer.data_frame(request.stream_id, request.path, end_stream=True)
        peer._pending_settings.append({MAX_CONCURRENT_STREAMS: 50})
        peer.send(bytes(wire))
        responses = [await answered(first)] + [await answered(p) for p, _, _ in rest]
        assert [r.content for r in responses] == [b"/1", b"/2", b"/3", b"/4"]  # type: ignore[attr-defined]
        await peer.wait_for(lambda f: isinstance(f, PingFrame) and f.opaque_data == b"together")
        await peer.settings_acked()


async def test_many_streams_interleaved(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    count = 25
    async with h2_client() as c:
        first, peer, r1 = await start_request(server, c, "/0")
        started = [(first, r1)]
        for i in range(1, count):
            pending, _, request = await start_request(server, c, f"/{i}", peer=peer)
            started.append((pending, request))
        bodies = {r.stream_id: (r.path * 50) for _, r in started}
        for _, request in started:
            peer.send_headers(request.stream_id, STATUS_200)
        # round-robin 7-byte DATA frames across every stream, streams ending in reverse order
        offsets = dict.fromkeys(bodies, 0)
        while offsets:
            for sid in sorted(offsets, reverse=True):
                start = offsets[sid]
                piece = bodies[sid][start : start + 7]
                last = start + 7 >= len(bodies[sid])
                peer.send_data(sid, piece, end_stream=last)
                if last:
                    del offsets[sid]
                else:
                    offsets[sid] = start + 7
        for pending, request in started:
            response = await answered(pending)
            assert response.content == bodies[request.stream_id]  # type: ignore[attr-defined]
    assert len(server.peers) == 1


async def test_trailers_after_the_body(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(request.stream_id, [*STATUS_200, (b"trailer", b"grpc-status")])
        peer.send_data(request.stream_id, b"body")
        peer.send_headers(
            request.stream_id, [(b"grpc-status", b"0"), (b"x-sum", b"abc")], end_stream=True
        )
        response = await answered(pending)
        assert response.content == b"body"  # type: ignore[attr-defined]
        assert response.trailers["grpc-status"] == "0"  # type: ignore[attr-defined]
        assert response.trailers["x-sum"] == "abc"  # type: ignore[attr-defined]
        assert "grpc-status" not in response.headers  # type: ignore[attr-defined]


async def test_informational_responses_precede_the_final_response(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.send_headers(
            request.stream_id, [(b":status", b"103"), (b"link", b"</a>; rel=preload")]
        )
        peer.send_headers(request.stream_id, [(b":status", b"100")])
        peer.respond(request.stream_id, 201, b"made")
        response = await answered(pending)
        assert response.status_code == 201 and response.content == b"made"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "method,status", [("HEAD", 200), ("GET", 204), ("GET", 304)], ids=["head", "204", "304"]
)
@pytest.mark.parametrize("empty_data", [False, True], ids=["end-on-headers", "empty-data"])
async def test_no_body_responses_with_content_length(
    raw_h2: RawServerFactory, method: str, status: int, empty_data: bool
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c, method=method)
        fields = [(b":status", b"%d" % status), (b"content-length", b"1234")]
        peer.send_headers(request.stream_id, fields, end_stream=not empty_data)
        if empty_data:
            peer.send_data(request.stream_id, b"", end_stream=True)
        response = await answered(pending)
        assert response.status_code == status  # type: ignore[attr-defined]
        assert response.content == b""  # type: ignore[attr-defined]
        assert response.headers["content-length"] == "1234"  # type: ignore[attr-defined]
        await peer.ping_ack(b"no-error")
        assert not peer.received(GoAwayFrame)


async def test_priority_frames_are_ignored(raw_h2: RawServerFactory) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        priority = struct.pack(">LB", 0, 15)
        peer.send(raw_frame(PRIORITY, 0, request.stream_id, priority))  # open stream
        peer.send(raw_frame(PRIORITY, 0, 9, struct.pack(">LB", 0x8000_0001, 200)))  # idle
        peer.send_headers(request.stream_id, STATUS_200)
        peer.send(raw_frame(PRIORITY, 0, request.stream_id, priority))
        peer.send_data(request.stream_id, b"ok", end_stream=True)
        peer.send(raw_frame(PRIORITY, 0, request.stream_id, priority))  # closed stream
        assert (await answered(pending)).content == b"ok"  # type: ignore[attr-defined]
        await peer.ping_ack(b"priority")
        assert not peer.received(GoAwayFrame)


async def test_priority_churn_is_ignored(raw_h2: RawServerFactory) -> None:
    # CVE-2019-9513: a storm of PRIORITY frames reshuffling streams costs nothing
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        frames = b"".join(
            raw_frame(PRIORITY, 0, 2 * i + 3, struct.pack(">LB", 2 * i + 1, i % 256))
            for i in range(5000)
        )
        peer.send(frames)
        peer.respond(request.stream_id, body=b"calm")
        assert (await answered(pending)).content == b"calm"  # type: ignore[attr-defined]
        assert not peer.received(GoAwayFrame)


async def test_non_ascii_response_header_value_never_leaks_unicode_errors(
    raw_h2: RawServerFactory,
) -> None:
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(server, c)
        peer.respond(request.stream_id, headers=[(b"x-latin", b"caf\xe9 \xff\xfe")])
        try:
            response = await answered(pending)
        except HyperHTTPError as exc:  # refusing obs-text is allowed, typed
            assert exc.request is not None
        else:
            assert isinstance(response.headers["x-latin"], str)  # type: ignore[attr-defined]
