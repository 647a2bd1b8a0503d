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


async def _http2_workout(url: str, ca_file: str) -> None:
    """Concurrent streams, a multi-window body both ways and a per-stream read timeout."""
    async with hyperhttp.Client(verify=ca_file, timeout=hyperhttp.Timeout(5.0)) as client:
        responses = await asyncio.gather(*(client.get(f"{url}/small") for _ in range(150)))
        assert {r.http_version for r in responses} == {"HTTP/2"}
        assert all(r.content == b"small" for r in responses)
        echoed = await client.post(f"{url}/echo", content=b"x" * 300_000)
        assert echoed.content == b"x" * 300_000
        with pytest.raises(hyperhttp.ReadTimeout):
            await client.get(f"{url}/slow", timeout=hyperhttp.Timeout(5.0, read=0.2))
        assert (await client.get(f"{url}/small")).content == b"small"  # the connection lives


@pytest.mark.parametrize(
    "new_loop",
    [asyncio.new_event_loop, uvloop.new_event_loop],
    ids=["asyncio", "uvloop"],
)
def test_http2_over_tls_works_on_each_loop(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    # uvloop has its own TLS transport and timers (each call_at is a libuv timer): the
    # HTTP/2 connection's batching of writes and its one read timer must hold on both.
    from hyperhttp.testing import Fault, HTTPServer

    with HTTPServer(http2=True, tls=True) as server:
        server.expect_request("/small").respond_with_data("small")
        server.expect_request("/echo", method="POST").respond_with_handler(
            lambda request: request.get_data()
        )
        server.expect_request("/slow").respond_with_data("late").with_fault(Fault.delay(2.0))
        loop = new_loop()
        try:
            loop.run_until_complete(_http2_workout(server.url_for("").rstrip("/"), server.ca_file))
        finally:
            loop.close()
