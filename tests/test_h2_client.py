"""HTTP/2 client against a frame-scripted peer (h2c by prior knowledge on 127.0.0.1).

Rows H2-01..H2-04, H2-06, H2-07, H2-10 (client side) and CN-02 of the reliability
checklist: misbehaving and unusual servers, each case a script of frames.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import h2.errors
import h2.events
import h2.settings
import pytest

from hyperhttp import Client, HTTPTransport, Limits, Timeout
from hyperhttp._exceptions import (
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteTimeout,
)
from hyperhttp._protocol import h2_client as h2p
from hyperhttp._transports import _h2_connection as h2c

from .h2_peer import H2Peer, H2PeerServer, PeerScript

PeerFactory = Callable[..., Awaitable[H2PeerServer]]
SC = h2.settings.SettingCodes
CANCEL = int(h2.errors.ErrorCodes.CANCEL)


@pytest.fixture
async def h2peer() -> AsyncIterator[PeerFactory]:
    servers: list[H2PeerServer] = []

    async def start(
        script: PeerScript,
        settings: dict[int, int] | None = None,
        auto_credit: bool = True,
        settings_delay: float = 0.0,
    ) -> H2PeerServer:
        server = await H2PeerServer(script, settings, auto_credit, settings_delay).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.aclose()
        assert not server.errors, server.errors


def client(**kwargs: object) -> Client:
    kwargs.setdefault("timeout", Timeout(5.0))
    return Client(http2="prior-knowledge", **kwargs)  # type: ignore[arg-type]


async def serve_forever(peer: H2Peer, body: Callable[[bytes], bytes] | None = None) -> None:
    """Answer every request with 200 and its path (or ``body(path)``)."""
    while True:
        request = await peer.full_request(timeout=30)
        if request.reset is not None:
            continue
        payload = body(request.path) if body is not None else request.path
        peer.respond(request.stream_id, 200, payload)


# -- basics -----------------------------------------------------------------------------------


async def test_prior_knowledge_get_is_http2_with_pseudo_headers(h2peer: PeerFactory) -> None:
    server = await h2peer(serve_forever)
    async with client() as c:
        r = await c.get(server.url + "/a?b=1", headers={"Connection": "keep-alive", "X-Y": "z"})
        assert r.status_code == 200
        assert r.http_version == "HTTP/2"
        assert r.content == b"/a?b=1"
        assert r.reason_phrase == "OK"
    request = server.peers[0].requests[1]
    names = [name for name, _ in request.headers]
    assert names[:4] == [b":method", b":scheme", b":authority", b":path"]
    assert request.header(b":authority") == f"127.0.0.1:{server.port}".encode()
    assert b"host" not in names and b"connection" not in names
    assert request.header(b"x-y") == b"z"


async def test_http2_false_speaks_http11_to_the_same_origin(h2peer: PeerFactory) -> None:
    server = await h2peer(serve_forever)
    async with Client(http2=False, timeout=Timeout(2.0)) as c:
        with pytest.raises(TransportError):
            await c.get(server.url + "/")  # an HTTP/1.1 request line to an h2-only peer
    assert not server.peers[0].requests


async def test_concurrent_requests_share_one_connection(h2peer: PeerFactory) -> None:
    server = await h2peer(serve_forever)
    async with client() as c:
        responses = await asyncio.gather(*(c.get(f"{server.url}/{i}") for i in range(40)))
        assert [r.content for r in responses] == [f"/{i}".encode() for i in range(40)]
        assert len(server.peers) == 1  # concurrent first requests did not race 40 handshakes
        responses = await asyncio.gather(*(c.get(f"{server.url}/{i}") for i in range(10)))
        assert len(server.peers) == 1
        assert c.get_pool_stats()["open"] == 1


# -- H2-04: MAX_CONCURRENT_STREAMS ------------------------------------------------------------


@pytest.mark.parametrize("settings_delay", [0.0, 0.3], ids=["prompt", "late-settings"])
async def test_never_more_streams_than_the_server_allows(
    h2peer: PeerFactory, settings_delay: float
) -> None:
    # With late SETTINGS, concurrent first requests must wait for them rather than assume
    # 100 streams (hypercorn enforces its limit from the start).
    in_flight = 0
    peak = 0

    async def script(peer: H2Peer) -> None:
        nonlocal in_flight, peak

        async def answer(request_id: int) -> None:
            nonlocal in_flight
            await asyncio.sleep(0.02)
            peer.respond(request_id, 200, b"ok")
            in_flight -= 1

        tasks = []
        while True:
            request = await peer.next_request(timeout=30)
            in_flight += 1
            peak = max(peak, in_flight)
            tasks.append(asyncio.ensure_future(answer(request.stream_id)))

    server = await h2peer(
        script, settings={SC.MAX_CONCURRENT_STREAMS: 3}, settings_delay=settings_delay
    )
    async with client(limits=Limits(max_connections=1)) as c:
        responses = await asyncio.gather(*(c.get(server.url) for _ in range(20)))
    assert all(r.status_code == 200 for r in responses)
    assert peak <= 3
    assert len(server.peers) == 1


async def test_a_full_connection_opens_another_when_slots_allow(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        while True:
            request = await peer.next_request(timeout=30)
            await asyncio.sleep(0.05)
            peer.respond(request.stream_id, 200, b"ok")

    server = await h2peer(script, settings={SC.MAX_CONCURRENT_STREAMS: 1})
    async with client() as c:
        await c.get(server.url)  # learn the limit
        responses = await asyncio.gather(*(c.get(server.url) for _ in range(3)))
    assert all(r.status_code == 200 for r in responses)
    assert len(server.peers) >= 2


# -- H2-02: GOAWAY ----------------------------------------------------------------------------


async def test_goaway_retries_streams_above_last_stream_id_even_post(h2peer: PeerFactory) -> None:
    received: list[tuple[int, bytes, bytes]] = []

    async def script(peer: H2Peer) -> None:
        index = len(server.peers)
        if index == 1:
            requests = [await peer.full_request() for _ in range(3)]
            for request in requests:
                received.append((index, request.method, request.path))
            first = min(r.stream_id for r in requests)
            # Head of the first stream, GOAWAY naming it as the last processed, then its body
            # after the GOAWAY: it must still be delivered (h2 alone would refuse it).
            peer.conn.send_headers(first, [(b":status", b"200"), (b"content-length", b"5")])
            peer.flush()
            peer.goaway_raw(last_stream_id=first)
            await asyncio.sleep(0.05)
            peer.send_body(first, b"first")
            await asyncio.sleep(1)
        else:
            while True:
                request = await peer.full_request(timeout=30)
                received.append((index, request.method, request.path))
                peer.respond(request.stream_id, 200, bytes(request.body) or request.path)

    server = await h2peer(script)
    async with client() as c:
        first = asyncio.ensure_future(c.get(server.url + "/one"))
        await asyncio.sleep(0.05)
        rest = [
            asyncio.ensure_future(c.post(server.url + "/two", content=b"payload")),
            asyncio.ensure_future(c.get(server.url + "/three")),
        ]
        r1 = await first
        r2, r3 = await asyncio.gather(*rest)
    assert r1.content == b"first"
    assert r2.content == b"payload"  # the POST was resent: GOAWAY says it was not processed
    assert r3.content == b"/three"
    assert len(server.peers) == 2
    assert sorted(p for i, _, p in received if i == 2) == [b"/three", b"/two"]


async def test_goaway_means_no_new_streams_on_that_connection(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        if len(server.peers) == 1:
            request = await peer.full_request()
            peer.respond(request.stream_id, 200, b"x")
            peer.goaway_raw(last_stream_id=request.stream_id)
        await serve_forever(peer)

    server = await h2peer(script)
    async with client() as c:
        await c.get(server.url)
        await asyncio.sleep(0.1)
        r = await c.get(server.url + "/after")
    assert r.content == b"/after"
    assert len(server.peers) == 2
    assert len(server.peers[0].requests) == 1


async def test_connection_closed_without_goaway_fails_typed(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        await peer.full_request()
        peer.close()

    server = await h2peer(script)
    async with client() as c:
        with pytest.raises(RemoteProtocolError) as info:
            await c.post(server.url, content=b"x")
        assert info.value.request is not None
    assert len(server.peers) == 1  # a POST the server may have seen is not resent


# -- H2-03: RST_STREAM ------------------------------------------------------------------------


async def test_refused_stream_is_retried(h2peer: PeerFactory) -> None:
    seen = []

    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        seen.append(request.stream_id)
        if len(seen) == 1:
            peer.conn.reset_stream(request.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            peer.flush()
            request = await peer.full_request()
            seen.append(request.stream_id)
        peer.respond(request.stream_id, 200, b"second time")
        await asyncio.sleep(1)

    server = await h2peer(script)
    async with client() as c:
        r = await c.post(server.url, content=b"body")
    assert r.content == b"second time"
    assert len(seen) == 2


async def test_rst_stream_fails_only_that_stream(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        requests = [await peer.full_request() for _ in range(3)]
        for request in requests:
            if request.path == b"/bad":
                peer.conn.reset_stream(request.stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
                peer.flush()
        for request in requests:
            if request.path != b"/bad":
                peer.respond(request.stream_id, 200, request.path)
        await serve_forever(peer)

    server = await h2peer(script)
    async with client() as c:
        results = await asyncio.gather(
            c.get(server.url + "/a"),
            c.get(server.url + "/bad"),
            c.get(server.url + "/b"),
            return_exceptions=True,
        )
        assert results[0].content == b"/a"  # type: ignore[union-attr]
        assert results[2].content == b"/b"  # type: ignore[union-attr]
        error = results[1]
        assert isinstance(error, RemoteProtocolError)
        assert "INTERNAL_ERROR" in str(error)
        assert error.request is not None and error.request.url.path == "/bad"
        # the connection is still good
        assert (await c.get(server.url + "/c")).content == b"/c"
    assert len(server.peers) == 1
    assert len([r for r in server.peers[0].requests.values() if r.path == b"/bad"]) == 1


# -- H2-01: flow control ----------------------------------------------------------------------


async def echo(peer: H2Peer) -> None:
    while True:
        request = await peer.full_request(timeout=30)
        peer.conn.send_headers(
            request.stream_id,
            [(b":status", b"200"), (b"content-length", b"%d" % len(request.body))],
        )
        await peer.send_all(request.stream_id, bytes(request.body))


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "streamed"])
async def test_request_bodies_larger_than_the_windows_arrive_intact(
    h2peer: PeerFactory, streamed: bool
) -> None:
    # A 1000-byte stream window and the default 64 KiB connection window: the body must wait
    # for WINDOW_UPDATE many times. hyperhttp 2.1.0 raised FlowControlError here.
    server = await h2peer(echo, settings={SC.INITIAL_WINDOW_SIZE: 1000})
    body = bytes(range(256)) * 1200 + b"tail"  # ~300 KiB

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7000):
            yield body[start : start + 7000]

    async with client() as c:
        r = await c.post(server.url, content=chunks() if streamed else body)
    assert r.content == body
    assert bytes(server.peers[0].requests[1].body) == body


async def test_no_credit_from_the_server_is_a_write_timeout(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        await peer.next_request()
        await asyncio.sleep(5)

    server = await h2peer(script, settings={SC.INITIAL_WINDOW_SIZE: 10}, auto_credit=False)
    async with client(timeout=Timeout(5.0, write=0.2)) as c:
        with pytest.raises(WriteTimeout):
            await c.post(server.url, content=b"x" * 1000)


async def test_a_settings_change_opens_the_window_mid_upload(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        await peer.next_request()
        await asyncio.sleep(0.2)
        peer.conn.update_settings({SC.INITIAL_WINDOW_SIZE: 65_535})
        peer.flush()
        request = peer.requests[1]
        await asyncio.wait_for(request.ended.wait(), 5)
        peer.respond(request.stream_id, 200, b"%d" % len(request.body))
        await asyncio.sleep(1)

    server = await h2peer(script, settings={SC.INITIAL_WINDOW_SIZE: 0})
    async with client(timeout=Timeout(5.0, write=2.0)) as c:
        r = await c.post(server.url, content=b"y" * 50_000)
    assert r.content == b"50000"


async def test_receive_windows_are_raised_and_big_bodies_need_no_round_trips(
    h2peer: PeerFactory,
) -> None:
    body = b"z" * (3 * 1024 * 1024)

    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        # The client's windows, as this peer sees them: far above 64 KiB.
        assert peer.conn.remote_settings.initial_window_size == h2p.STREAM_WINDOW
        assert peer.conn.outbound_flow_control_window >= h2p.CONNECTION_WINDOW - 65_535
        peer.conn.send_headers(request.stream_id, [(b":status", b"200")])
        await peer.send_all(request.stream_id, body)
        await serve_forever(peer)

    server = await h2peer(script)
    async with client() as c:
        r = await c.get(server.url)
        assert r.content == body


async def test_an_unread_stream_does_not_starve_the_others(h2peer: PeerFactory) -> None:
    big = b"u" * (12 * 1024 * 1024)
    blocked = asyncio.Event()

    async def script(peer: H2Peer) -> None:
        first = await peer.full_request()
        peer.conn.send_headers(first.stream_id, [(b":status", b"200")])
        sender = asyncio.ensure_future(peer.send_all(first.stream_id, big))
        while True:
            request = await peer.full_request(timeout=30)
            if request.path == b"/probe-window":
                window = peer.conn.local_flow_control_window(first.stream_id)
                peer.respond(request.stream_id, 200, b"%d" % window)
                if window == 0:
                    blocked.set()
                continue
            peer.conn.send_headers(request.stream_id, [(b":status", b"200")])
            await peer.send_all(request.stream_id, b"s" * (2 * 1024 * 1024))
        await sender

    server = await h2peer(script)
    async with client() as c, c.stream("GET", server.url + "/big") as unread:
        assert unread.status_code == 200
        # Nobody reads /big; the others must still complete, several times over the size
        # of the connection window.
        for _ in range(3):
            small = await asyncio.gather(*(c.get(f"{server.url}/{i}") for i in range(5)))
            assert all(len(r.content) == 2 * 1024 * 1024 for r in small)
        # The unread stream was stopped by its own window, not the connection's.
        for _ in range(50):
            r = await c.get(server.url + "/probe-window")
            if r.content == b"0":
                break
            await asyncio.sleep(0.02)
        assert blocked.is_set()
        stream = next(iter(c.transport._pool._h2.values()))[0]._streams[1]  # type: ignore[attr-defined]
        assert stream.buffered <= h2c.STREAM_BUFFER_HIGH + h2p.STREAM_WINDOW
        # Reading it now returns the withheld credit: the whole body arrives.
        total = 0
        async for chunk in unread.aiter_raw():
            total += len(chunk)
        assert total == len(big)


# -- bodies, trailers, no-body responses ------------------------------------------------------


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses_with_content_length_and_empty_data(
    h2peer: PeerFactory, status: int
) -> None:
    async def script(peer: H2Peer) -> None:
        while True:
            request = await peer.full_request(timeout=30)
            code = status if request.method == b"GET" else 200
            peer.conn.send_headers(
                request.stream_id, [(b":status", b"%d" % code), (b"content-length", b"100")]
            )
            peer.conn.send_data(request.stream_id, b"", end_stream=True)
            peer.flush()

    server = await h2peer(script)
    async with client() as c:
        r = await c.get(server.url)
        assert r.status_code == status and r.content == b""
        r = await c.head(server.url)
        assert r.status_code == 200 and r.content == b""
        assert r.headers["content-length"] == "100"
        assert (await c.get(server.url)).status_code == status  # connection still fine


async def test_trailers_are_exposed(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        peer.conn.send_headers(request.stream_id, [(b":status", b"200")])
        peer.conn.send_data(request.stream_id, b"body")
        peer.conn.send_headers(request.stream_id, [(b"grpc-status", b"0")], end_stream=True)
        peer.flush()
        await asyncio.sleep(1)

    server = await h2peer(script)
    async with client() as c:
        r = await c.get(server.url)
    assert r.content == b"body"
    assert r.trailers["grpc-status"] == "0"


# -- H2-10, H2-06, H2-07: malformed responses ---------------------------------------------------


async def test_headers_without_status_are_an_error_not_a_200(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        peer.conn.send_headers(request.stream_id, [(b"content-length", b"0")], end_stream=True)
        peer.flush()
        await asyncio.sleep(1)

    server = await h2peer(script)
    async with client() as c:
        with pytest.raises(RemoteProtocolError) as info:
            await c.get(server.url)
    assert info.value.request is not None
    assert "h2" not in type(info.value).__module__


@pytest.mark.parametrize(
    "name,value", [(b"connection", b"close"), (b"Upper", b"x"), (b"x-bad", b"a\r\nb")]
)
async def test_invalid_response_fields_are_rejected(
    h2peer: PeerFactory, name: bytes, value: bytes
) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        peer.conn.send_headers(request.stream_id, [(b":status", b"200"), (name, value)], True)
        peer.flush()
        await asyncio.sleep(1)

    server = await h2peer(script)
    async with client() as c:
        with pytest.raises(RemoteProtocolError):
            await c.get(server.url)


async def test_continuation_flood_is_cut_off(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        peer.continuation_flood(request.stream_id, frames=10_000)
        await peer.writer.drain()
        await asyncio.sleep(1)

    server = await h2peer(script)
    async with client() as c:
        with pytest.raises(RemoteProtocolError) as info:
            await c.get(server.url)
    assert "continuation" in str(info.value).lower()


async def test_huge_header_list_is_rejected(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        fields = [(b":status", b"200")]
        fields += [(b"x-h%d" % i, b"v" * 1000) for i in range(h2p.MAX_HEADER_LIST_SIZE // 1000)]
        peer.conn.send_headers(request.stream_id, fields, end_stream=True)
        peer.flush()
        await asyncio.sleep(1)

    server = await h2peer(script)
    async with client() as c:
        with pytest.raises(RemoteProtocolError):
            await c.get(server.url)


async def test_server_push_is_refused_by_settings(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        assert peer.conn.remote_settings.enable_push == 0
        peer.respond(request.stream_id, 200, b"ok")
        await asyncio.sleep(1)

    server = await h2peer(script)
    async with client() as c:
        assert (await c.get(server.url)).content == b"ok"


# -- CN-02: cancellation, early close, timeouts -------------------------------------------------


def resets(peer: H2Peer) -> dict[int, int]:
    return {
        e.stream_id or 0: int(e.error_code or 0)
        for e in peer.events
        if isinstance(e, h2.events.StreamReset)
    }


async def test_cancelling_one_request_resets_only_its_stream(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        slow = await peer.full_request()
        fast = await peer.full_request()
        peer.respond(fast.stream_id, 200, b"fast")
        await asyncio.wait_for(slow.ended.wait(), 5)
        await serve_forever(peer)

    server = await h2peer(script)
    async with client() as c:
        slow = asyncio.ensure_future(c.get(server.url + "/slow"))
        await asyncio.sleep(0.05)
        fast = await c.get(server.url + "/fast")
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert fast.content == b"fast"
        await asyncio.sleep(0.05)
        assert resets(server.peers[0]) == {1: CANCEL}
        assert (await c.get(server.url + "/again")).content == b"/again"
        assert c.get_pool_stats()["open"] == 1
    assert len(server.peers) == 1


async def test_closing_a_streamed_response_early_resets_its_stream(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        peer.conn.send_headers(request.stream_id, [(b":status", b"200")])
        sender = asyncio.ensure_future(peer.send_all(request.stream_id, b"b" * 10_000_000))
        try:
            await serve_forever(peer)
        finally:
            sender.cancel()

    server = await h2peer(script)
    async with client() as c:
        async with c.stream("GET", server.url) as r:
            async for _ in r.aiter_raw():
                break
        await asyncio.sleep(0.05)
        assert resets(server.peers[0]) == {1: CANCEL}
        assert (await c.get(server.url + "/next")).content == b"/next"
    assert len(server.peers) == 1


async def test_read_timeout_fails_only_the_silent_stream(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        await peer.full_request()  # never answered
        await serve_forever(peer)

    server = await h2peer(script)
    async with client(timeout=Timeout(5.0, read=0.3)) as c:
        silent = asyncio.ensure_future(c.get(server.url + "/silent"))
        await asyncio.sleep(0.05)
        for _ in range(3):
            assert (await c.get(server.url + "/live")).content == b"/live"
            await asyncio.sleep(0.1)
        with pytest.raises(ReadTimeout):
            await silent
        await asyncio.sleep(0.05)
        assert resets(server.peers[0]).get(1) == CANCEL
        assert (await c.get(server.url + "/after")).content == b"/after"
    assert len(server.peers) == 1


async def test_read_timeout_between_body_frames(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        peer.conn.send_headers(request.stream_id, [(b":status", b"200")])
        peer.conn.send_data(request.stream_id, b"part")
        peer.flush()
        await asyncio.sleep(3)

    server = await h2peer(script)
    async with client(timeout=Timeout(5.0, read=0.3)) as c:
        with pytest.raises(ReadTimeout):
            await c.get(server.url)


# -- PING health checks ------------------------------------------------------------------------


def pinging_client(interval: float | None, **kwargs: object) -> Client:
    transport = HTTPTransport(http2="prior-knowledge", http2_ping_interval=interval)
    kwargs.setdefault("timeout", Timeout(5.0, read=None))
    return Client(transport=transport, **kwargs)  # type: ignore[arg-type]


def pings(peer: H2Peer) -> int:
    return sum(isinstance(e, h2.events.PingReceived) for e in peer.events)


async def test_a_dead_connection_fails_its_streams_instead_of_hanging(
    h2peer: PeerFactory,
) -> None:
    # The server takes the request, then goes silent: nothing it would send (the response,
    # PING acknowledgements) ever leaves. With no read timeout only the PING can tell.
    async def script(peer: H2Peer) -> None:
        await peer.full_request()
        peer.hold = True
        await asyncio.sleep(10)

    server = await h2peer(script)
    async with pinging_client(0.2) as c:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReadError, match="PING") as info:
            await asyncio.wait_for(c.get(server.url), 5)
        assert 0.3 <= loop.time() - started < 2.0  # one interval of silence, one to answer
        assert info.value.request is not None
        assert c.get_pool_stats()["open"] == 0
    assert pings(server.peers[0]) >= 1


async def test_a_slow_but_live_server_is_pinged_and_kept(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        await asyncio.sleep(0.8)  # four intervals; every PING is answered meanwhile
        peer.respond(request.stream_id, 200, b"late")
        await asyncio.sleep(10)

    server = await h2peer(script)
    async with pinging_client(0.2) as c:
        r = await asyncio.wait_for(c.get(server.url), 5)
        assert r.content == b"late"
    assert pings(server.peers[0]) >= 2


async def test_reuse_after_silence_sends_a_ping_with_the_request(h2peer: PeerFactory) -> None:
    served: list[int] = []

    async def script(peer: H2Peer) -> None:
        while True:
            request = await peer.full_request(timeout=30)
            served.append(pings(peer))
            peer.respond(request.stream_id, 200, b"ok")

    server = await h2peer(script)
    async with pinging_client(0.2) as c:
        await c.get(server.url)
        await c.get(server.url)
        await asyncio.sleep(0.3)  # idle for longer than the interval
        await c.get(server.url)
    # No PING while the connection was talking; one went out with the request after idling.
    assert served[:2] == [0, 0]
    assert served[2] == 1


async def test_pings_can_be_turned_off(h2peer: PeerFactory) -> None:
    async def script(peer: H2Peer) -> None:
        request = await peer.full_request()
        await asyncio.sleep(0.3)
        peer.respond(request.stream_id, 200, b"ok")
        await asyncio.sleep(10)

    server = await h2peer(script)
    async with pinging_client(None) as c:
        assert (await c.get(server.url)).content == b"ok"
    assert pings(server.peers[0]) == 0


def test_ping_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="http2_ping_interval"):
        HTTPTransport(http2_ping_interval=0)


# -- RFC 9113 §5.1.1: stream ids run out ----------------------------------------------------------


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
async def test_a_connection_out_of_stream_ids_is_retired_for_a_new_one(
    h2peer: PeerFactory, monkeypatch: pytest.MonkeyPatch, concurrent: bool
) -> None:
    # The real limit (2^31 - 1) takes a billion requests; the named constant is lowered so
    # that a connection has ids for four streams (1, 3, 5, 7).
    monkeypatch.setattr(h2p, "LAST_STREAM_ID", 7)
    server = await h2peer(serve_forever)
    async with client() as c:
        if concurrent:
            responses = await asyncio.gather(*(c.get(f"{server.url}/{i}") for i in range(10)))
        else:
            responses = [await c.get(f"{server.url}/{i}") for i in range(10)]
    assert [r.content for r in responses] == [f"/{i}".encode() for i in range(10)]
    assert len(server.peers) >= 3
    assert all(max(peer.requests) <= 7 for peer in server.peers if peer.requests)
