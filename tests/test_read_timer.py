"""The per-connection read timer: one timer re-armed lazily across requests (TO-02, TO-06)."""

from __future__ import annotations

import asyncio
import time

import pytest

import hyperhttp

from .conftest import ServerFactory
from .scripted import ServerConn, response


async def test_short_timeout_after_a_long_one_on_the_same_connection(
    scripted: ServerFactory,
) -> None:
    async def script(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response(b"first"))
        await conn.read_request()
        await asyncio.sleep(5)  # never answers the second request in time

    server = await scripted(script)
    async with hyperhttp.Client() as client:
        first = await client.get(server.url, timeout=hyperhttp.Timeout(5.0, read=30.0))
        assert first.content == b"first"
        started = time.monotonic()
        with pytest.raises(hyperhttp.ReadTimeout) as info:
            await client.get(server.url, timeout=hyperhttp.Timeout(5.0, read=0.2))
        elapsed = time.monotonic() - started
    assert 0.15 < elapsed < 2.0, elapsed
    assert info.value.request is not None
    assert server.accepted == 1


async def test_a_timer_left_from_a_previous_request_does_not_fire_into_the_next(
    scripted: ServerFactory,
) -> None:
    async def script(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await asyncio.sleep(0.15)
            await conn.send(response(b"ok"))

    server = await scripted(script)
    async with hyperhttp.Client(timeout=hyperhttp.Timeout(5.0, read=0.3)) as client:
        # Each answer takes half the read timeout; back to back, a stale deadline from the
        # previous request would fire inside the next one.
        for _ in range(6):
            assert (await client.get(server.url)).content == b"ok"
    assert server.accepted == 1


async def test_read_timeout_is_between_bytes_not_for_the_whole_body(
    scripted: ServerFactory,
) -> None:
    async def script(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
        for byte in b"dripfeed":
            await asyncio.sleep(0.08)
            await conn.send(bytes([byte]))

    server = await scripted(script)
    async with hyperhttp.Client(timeout=hyperhttp.Timeout(5.0, read=0.4)) as client:
        r = await client.get(server.url)
    assert r.content == b"dripfeed"


async def test_timed_out_connection_is_not_reused(scripted: ServerFactory) -> None:
    async def script(conn: ServerConn) -> None:
        request = await conn.read_request()
        if conn.index == 0:
            await asyncio.sleep(5)
        while request is not None:
            await conn.send(response(b"fresh"))
            request = await conn.read_request()

    server = await scripted(script)
    async with hyperhttp.Client(timeout=hyperhttp.Timeout(5.0, read=0.2)) as client:
        with pytest.raises(hyperhttp.ReadTimeout):
            await client.get(server.url)
        assert (await client.get(server.url)).content == b"fresh"
        assert client.get_pool_stats()["open"] == 1
    assert server.accepted == 2
