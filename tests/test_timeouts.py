"""Timeouts over loopback sockets (checklist §1.8: TO-01..07).

Budgets are small (0.1-0.5 s) but each test leaves a wide margin between the timeout that
should fire and anything that should not, so a loaded CI machine does not flake them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import sys
from collections.abc import Iterator

import pytest

from hyperhttp import (
    Client,
    ConnectTimeout,
    Limits,
    PoolTimeout,
    ReadTimeout,
    Timeout,
    TimeoutException,
    WriteTimeout,
)

from .conftest import ServerFactory
from .scripted import ServerConn, check_error, keep_alive, response, with_userinfo


async def never_answer_first(conn: ServerConn) -> None:
    """Connection 0 reads the request and then stays silent; later ones answer."""
    if conn.index == 0:
        await conn.read_request()
        await conn.wait_for_eof()
        return
    await keep_alive(lambda request: response(b"ok"))(conn)


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A loopback port whose accept queue is full, so a new connect never completes.

    The listener never accepts; ``listen(0)`` leaves room for one pending connection, which a
    couple of raw connects fill. Linux then drops further SYNs, so ``connect()`` hangs.
    """
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        probe = socket.socket()
        fillers.append(probe)
        probe.settimeout(0.1)
        try:
            probe.connect(("127.0.0.1", port))
        except TimeoutError:
            pass
        else:
            pytest.skip("this platform completes connects beyond the listen backlog")
        yield port
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


# -- TO-01: connect ---------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs")
async def test_connect_timeout_when_the_backlog_is_full() -> None:
    with full_backlog() as port:
        loop = asyncio.get_running_loop()
        async with Client(timeout=Timeout(5.0, connect=0.2)) as client:
            started = loop.time()
            with pytest.raises(ConnectTimeout) as info:
                await client.get(with_userinfo(f"http://127.0.0.1:{port}/"))
            assert loop.time() - started < 2.0
            check_error(info.value)
            assert client.get_pool_stats()["open"] == 0


async def test_connect_timeout_covers_the_tls_handshake(scripted: ServerFactory) -> None:
    async def accept_tcp_but_never_speak_tls(conn: ServerConn) -> None:
        await conn.hang()

    server = await scripted(accept_tcp_but_never_speak_tls)
    url = server.url.replace("http://", "https://")
    loop = asyncio.get_running_loop()
    async with Client(timeout=Timeout(5.0, connect=0.2)) as client:
        started = loop.time()
        with pytest.raises(ConnectTimeout) as info:
            await client.get(with_userinfo(url))
        assert 0.15 < loop.time() - started < 2.0
        check_error(info.value)
        assert client.get_pool_stats()["open"] == 0
    assert server.accepted == 1


# -- TO-02: read ------------------------------------------------------------------------------


async def test_read_timeout_when_the_server_never_answers(scripted: ServerFactory) -> None:
    server = await scripted(never_answer_first)
    loop = asyncio.get_running_loop()
    async with Client(timeout=Timeout(5.0, read=0.2)) as client:
        started = loop.time()
        with pytest.raises(ReadTimeout) as info:
            await client.get(with_userinfo(server.url))
        assert 0.15 < loop.time() - started < 2.0
        check_error(info.value)
        # closed, not pooled: the next request opens a new connection
        assert client.get_pool_stats()["open"] == 0
        assert (await client.get(server.url)).content == b"ok"
        assert server.accepted == 2


async def test_read_timeout_while_streaming_the_body(scripted: ServerFactory) -> None:
    async def stall_mid_body(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
        await conn.wait_for_eof()

    server = await scripted(stall_mid_body)
    async with Client(timeout=Timeout(5.0, read=0.2)) as client:
        async with client.stream("GET", with_userinfo(server.url)) as r:
            with pytest.raises(ReadTimeout) as info:
                await r.aread()
        check_error(info.value)
        assert client.get_pool_stats()["open"] == 0


async def test_read_timeout_is_per_byte_not_per_response(scripted: ServerFactory) -> None:
    body = b"0123456789"

    async def drip_body(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        await conn.drip(body, 0.05)  # 0.5 s in all, never more than 0.05 s of silence

    server = await scripted(drip_body)
    loop = asyncio.get_running_loop()
    async with Client(timeout=Timeout(5.0, read=0.2)) as client:
        started = loop.time()
        r = await client.get(server.url)
        assert r.content == body
        assert loop.time() - started > 0.4  # longer than the read timeout, in all


async def test_read_timeout_applies_between_bytes_of_the_head(scripted: ServerFactory) -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Padding: abcdefghijkl\r\nContent-Length: 2\r\n\r\n"

    async def drip_head(conn: ServerConn) -> None:
        await conn.read_request()
        # no event completes until the last piece: the timer must re-arm from each byte
        await conn.drip(head, 0.05, size=6)
        await conn.send(b"ok")
        await conn.wait_for_eof()

    server = await scripted(drip_head)
    loop = asyncio.get_running_loop()
    async with Client(timeout=Timeout(5.0, read=0.2)) as client:
        started = loop.time()
        r = await client.get(server.url)
        assert r.content == b"ok"
        assert loop.time() - started > 0.4


async def test_read_timeout_counts_from_the_last_byte(scripted: ServerFactory) -> None:
    async def then_stall(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        await conn.drip(b"12345", 0.05)
        await conn.wait_for_eof()

    server = await scripted(then_stall)
    loop = asyncio.get_running_loop()
    async with Client(timeout=Timeout(5.0, read=0.3)) as client:
        started = loop.time()
        with pytest.raises(ReadTimeout):
            await client.get(server.url)
        # ~0.25 s of dripping, then 0.3 s of silence
        assert loop.time() - started > 0.5


# -- TO-03: write -----------------------------------------------------------------------------


async def test_write_timeout_when_the_server_stops_reading(scripted: ServerFactory) -> None:
    async def never_read(conn: ServerConn) -> None:
        await conn.hang()

    server = await scripted(never_read)
    loop = asyncio.get_running_loop()
    async with Client(timeout=Timeout(5.0, write=0.2)) as client:
        started = loop.time()
        with pytest.raises(WriteTimeout) as info:
            await client.post(with_userinfo(server.url), content=b"x" * (50 * 1024 * 1024))
        assert loop.time() - started < 3.0
        check_error(info.value)
        assert client.get_pool_stats()["open"] == 0


async def test_write_timeout_with_a_streamed_body(scripted: ServerFactory) -> None:
    async def never_read(conn: ServerConn) -> None:
        await conn.hang()

    async def chunks() -> object:
        for _ in range(1000):
            yield b"x" * 65536

    server = await scripted(never_read)
    async with Client(timeout=Timeout(5.0, write=0.2)) as client:
        with pytest.raises(WriteTimeout) as info:
            await client.post(server.url, content=chunks())  # type: ignore[arg-type]
        check_error(info.value)
        assert client.get_pool_stats()["open"] == 0


# -- TO-04: pool ------------------------------------------------------------------------------


async def test_pool_timeout_fires_within_its_budget(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda request: response(b"ok")))
    loop = asyncio.get_running_loop()
    async with Client(max_connections=1, timeout=Timeout(5.0, pool=0.1)) as client:
        holder = await client.stream("GET", server.url)
        started = loop.time()
        with pytest.raises(PoolTimeout) as info:
            await client.get(with_userinfo(server.url))
        assert 0.05 < loop.time() - started < 2.0
        check_error(info.value)
        assert isinstance(info.value, TimeoutException)
        assert client.get_pool_stats()["waiting"] == 0
        await holder.aclose()


async def test_pool_timeout_zero_fails_at_once_when_busy(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda request: response(b"ok")))
    async with Client(max_connections=1, timeout=Timeout(5.0, pool=0)) as client:
        assert (await client.get(server.url)).content == b"ok"  # a free slot: no wait needed
        async with client.stream("GET", server.url):
            with pytest.raises(PoolTimeout):
                await client.get(server.url)
        assert client.get_pool_stats()["waiting"] == 0


# -- TO-06: timers belong to one request ------------------------------------------------------


async def test_read_timer_of_a_pooled_connection_does_not_fire_into_the_next_request(
    scripted: ServerFactory,
) -> None:
    async def second_answer_is_slow(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response(b"fast"))
        await conn.read_request()
        await asyncio.sleep(0.1)
        await conn.send(response(b"slow"))
        await conn.wait_for_eof()

    server = await scripted(second_answer_is_slow)
    async with Client(timeout=Timeout(5.0, read=0.3)) as client:
        assert (await client.get(server.url)).content == b"fast"
        # Idle for longer than the read timeout: a timer left over from the first request
        # (or one armed from its last read) would fail the second.
        await asyncio.sleep(0.4)
        assert (await client.get(server.url)).content == b"slow"
        assert server.accepted == 1


async def test_reused_connection_uses_the_new_requests_read_timeout(
    scripted: ServerFactory,
) -> None:
    async def second_answer_is_slow(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response(b"fast"))
        await conn.read_request()
        await asyncio.sleep(0.3)
        await conn.send(response(b"slow"))
        await conn.wait_for_eof()

    server = await scripted(second_answer_is_slow)
    async with Client(timeout=Timeout(5.0, read=0.1)) as client:
        await client.get(server.url)
        r = await client.get(server.url, timeout=Timeout(5.0, read=1.0))
        assert r.content == b"slow"
        assert server.accepted == 1


# -- per-request overrides ----------------------------------------------------------------------


async def test_per_request_timeout_overrides_the_clients(scripted: ServerFactory) -> None:
    async def slow(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await asyncio.sleep(0.3)
            await conn.send(response(b"ok"))

    server = await scripted(slow)
    async with Client(timeout=Timeout(5.0, read=0.1)) as client:
        assert (await client.get(server.url, timeout=1.0)).content == b"ok"
        with pytest.raises(ReadTimeout):
            await client.get(server.url)
    async with Client(timeout=5.0) as client:
        with pytest.raises(ReadTimeout):
            await client.get(server.url, timeout=Timeout(5.0, read=0.1))


async def test_timeout_none_disables_the_read_timeout(scripted: ServerFactory) -> None:
    async def slow(conn: ServerConn) -> None:
        await conn.read_request()
        await asyncio.sleep(0.3)
        await conn.send(response(b"ok"))
        await conn.wait_for_eof()

    server = await scripted(slow)
    async with Client(timeout=Timeout(0.1, read=None)) as client:
        assert (await client.get(server.url)).content == b"ok"


# -- TO-07: invalid values fail at construction -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1, ValueError),
        (-0.001, ValueError),
        (math.nan, ValueError),
        ("5", TypeError),
        (True, TypeError),
        (b"5", TypeError),
        ([5], TypeError),
    ],
)
def test_invalid_timeout_values_are_rejected(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Timeout(value)  # type: ignore[arg-type]
    for name in ("connect", "read", "write", "pool", "total"):
        with pytest.raises(error):
            Timeout(5.0, **{name: value})  # type: ignore[arg-type]
    with pytest.raises(error):
        Client(timeout=value)  # type: ignore[arg-type]


def test_invalid_connect_timeout_keyword_is_rejected() -> None:
    with pytest.raises(ValueError):
        Client(connect_timeout=-1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_connections": 0}, ValueError),
        ({"max_connections": "10"}, TypeError),
        ({"max_keepalive_connections": -1}, ValueError),
        ({"keepalive_expiry": math.nan}, ValueError),
        ({"keepalive_expiry": -1}, ValueError),
    ],
)
def test_invalid_limits_are_rejected(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Limits(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(error):
        Client(**kwargs)  # type: ignore[arg-type]


def test_timeout_values() -> None:
    t = Timeout(1.0, connect=2.0)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (2.0, 1.0, 1.0, 1.0, None)
    assert Timeout(math.inf).read is None
    assert Timeout(None).read is None


# -- TO-05: a total deadline against drip-feeding servers ---------------------------------------


def _drip_forever(part: str) -> object:
    """Keep every read short of the read timeout, forever: 1 byte of head per 100 ms, or a
    chunked body of one-byte chunks every 20 ms."""

    async def script(conn: ServerConn) -> None:
        await conn.read_request()
        if part == "head":
            await conn.drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000, 0.1)
        else:
            await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:
                await conn.send(b"1\r\nz\r\n")
                await asyncio.sleep(0.02)

    return script


@pytest.mark.parametrize("part", ["head", "body"])
async def test_total_timeout_stops_a_drip_feed(scripted: ServerFactory, part: str) -> None:
    """TO-05: no read ever waits past the read timeout (0.3 s), so only Timeout(total=0.5)
    ends the request: at about 0.5 s, with the connection closed."""
    server = await scripted(_drip_forever(part))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    async with Client(timeout=Timeout(5.0, read=0.3, total=0.5)) as client:
        started = loop.time()
        with pytest.raises(TimeoutException) as info:
            await client.get(with_userinfo(server.url))
        elapsed = loop.time() - started
        assert 0.45 < elapsed < 1.0, elapsed
        assert not isinstance(info.value, ReadTimeout)
        assert "total" in str(info.value)
        check_error(info.value)
        assert client.get_pool_stats()["open"] == 0
