"""Connection pool and keep-alive over real loopback sockets (checklist §1.9: PL-*, F-22).

Each test names the claim it proves; each fails if the defence behind the claim is removed.
The scripted server counts accepted connections, so "a new connection was used" is
``server.accepted`` going up.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
from collections.abc import AsyncIterator

import pytest

from hyperhttp import (
    Client,
    ConnectError,
    DecodingError,
    PoolTimeout,
    RemoteProtocolError,
    Response,
    Timeout,
)

from .conftest import ServerFactory
from .scripted import (
    RawRequest,
    ServerConn,
    check_error,
    free_port,
    keep_alive,
    response,
    wait_until,
    with_userinfo,
)


def ok(request: RawRequest) -> bytes:
    return response(b"ok")


def echo_path(request: RawRequest) -> bytes:
    return response(request.target)


def idle_stats() -> dict[str, int]:
    return {"open": 1, "idle": 1, "active": 0, "waiting": 0, "origins": 1}


EMPTY = {"open": 0, "idle": 0, "active": 0, "waiting": 0, "origins": 0}


async def head_and_part_then_hang(conn: ServerConn) -> None:
    """Answer the first request with half a body, then wait for the client to give up;
    answer any later connection normally."""
    if conn.index == 0:
        await conn.read_request()
        # The second half would look like a response of its own if the connection were
        # reused (the hyperhttp 2.1.0 desync).
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await conn.wait_for_eof()
        return
    await keep_alive(ok)(conn)


# -- keep-alive reuse -------------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(echo_path))
    async with Client() as client:
        for i in range(5):
            r = await client.get(f"{server.url}/{i}")
            assert r.content == f"/{i}".encode()
        assert server.accepted == 1
        assert len(server.requests) == 5
        assert client.get_pool_stats() == idle_stats()


async def test_idle_connections_are_reused_last_in_first_out(scripted: ServerFactory) -> None:
    async def which_connection(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(response(str(conn.index).encode()))

    server = await scripted(which_connection)
    async with Client() as client:
        first = await client.stream("GET", server.url)
        second = await client.stream("GET", server.url)  # the first is busy: a new one
        assert server.accepted == 2
        await first.aread()  # connection 0 goes idle first...
        await second.aread()  # ...then connection 1
        assert (await client.get(server.url)).content == b"1"
        # and the other way round
        first = await client.stream("GET", server.url)  # takes 1 (most recent)
        second = await client.stream("GET", server.url)  # takes 0
        assert (first.headers["content-length"], server.accepted) == ("1", 2)
        await first.aread()
        await second.aread()
        assert second.content == b"0"
        assert (await client.get(server.url)).content == b"0"
        assert server.accepted == 2


# -- PL-01: never reuse a connection with unread bytes ----------------------------------------


async def test_response_closed_before_body_is_read_is_not_reused(
    scripted: ServerFactory,
) -> None:
    server = await scripted(head_and_part_then_hang)
    async with Client() as client:
        r = await client.stream("GET", server.url)
        assert r.status_code == 200
        await r.aclose()
        assert client.get_pool_stats()["open"] == 0
        r2 = await client.get(server.url)
        assert r2.content == b"ok"
        assert server.accepted == 2


async def test_partially_read_stream_is_not_reused(scripted: ServerFactory) -> None:
    server = await scripted(head_and_part_then_hang)
    async with Client() as client:
        async with client.stream("GET", server.url) as r:
            async for chunk in r.aiter_bytes():
                assert chunk == b"x" * 10
                break
        assert client.get_pool_stats()["open"] == 0
        assert (await client.get(server.url)).content == b"ok"
        assert server.accepted == 2


async def test_fully_read_stream_is_reused(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda request: response(b"y" * 100_000)))
    async with Client() as client:
        async with client.stream("GET", server.url) as r:
            received = b"".join([chunk async for chunk in r.aiter_bytes()])
        assert len(received) == 100_000
        assert client.get_pool_stats() == idle_stats()
        await client.get(server.url)
        assert server.accepted == 1


# -- PL-02: the server closed the idle connection ---------------------------------------------


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_idle_connection_closed_by_server_is_not_reused(
    scripted: ServerFactory, how: str
) -> None:
    async def answer_once_then_close(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response(b"ok"))
        if how == "fin":
            await conn.close()
        else:
            conn.reset()

    server = await scripted(answer_once_then_close)
    async with Client() as client:
        await client.get(server.url)
        # The client notices the close while the connection idles and drops it.
        await wait_until(lambda: client.get_pool_stats()["open"] == 0)
        # A POST is never retried, so it succeeds only because the dead connection was
        # detected before anything was sent on it.
        r = await client.post(server.url, content=b"data")
        assert r.content == b"ok"
        assert server.accepted == 2
        assert [req.method for req in server.requests] == [b"GET", b"POST"]


# -- PL-03: closed after our request was written, before any response byte --------------------


async def answer_first_then_close_on_second(conn: ServerConn) -> None:
    if conn.index == 0:
        await conn.read_request()
        await conn.send(response(b"first"))
        await conn.read_request()  # the server "processed" it...
        await conn.close()  # ...and closed without answering
        return
    await keep_alive(lambda request: response(b"fresh"))(conn)


async def test_get_on_reused_connection_closed_without_answer_is_retried_once(
    scripted: ServerFactory,
) -> None:
    server = await scripted(answer_first_then_close_on_second)
    async with Client() as client:
        await client.get(server.url)
        r = await client.get(server.url)
        assert r.content == b"fresh"
        assert server.accepted == 2
        assert len(server.requests) == 3  # first, the lost one, the retry


async def test_post_on_reused_connection_closed_without_answer_is_not_retried(
    scripted: ServerFactory,
) -> None:
    server = await scripted(answer_first_then_close_on_second)
    async with Client() as client:
        await client.get(server.url)
        with pytest.raises(RemoteProtocolError) as info:
            await client.post(with_userinfo(server.url), content=b"pay 100")
        check_error(info.value)
        assert info.value.request is not None
        assert info.value.request.method == "POST"
        assert [req.method for req in server.requests] == [b"GET", b"POST"]
        assert server.accepted == 1
        assert client.get_pool_stats()["open"] == 0


async def test_get_on_fresh_connection_closed_without_answer_is_not_retried(
    scripted: ServerFactory,
) -> None:
    async def read_then_close(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.close()

    server = await scripted(read_then_close)
    async with Client() as client:
        with pytest.raises(RemoteProtocolError) as info:
            await client.get(with_userinfo(server.url))
        check_error(info.value)
        assert server.accepted == 1
        assert len(server.requests) == 1
        assert client.get_pool_stats() == EMPTY


async def test_stale_connection_retry_happens_at_most_once(scripted: ServerFactory) -> None:
    async def first_answers_then_all_close(conn: ServerConn) -> None:
        await conn.read_request()
        if conn.index == 0:
            await conn.send(response(b"first"))
            await conn.read_request()
        await conn.close()

    server = await scripted(first_answers_then_all_close)
    async with Client() as client:
        await client.get(server.url)
        with pytest.raises(RemoteProtocolError) as info:
            await client.get(server.url)
        check_error(info.value)
        assert server.accepted == 2
        assert len(server.requests) == 3


# -- PL-04: responses that end the connection -------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http10"],
)
async def test_closing_responses_are_not_pooled(scripted: ServerFactory, reply: bytes) -> None:
    # The server keeps the socket open: only the client's own decision stops the reuse.
    server = await scripted(keep_alive(lambda request: reply))
    async with Client() as client:
        assert (await client.get(server.url)).content == b"ok"
        assert client.get_pool_stats()["open"] == 0
        assert (await client.get(server.url)).content == b"ok"
        assert server.accepted == 2


async def test_http10_keep_alive_response_is_pooled(scripted: ServerFactory) -> None:
    reply = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
    server = await scripted(keep_alive(lambda request: reply))
    async with Client() as client:
        await client.get(server.url)
        await client.get(server.url)
        assert server.accepted == 1


async def test_connection_idle_past_keepalive_expiry_is_not_reused(
    scripted: ServerFactory,
) -> None:
    server = await scripted(keep_alive(ok))
    async with Client(keepalive_expiry=0.3) as client:
        await client.get(server.url)
        await client.get(server.url)
        assert server.accepted == 1  # within the expiry
        await asyncio.sleep(0.35)
        await client.get(server.url)
        assert server.accepted == 2
        assert client.get_pool_stats()["open"] == 1


async def test_max_keepalive_connections_zero_never_pools(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(ok))
    async with Client(max_keepalive_connections=0) as client:
        await client.get(server.url)
        assert client.get_pool_stats() == EMPTY
        await client.get(server.url)
        assert server.accepted == 2


async def test_max_keepalive_connections_caps_idle_connections(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(ok))
    async with Client(max_keepalive_connections=1) as client:
        responses = [await client.stream("GET", server.url) for _ in range(3)]
        assert client.get_pool_stats()["open"] == 3
        for r in responses:
            await r.aread()
        stats = client.get_pool_stats()
        assert (stats["open"], stats["idle"]) == (1, 1)


# -- PL-05: failures leave nothing behind -----------------------------------------------------


async def test_connect_refused_leaves_pool_empty(scripted: ServerFactory) -> None:
    url = with_userinfo(f"http://127.0.0.1:{free_port()}/")
    async with Client(max_connections=1) as client:
        for _ in range(3):  # the one slot comes back each time
            with pytest.raises(ConnectError) as info:
                await client.get(url)
            check_error(info.value)
            assert client.get_pool_stats() == EMPTY
        server = await scripted(keep_alive(ok))
        assert (await client.get(server.url)).content == b"ok"


async def test_protocol_error_closes_the_connection(scripted: ServerFactory) -> None:
    async def garbage_first(conn: ServerConn) -> None:
        if conn.index == 0:
            await conn.read_request()
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
            await conn.wait_for_eof()
            return
        await keep_alive(ok)(conn)

    server = await scripted(garbage_first)
    async with Client(max_connections=1) as client:
        with pytest.raises(RemoteProtocolError) as info:
            await client.get(with_userinfo(server.url))
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY
        assert (await client.get(server.url)).content == b"ok"
        assert server.accepted == 2


async def test_truncated_body_closes_the_connection(scripted: ServerFactory) -> None:
    async def truncated_first(conn: ServerConn) -> None:
        if conn.index == 0:
            await conn.read_request()
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, wor")
            await conn.close()
            return
        await keep_alive(ok)(conn)

    server = await scripted(truncated_first)
    async with Client() as client:
        with pytest.raises(RemoteProtocolError) as info:
            await client.get(with_userinfo(server.url))
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY
        assert (await client.get(server.url)).content == b"ok"


# -- PL-07: limits under concurrency ----------------------------------------------------------


async def test_hundred_tasks_never_exceed_max_connections(scripted: ServerFactory) -> None:
    async def slow_echo(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            await asyncio.sleep(0.005)
            await conn.send(response(request.target))

    server = await scripted(slow_echo)
    async with Client(max_connections=10) as client:
        results = await asyncio.gather(*(client.get(f"{server.url}/{i}") for i in range(100)))
        assert [r.content for r in results] == [f"/{i}".encode() for i in range(100)]
        assert server.max_active <= 10
        assert server.accepted == 10  # every slot was used, and no socket was wasted
        assert len(server.requests) == 100
        assert client.get_pool_stats()["waiting"] == 0
        assert client.get_pool_stats()["active"] == 0


@pytest.mark.parametrize("release", ["handed-over", "slot-freed"])
async def test_waiters_are_served_first_come_first_served(
    scripted: ServerFactory, release: str
) -> None:
    async def script(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            if request.target == b"/hold" and release == "slot-freed":
                await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
                await conn.wait_for_eof()
                return
            await conn.send(response(request.target))

    server = await scripted(script)
    async with Client(max_connections=1) as client:
        holder = await client.stream("GET", f"{server.url}/hold")
        tasks = []
        for count, name in enumerate("abcde", 1):
            tasks.append(asyncio.create_task(client.get(f"{server.url}/{name}")))
            await wait_until(lambda n=count: client.get_pool_stats()["waiting"] == n)
        if release == "handed-over":
            await holder.aread()  # the idle connection goes straight to the first waiter
        else:
            await holder.aclose()  # unread: the connection closes and its slot frees up
        await asyncio.gather(*tasks)
        assert [req.target for req in server.requests] == [
            b"/hold",
            b"/a",
            b"/b",
            b"/c",
            b"/d",
            b"/e",
        ]


async def test_pool_timeout_removes_the_waiter(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(ok))
    async with Client(max_connections=1) as client:
        holder = await client.stream("GET", server.url)
        with pytest.raises(PoolTimeout) as info:
            await client.get(with_userinfo(server.url), timeout=Timeout(2.0, pool=0.05))
        check_error(info.value)
        stats = client.get_pool_stats()
        assert (stats["waiting"], stats["active"]) == (0, 1)
        await holder.aclose()
        assert (await client.get(server.url, timeout=Timeout(2.0, pool=0.2))).content == b"ok"


async def test_idle_connection_to_another_origin_is_evicted(scripted: ServerFactory) -> None:
    servers = [await scripted(keep_alive(ok)) for _ in range(3)]
    async with Client(max_connections=2, timeout=Timeout(2.0, pool=0.2)) as client:
        for server in servers:
            assert (await client.get(server.url)).content == b"ok"
        stats = client.get_pool_stats()
        assert (stats["open"], stats["idle"]) == (2, 2)
        assert [s.accepted for s in servers] == [1, 1, 1]
        # The oldest idle one (to the first server) was the one closed.
        await client.get(servers[2].url)
        await client.get(servers[1].url)
        assert [s.accepted for s in servers] == [1, 1, 1]


async def test_waiter_for_another_origin_gets_a_freed_idle_slot(
    scripted: ServerFactory,
) -> None:
    a = await scripted(keep_alive(ok))
    b = await scripted(keep_alive(ok))
    async with Client(max_connections=1, timeout=Timeout(2.0, pool=1.0)) as client:
        holder = await client.stream("GET", a.url)
        waiter = asyncio.create_task(client.get(b.url))
        await wait_until(lambda: client.get_pool_stats()["waiting"] == 1)
        await holder.aread()  # a's connection goes idle; b's waiter evicts it
        assert (await waiter).content == b"ok"
        assert client.get_pool_stats()["origins"] == 1


# -- pool statistics ----------------------------------------------------------------------------


async def test_pool_stats_follow_the_connections(scripted: ServerFactory) -> None:
    a = await scripted(keep_alive(ok))
    b = await scripted(keep_alive(ok))
    async with Client() as client:
        assert client.get_pool_stats() == EMPTY
        r = await client.stream("GET", a.url)
        assert client.get_pool_stats() == {
            "open": 1,
            "idle": 0,
            "active": 1,
            "waiting": 0,
            "origins": 1,
        }
        await r.aread()
        assert client.get_pool_stats() == idle_stats()
        await client.get(b.url)
        assert client.get_pool_stats() == {
            "open": 2,
            "idle": 2,
            "active": 0,
            "waiting": 0,
            "origins": 2,
        }
    assert client.get_pool_stats() == EMPTY


# -- unclosed responses -------------------------------------------------------------------------


async def test_garbage_collected_stream_releases_its_slot(scripted: ServerFactory) -> None:
    server = await scripted(head_and_part_then_hang)
    async with Client(max_connections=1, timeout=Timeout(2.0, pool=0.2)) as client:
        r = await client.stream("GET", server.url)
        assert r.status_code == 200
        with pytest.warns(ResourceWarning, match="garbage-collected"):
            del r
            gc.collect()
        assert client.get_pool_stats() == EMPTY
        assert (await client.get(server.url)).content == b"ok"


# -- F-22: bytes on an idle connection ---------------------------------------------------------


async def test_bytes_arriving_on_an_idle_connection_discard_it(scripted: ServerFactory) -> None:
    async def unsolicited(conn: ServerConn) -> None:
        if conn.index == 0:
            await conn.read_request()
            await conn.send(response(b"good"))
            await asyncio.sleep(0.05)
            await conn.send(response(b"evil"))  # a response to no request
            await conn.wait_for_eof()
            return
        await keep_alive(lambda request: response(b"good"))(conn)

    server = await scripted(unsolicited)
    async with Client() as client:
        assert (await client.get(server.url)).content == b"good"
        await wait_until(lambda: client.get_pool_stats()["open"] == 0)
        assert (await client.get(server.url)).content == b"good"
        assert server.accepted == 2


async def test_bytes_after_a_complete_response_prevent_reuse(scripted: ServerFactory) -> None:
    async def surplus(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response(b"good") + response(b"evil"))  # one write
        await conn.wait_for_eof()

    server = await scripted(surplus)
    async with Client() as client:
        assert (await client.get(server.url)).content == b"good"
        assert (await client.get(server.url)).content == b"good"
        assert server.accepted == 2


# -- IPv6 ------------------------------------------------------------------------------------


async def test_keep_alive_over_ipv6_loopback(scripted: ServerFactory) -> None:
    try:
        server = await scripted(keep_alive(ok), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    async with Client() as client:
        for _ in range(3):
            assert (await client.get(server.url)).content == b"ok"
        assert server.accepted == 1


# -- PL-03 / P-08: what may have been processed is not resent -----------------------------------


async def test_partial_status_line_on_a_reused_connection_is_not_retried(
    scripted: ServerFactory,
) -> None:
    """PL-03, P-08: a response byte arrived (half a status line), so the server got the request:
    even an idempotent GET on a reused connection is not resent."""

    async def answer_then_partial(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(response(b"first"))
        await conn.read_request()
        await conn.send(b"HTTP/1.1 2")
        await conn.close()

    server = await scripted(answer_then_partial)
    async with Client() as client:
        assert (await client.get(server.url)).content == b"first"
        with pytest.raises(RemoteProtocolError) as info:
            await client.get(with_userinfo(server.url + "/second"))
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY
    assert [r.target for r in server.requests] == [b"/", b"/second"]
    assert server.accepted == 1


async def test_put_with_a_one_shot_body_on_a_stale_connection_is_not_retried(
    scripted: ServerFactory,
) -> None:
    """PL-03, P-08: PUT is idempotent, but a generator body cannot be sent twice: when the
    reused connection closes without an answer, the error reaches the caller."""
    server = await scripted(answer_first_then_close_on_second)
    sent = 0

    async def upload() -> AsyncIterator[bytes]:
        nonlocal sent
        for part in (b"chunk-1 ", b"chunk-2"):
            sent += 1
            yield part

    async with Client() as client:
        await client.get(server.url)
        with pytest.raises(RemoteProtocolError) as info:
            await client.put(with_userinfo(server.url), content=upload())
        check_error(info.value)
        assert client.get_pool_stats()["open"] == 0
    assert [r.method for r in server.requests] == [b"GET", b"PUT"]
    assert server.requests[1].body == b"chunk-1 chunk-2"
    assert sent == 2
    assert server.accepted == 1


# -- PL-05: a body that cannot be decoded takes its connection with it --------------------------


async def drain(r: Response) -> None:
    async for _ in r.aiter_bytes():
        pass


async def test_decompression_error_mid_body_closes_the_connection(scripted: ServerFactory) -> None:
    """PL-05: the head and the first, corrupt, part of a gzip body arrive; the rest never
    does. Reading the stream fails with DecodingError without waiting for the rest, and the
    connection is closed (the server sees EOF); the next request opens a new one."""
    corrupt = gzip.compress(b"x" * 1000)[:10] + b"\xff" * 100  # a valid header, then garbage
    eof_seen = asyncio.Event()

    async def corrupt_then_wait(conn: ServerConn) -> None:
        await conn.read_request()
        if conn.index == 0:
            head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 100000\r\n\r\n"
            await conn.send(head + corrupt)
            await conn.wait_for_eof()
            eof_seen.set()
            return
        await conn.send(response(b"fresh"))
        await keep_alive(ok)(conn)

    server = await scripted(corrupt_then_wait)
    async with Client(timeout=Timeout(5.0)) as client:
        r = await client.stream("GET", with_userinfo(server.url))  # not closed by the test
        with pytest.raises(DecodingError) as info:
            await asyncio.wait_for(drain(r), 2.0)
        check_error(info.value)
        await asyncio.wait_for(eof_seen.wait(), 2.0)
        assert client.get_pool_stats() == EMPTY
        assert (await client.get(server.url)).content == b"fresh"
    assert server.accepted == 2
