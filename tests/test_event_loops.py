"""The client works on both event loops users run it on: asyncio's and uvloop's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import hyperhttp

from .scripted import ScriptedServer, keep_alive, response

uvloop = pytest.importorskip("uvloop")


async def _three_requests_on_one_connection() -> tuple[list[bytes], int]:
    server = await ScriptedServer(keep_alive(lambda _: response(b"Hello, World!"))).start()
    try:
        async with hyperhttp.Client() as client:
            bodies = [(await client.get(server.url + "/")).content for _ in range(3)]
        return bodies, server.accepted
    finally:
        await server.aclose()


@pytest.mark.parametrize(
    "new_loop",
    [asyncio.new_event_loop, uvloop.new_event_loop],
    ids=["asyncio", "uvloop"],
)
def test_requests_and_keep_alive_work_on_each_loop(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    # uvloop's create_connection has no happy_eyeballs_delay, and its transports do not
    # subclass asyncio.Transport: both broke every request once.
    loop = new_loop()
    try:
        bodies, accepted = loop.run_until_complete(_three_requests_on_one_connection())
    finally:
        loop.close()
    assert bodies == [b"Hello, World!"] * 3
    assert accepted == 1
