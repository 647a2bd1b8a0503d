"""HTTP/2 client, against the byte-exact peer: GOAWAY with an error (H2-02), credit for data
on a cancelled stream (CN-02), and ``Host`` as ``:authority`` (R-05)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from hyperframe.frame import WindowUpdateFrame

from hyperhttp import RemoteProtocolError
from hyperhttp._protocol import h2_client as h2p

from .h2_raw_peer import (
    CANCEL,
    INITIAL_WINDOW_SIZE,
    PROTOCOL_ERROR,
    STATUS_200,
    RawPeer,
    RawServerFactory,
    answered,
    expect_failure,
    h2_client,
    start_request,
)

# -- H2-02: GOAWAY with an error code ---------------------------------------------------------


async def test_goaway_with_an_error_fails_processed_streams_and_retries_the_rest(
    raw_h2: RawServerFactory,
) -> None:
    """H2-02: GOAWAY(last_stream_id=3, PROTOCOL_ERROR), then the server closes. Streams 1 and 3
    may have been processed: each fails with a typed error as soon as the connection closes
    (never resent, never left hanging); stream 5 was not: it is resent on a new connection."""
    server = await raw_h2()
    async with h2_client() as c:
        loop = asyncio.get_running_loop()
        first, peer, r1 = await start_request(server, c, "/1")
        second, _, r3 = await start_request(server, c, "/3", peer=peer, method="POST", content=b"x")
        third, _, r5 = await start_request(server, c, "/5", peer=peer)
        assert (r1.stream_id, r3.stream_id, r5.stream_id) == (1, 3, 5)
        peer.send_goaway(last_stream_id=3, code=PROTOCOL_ERROR)
        await peer.drain()
        await asyncio.sleep(0.05)
        started = loop.time()
        peer.close()
        for pending in (first, second):
            error = await expect_failure(pending, RemoteProtocolError, within=1.0)
            assert loop.time() - started < 1.0
            assert "PROTOCOL_ERROR" in str(error) or "closed" in str(error).lower()
        retry_peer = await server.accept()
        retried = await retry_peer.full_request()
        assert retried.path == b"/5"
        retry_peer.respond(retried.stream_id, body=b"five")
        assert (await answered(third)).content == b"five"  # type: ignore[attr-defined]
    assert len(server.peers) == 2
    assert [r.path for r in server.peers[1].requests.values()] == [b"/5"]


# -- CN-02: data on a stream we reset still counts against the connection window ----------------


class ClientWindows:
    """The peer's view of the client's receive windows, so it sends only what the client
    allows: if the client failed to return credit, the peer would run out of it and stall."""

    def __init__(self, peer: RawPeer) -> None:
        self.peer = peer
        self.sent: defaultdict[int, int] = defaultdict(int)  # stream 0: the connection

    def credit(self, stream_id: int) -> int:
        initial = 65_535
        if stream_id:
            initial = self.peer.client_settings.get(INITIAL_WINDOW_SIZE, 65_535)
        granted = sum(
            frame.window_increment
            for frame in self.peer.received(WindowUpdateFrame)
            if frame.stream_id == stream_id
        )
        return initial + granted - self.sent[stream_id]

    async def send(self, stream_id: int, size: int, end_stream: bool = False) -> None:
        loop = asyncio.get_running_loop()
        stalled_since: float | None = None
        while size:
            chunk = min(16_384, size, self.credit(0), self.credit(stream_id))
            if chunk <= 0:
                now = loop.time()
                stalled_since = stalled_since or now
                assert now - stalled_since < 2.0, (
                    f"no credit: connection {self.credit(0)}, stream {self.credit(stream_id)}"
                )
                await asyncio.sleep(0.002)
                continue
            stalled_since = None
            size -= chunk
            self.sent[0] += chunk
            self.sent[stream_id] += chunk
            self.peer.send_data(stream_id, b"d" * chunk, end_stream=end_stream and not size)
            await self.peer.drain()


async def test_data_on_a_cancelled_stream_is_credited_to_the_connection(
    raw_h2: RawServerFactory,
) -> None:
    """CN-02 (RFC 9113 §6.9): the client cancels five downloads (RST_STREAM(CANCEL)); the
    server had already sent each stream's whole window (4 MiB), 20 MiB together, more than the
    16 MiB connection window. Unless the client credits discarded DATA back to the connection,
    the peer (which honours the windows) stalls and the last download never completes."""
    server = await raw_h2()
    per_stream = h2p.STREAM_WINDOW
    rounds = h2p.CONNECTION_WINDOW // per_stream + 1
    async with h2_client() as c:
        peer: RawPeer | None = None
        windows: ClientWindows | None = None
        for _ in range(rounds):
            pending, peer, request = await start_request(server, c, "/big", peer=peer)
            windows = windows or ClientWindows(peer)
            peer.send_headers(request.stream_id, STATUS_200)
            await windows.send(request.stream_id, 16_384)
            await asyncio.sleep(0.01)
            pending.cancel()
            await peer.expect_rst(request.stream_id, CANCEL)
            # DATA the server sent before it read the reset: the rest of the stream's window
            await windows.send(request.stream_id, per_stream - 16_384)
        assert peer is not None and windows is not None
        assert windows.sent[0] > h2p.CONNECTION_WINDOW
        pending, _, request = await start_request(server, c, "/last", peer=peer)
        peer.send_headers(
            request.stream_id, [(b":status", b"200"), (b"content-length", b"%d" % (2 * per_stream))]
        )
        await windows.send(request.stream_id, 2 * per_stream, end_stream=True)
        response = await answered(pending)
        assert len(response.content) == 2 * per_stream  # type: ignore[attr-defined]
    assert len(server.peers) == 1


# -- Host becomes :authority ------------------------------------------------------------


async def test_user_host_header_becomes_the_authority(raw_h2: RawServerFactory) -> None:
    """R-05 (RFC 9113 §8.3.1): a Host header given by the caller is sent as ``:authority``,
    and no ``host`` field is sent beside it."""
    server = await raw_h2()
    async with h2_client() as c:
        pending, peer, request = await start_request(
            server, c, "/p", headers={"Host": "Virtual.Example.test:8443"}
        )
        peer.respond(request.stream_id, body=b"ok")
        await answered(pending)
        plain, _, default = await start_request(server, c, "/q", peer=peer)
        peer.respond(default.stream_id, body=b"ok")
        await answered(plain)
    names = [name for name, _ in request.headers]
    assert b"host" not in names
    assert names.count(b":authority") == 1
    assert request.header(b":authority") == b"Virtual.Example.test:8443"
    assert default.header(b":authority") == f"127.0.0.1:{server.port}".encode()
    assert b"host" not in [name for name, _ in default.headers]
