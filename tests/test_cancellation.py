"""Cancellation over loopback sockets (checklist §1.11: CN-01, CN-03, CN-04).

A request is interrupted at each place it can wait (pool slot, connect + TLS handshake,
request write, response head, response body), three ways: ``task.cancel()``,
``asyncio.wait_for`` and ``asyncio.timeout``. Each time the interruption must come out as
asyncio's own exception, unchanged; the pool must hold no active or half-open connection;
and the next request must succeed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from hyperhttp import Client, HyperHTTPError, ReadTimeout, Timeout

from .conftest import ServerFactory
from .scripted import ScriptedServer, ServerConn, keep_alive, response, wait_until

HOW = [
    "cancel",
    "wait_for",
    pytest.param(
        "timeout",
        marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+"),
    ),
]

EMPTY = {"open": 0, "idle": 0, "active": 0, "waiting": 0, "origins": 0}
# Internal timeouts far longer than the interruption, so only the caller's can fire.
PATIENT = Timeout(5.0)


async def interrupt(
    how: str, coro: Coroutine[Any, Any, object], reached: Callable[[], bool]
) -> None:
    """Run ``coro`` and interrupt it once ``reached()`` (or after a short delay)."""
    if how == "cancel":
        task = asyncio.ensure_future(coro)
        await wait_until(lambda: reached() or task.done())
        assert not task.done(), "the request finished before it could be cancelled"
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        assert task.cancelled()
        assert not isinstance(info.value, HyperHTTPError)
    elif how == "wait_for":
        # CN-04: the caller's timeout is asyncio's TimeoutError, not one of ours
        with pytest.raises(asyncio.TimeoutError) as timeout_info:
            await asyncio.wait_for(coro, 0.2)
        assert not isinstance(timeout_info.value, HyperHTTPError)
    else:
        with pytest.raises(TimeoutError) as timeout_info:
            async with asyncio.timeout(0.2):  # type: ignore[attr-defined]
                await coro
        assert not isinstance(timeout_info.value, HyperHTTPError)
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0  # the cancellation was neither swallowed nor doubled


def answering() -> Callable[[ServerConn], Awaitable[None]]:
    return keep_alive(lambda request: response(b"ok"))


async def next_request_succeeds(client: Client, server: ScriptedServer) -> None:
    r = await client.get(server.url, timeout=Timeout(2.0, pool=0.5))
    assert r.content == b"ok"


# -- CN-01 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
async def test_cancel_while_waiting_for_a_pool_slot(scripted: ServerFactory, how: str) -> None:
    server = await scripted(answering())
    async with Client(max_connections=1, timeout=PATIENT) as client:
        holder = await client.stream("GET", server.url)
        await interrupt(
            how, client.get(server.url), lambda: client.get_pool_stats()["waiting"] == 1
        )
        stats = client.get_pool_stats()
        assert (stats["waiting"], stats["active"], stats["open"]) == (0, 1, 1)
        await holder.aclose()
        await next_request_succeeds(client, server)
        assert len(server.requests) == 2


async def test_cancel_in_the_instant_a_connection_is_handed_over(
    scripted: ServerFactory,
) -> None:
    server = await scripted(answering())
    async with Client(max_connections=1, timeout=PATIENT) as client:
        holder = await client.stream("GET", server.url)
        task = asyncio.create_task(client.get(server.url))
        await wait_until(lambda: client.get_pool_stats()["waiting"] == 1)
        await holder.aread()  # body already here: hands the connection over without yielding
        task.cancel()  # ...and the waiter is cancelled before it could run
        with pytest.raises(asyncio.CancelledError):
            await task
        # The connection went back to the pool instead of leaking with the dead waiter.
        assert client.get_pool_stats() == {
            "open": 1,
            "idle": 1,
            "active": 0,
            "waiting": 0,
            "origins": 1,
        }
        await next_request_succeeds(client, server)
        assert server.accepted == 1


@pytest.mark.parametrize("how", HOW)
async def test_cancel_during_connect_and_tls_handshake(scripted: ServerFactory, how: str) -> None:
    async def never_speak_tls(conn: ServerConn) -> None:
        await conn.hang()

    silent = await scripted(never_speak_tls)
    good = await scripted(answering())
    async with Client(max_connections=1, timeout=PATIENT) as client:
        await interrupt(
            how,
            client.get(silent.url.replace("http://", "https://")),
            lambda: silent.accepted == 1,
        )
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, good)


def stalling(phase: str, stalled: list[str]) -> Callable[[ServerConn], Awaitable[None]]:
    """Answer every request, except one to ``/stall``: that one stalls in ``phase``.

    Choosing by path rather than by connection keeps the test right even when the caller's
    timeout fires before the interrupted request got as far as connecting.
    """

    async def script(conn: ServerConn) -> None:
        while True:
            try:
                head = await conn.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if not head.startswith((b"GET /stall ", b"POST /stall ")):
                await conn.send(response(b"ok"))
                continue
            stalled.append(phase)
            if phase == "write":
                await conn.hang()  # stop reading the body
                return
            if phase == "body":
                await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            await conn.wait_for_eof()
            return

    return script


@pytest.mark.parametrize("how", HOW)
async def test_cancel_while_sending_the_request_body(scripted: ServerFactory, how: str) -> None:
    stalled: list[str] = []
    server = await scripted(stalling("write", stalled))
    async with Client(max_connections=1, timeout=PATIENT) as client:
        body = b"x" * (20 * 1024 * 1024)
        await interrupt(
            how, client.post(f"{server.url}/stall", content=body), lambda: bool(stalled)
        )
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, server)


@pytest.mark.parametrize("how", HOW)
async def test_cancel_while_waiting_for_the_response_head(
    scripted: ServerFactory, how: str
) -> None:
    stalled: list[str] = []
    server = await scripted(stalling("head", stalled))
    async with Client(max_connections=1, timeout=PATIENT) as client:
        await interrupt(how, client.get(f"{server.url}/stall"), lambda: bool(stalled))
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, server)


@pytest.mark.parametrize("how", HOW)
async def test_cancel_while_reading_the_body(scripted: ServerFactory, how: str) -> None:
    stalled: list[str] = []
    server = await scripted(stalling("body", stalled))
    received: list[bytes] = []

    async def stream_it() -> None:
        async with client.stream("GET", f"{server.url}/stall") as r:
            async for chunk in r.aiter_bytes():
                received.append(chunk)

    async with Client(max_connections=1, timeout=PATIENT) as client:
        await interrupt(how, stream_it(), lambda: bool(received))
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, server)


@pytest.mark.parametrize("how", HOW)
async def test_cancel_while_reading_the_body_with_get(scripted: ServerFactory, how: str) -> None:
    stalled: list[str] = []
    server = await scripted(stalling("body", stalled))
    async with Client(max_connections=1, timeout=PATIENT) as client:
        await interrupt(how, client.get(f"{server.url}/stall"), lambda: bool(stalled))
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, server)


async def answer_late_on_first(conn: ServerConn) -> None:
    """Connection 0 reads a request and never answers; later ones answer."""
    if conn.index == 0:
        await conn.read_request()
        await conn.wait_for_eof()
        return
    await answering()(conn)


async def stall_mid_body_on_first(conn: ServerConn) -> None:
    if conn.index == 0:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await conn.wait_for_eof()
        return
    await answering()(conn)


# -- CN-04: our timeouts and the caller's are told apart ----------------------------------------


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")
async def test_internal_read_timeout_inside_a_callers_timeout(scripted: ServerFactory) -> None:
    server = await scripted(answer_late_on_first)
    async with Client(timeout=Timeout(5.0, read=0.1)) as client:
        async with asyncio.timeout(5.0):  # type: ignore[attr-defined]
            with pytest.raises(ReadTimeout):
                await client.get(server.url)
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        assert client.get_pool_stats() == EMPTY


async def test_internal_read_timeout_inside_wait_for(scripted: ServerFactory) -> None:
    server = await scripted(answer_late_on_first)
    async with Client(timeout=Timeout(5.0, read=0.1)) as client:
        with pytest.raises(ReadTimeout):
            await asyncio.wait_for(client.get(server.url), 5.0)


# -- CN-03: leaving a stream early --------------------------------------------------------------


@pytest.mark.parametrize("iterator", ["aiter_bytes", "aiter_raw", "aiter_text", "aiter_lines"])
async def test_breaking_out_of_a_stream_closes_the_connection(
    scripted: ServerFactory, iterator: str
) -> None:
    async def long_body_first(conn: ServerConn) -> None:
        if conn.index == 0:
            await conn.read_request()
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nline one\nline")
            await conn.wait_for_eof()
            return
        await answering()(conn)

    server = await scripted(long_body_first)
    async with Client(timeout=PATIENT) as client:
        async with client.stream("GET", server.url) as r:
            async for _ in getattr(r, iterator)():
                break
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, server)
        assert server.accepted == 2


async def test_exception_inside_a_stream_block_closes_the_connection(
    scripted: ServerFactory,
) -> None:
    server = await scripted(stall_mid_body_on_first)
    async with Client(timeout=PATIENT) as client:
        with pytest.raises(KeyError):
            async with client.stream("GET", server.url):
                raise KeyError("user code failed")
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, server)


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.wait_for has this race before 3.12; no fix on 3.10"
)
async def test_cancel_as_the_connect_completes_is_not_swallowed(
    scripted: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancellation lands in the instant the TCP connect finishes.

    asyncio.wait_for (before 3.12) then returns the connection and drops the cancellation, so
    the request would go on as if nothing happened (CPython gh-86296).
    """
    server = await scripted(answering())
    loop = asyncio.get_running_loop()
    real_create_connection = loop.create_connection
    task: asyncio.Task[object] | None = None

    # Same keywords as the real one: the transport inspects its signature (and caches that).
    async def create_connection(
        *args: Any, happy_eyeballs_delay: float | None = None, **kwargs: Any
    ) -> Any:
        if happy_eyeballs_delay is not None:
            kwargs["happy_eyeballs_delay"] = happy_eyeballs_delay
        result = await real_create_connection(*args, **kwargs)
        assert task is not None
        loop.call_soon(task.cancel)  # runs before whoever awaits us is woken up
        return result

    monkeypatch.setattr(loop, "create_connection", create_connection)
    async with Client(timeout=PATIENT) as client:
        task = asyncio.create_task(client.get(server.url))
        with pytest.raises(asyncio.CancelledError):
            await task
        monkeypatch.undo()
        assert client.get_pool_stats() == EMPTY
        await next_request_succeeds(client, server)
