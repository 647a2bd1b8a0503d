"""HTTP/1.1 bodies that never end, and consumers slower than the server (checklist RL-01,
RL-03), against scripted loopback servers."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hyperhttp import Client, ResponseTooLarge
from hyperhttp._transports._h1_connection import BODY_HIGH_WATER

from .conftest import ServerFactory
from .scripted import ServerConn, check_error, with_userinfo

EMPTY = {"open": 0, "idle": 0, "active": 0, "waiting": 0, "origins": 0}
PIECE = 16 * 1024


def endless(framing: str, sent: list[int], gone: asyncio.Event) -> object:
    """A script answering with a body that never ends, until the client goes away."""

    async def script(conn: ServerConn) -> None:
        await conn.read_request()
        try:
            if framing == "chunked":
                await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                piece = b"%x\r\n" % PIECE + b"z" * PIECE + b"\r\n"
            else:  # delimited by the close, which never comes
                await conn.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                piece = b"z" * PIECE
            while True:
                await conn.send(piece)
                sent[0] += PIECE
        finally:
            gone.set()

    return script


@pytest.mark.parametrize("framing", ["chunked", "until-close"])
@pytest.mark.parametrize("stream", [False, True], ids=["read", "stream"])
async def test_endless_body_stops_at_max_response_size(
    scripted: ServerFactory, framing: str, stream: bool
) -> None:
    """RL-01: ResponseTooLarge soon after the cap, and the connection is closed (the server's
    writes fail), whether the body is read whole or streamed."""
    sent = [0]
    gone = asyncio.Event()
    server = await scripted(endless(framing, sent, gone))  # type: ignore[arg-type]
    cap = 256 * 1024
    loop = asyncio.get_running_loop()
    async with Client(max_response_size=cap, timeout=5.0) as client:
        started = loop.time()
        with pytest.raises(ResponseTooLarge) as info:
            if stream:
                async with client.stream("GET", with_userinfo(server.url)) as r:
                    async for _ in r.aiter_bytes():
                        pass
            else:
                await client.get(with_userinfo(server.url))
        assert loop.time() - started < 1.0
        check_error(info.value)
        await asyncio.wait_for(gone.wait(), 2.0)
        assert client.get_pool_stats() == EMPTY
    # the client stopped reading near the cap: what the server got out is the cap plus
    # what the socket buffers held, not an ever-growing amount
    assert sent[0] < cap + 32 * 1024 * 1024


async def test_slow_streaming_reader_stops_the_server(scripted: ServerFactory) -> None:
    """RL-03: while a streamed body is read slowly, the client stops reading the socket past
    BODY_HIGH_WATER buffered bytes; TCP flow control then stalls the server's writes. Once
    the reader catches up, reading resumes and the whole body arrives intact."""
    total = 48 * 1024 * 1024
    sent = [0]
    done = asyncio.Event()

    async def fast_writer(conn: ServerConn) -> None:
        sock = conn.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        piece = bytes(range(256)) * 256  # 64 KiB
        while sent[0] < total:
            await conn.send(piece)
            sent[0] += len(piece)
        done.set()
        await conn.wait_for_eof()

    server = await scripted(fast_writer)
    async with Client(timeout=5.0) as client:
        async with client.stream("GET", server.url) as r:
            chunks = r.aiter_raw()
            received = len(await chunks.__anext__())
            await asyncio.sleep(0.3)  # the consumer is busy: the client buffers, then pauses
            stalled_at = sent[0]
            await asyncio.sleep(0.3)
            # (a window probe may let one more piece through)
            assert sent[0] - stalled_at <= 256 * 1024, "the server's writes did not stall"
            assert not done.is_set()
            # bounded by our high-water mark plus the kernel's socket buffers
            assert stalled_at < BODY_HIGH_WATER + 16 * 1024 * 1024
            async for chunk in chunks:
                received += len(chunk)
        assert received == total
        assert done.is_set()
