"""Retries, the circuit breaker and Timeout(total=...) through the real client path."""

from __future__ import annotations

import asyncio
import time

import pytest

import hyperhttp
from hyperhttp import Client, ConnectError, MockResponse, MockTransport
from hyperhttp.errors.circuit_breaker import DomainCircuitBreakerManager
from hyperhttp.errors.retry import RetryPolicy

from .conftest import ServerFactory
from .scripted import ServerConn, keep_alive, response


async def no_sleep(_: float) -> None:
    return None


async def test_reference_page_retry_example_runs_as_written() -> None:
    attempts = {"n": 0}

    def handler(_req):  # type: ignore[no-untyped-def]
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ConnectError(f"simulated outage {attempts['n']}")
        return MockResponse(200)

    retry = RetryPolicy(max_retries=3, retry_categories=["CONNECTION"])

    async with Client(transport=MockTransport(handler), retry=retry) as client:
        r = await client.get("https://api.example.com/things")

    assert r.status_code == 200
    assert attempts["n"] == 3  # two failures, one success


async def test_status_retry_honours_retry_after_over_sockets(scripted: ServerFactory) -> None:
    replies = iter(
        [
            response(b"busy", 503, [("Retry-After", "0")]),
            response(b"busy", 503, [("Retry-After", "0")]),
            response(b"ok"),
        ]
    )
    server = await scripted(keep_alive(lambda _: next(replies)))
    async with Client(retry=RetryPolicy(max_retries=3)) as client:
        r = await client.get(server.url)
    assert r.content == b"ok"
    assert len(server.requests) == 3
    assert server.accepted == 1  # the 503 bodies were read, the connection reused


async def test_status_retries_run_out_and_the_last_response_is_returned(
    scripted: ServerFactory,
) -> None:
    server = await scripted(keep_alive(lambda _: response(b"down", 502)))
    client = Client(retry=RetryPolicy(max_retries=2))
    client._sleep = no_sleep
    async with client:
        r = await client.get(server.url)
    assert r.status_code == 502 and r.content == b"down"
    assert len(server.requests) == 3


async def test_a_post_the_server_may_have_processed_is_sent_exactly_once(
    scripted: ServerFactory,
) -> None:
    async def read_then_reset(conn: ServerConn) -> None:
        await conn.read_request()
        conn.reset()

    server = await scripted(read_then_reset)
    client = Client(retry=RetryPolicy(max_retries=3))
    client._sleep = no_sleep
    async with client:
        with pytest.raises(hyperhttp.HyperHTTPError) as info:
            await client.post(server.url, content=b"charge the card")
    assert [r.method for r in server.requests] == [b"POST"]
    assert info.value.request is not None


async def test_per_request_retry_overrides_the_client() -> None:
    calls = {"n": 0}

    def handler(_: hyperhttp.Request) -> MockResponse:
        calls["n"] += 1
        raise ConnectError("down")

    client = Client(transport=MockTransport(handler))
    client._sleep = no_sleep
    async with client:
        with pytest.raises(hyperhttp.RetryError) as info:
            await client.get("https://h/", retry=RetryPolicy(max_retries=2))
        assert isinstance(info.value.last_exception, ConnectError)
        assert calls["n"] == 3
        with pytest.raises(ConnectError):
            await client.get("https://h/", retry=None)
        assert calls["n"] == 4


async def test_breaker_opens_and_then_fails_fast_without_the_network() -> None:
    mock = MockTransport(lambda _: MockResponse(500))
    breaker = DomainCircuitBreakerManager(failure_threshold=2, recovery_timeout=60.0)
    async with Client(transport=mock, circuit_breaker_manager=breaker) as client:
        for _ in range(2):
            assert (await client.get("https://api.example.com/x")).status_code == 500
        with pytest.raises(hyperhttp.CircuitBreakerOpen) as info:
            await client.get("https://api.example.com/x")
    assert mock.call_count == 2
    assert "api.example.com" in info.value.host and info.value.remaining > 0


async def test_breaker_alone_does_not_retry_and_retry_alone_does_not_break() -> None:
    mock = MockTransport(lambda _: MockResponse(503))
    breaker = DomainCircuitBreakerManager(failure_threshold=100)
    async with Client(transport=mock, circuit_breaker_manager=breaker) as client:
        await client.get("https://h/")
    assert mock.call_count == 1
    client = Client(transport=mock, retry=RetryPolicy(max_retries=1))
    client._sleep = no_sleep
    async with client:
        await client.get("https://h/")
    assert client.circuit_breaker_manager is None
    assert mock.call_count == 3


async def test_cancellation_is_never_turned_into_a_retry_error() -> None:
    started = asyncio.Event()

    async def handler(_: hyperhttp.Request) -> MockResponse:
        started.set()
        await asyncio.sleep(10)
        return MockResponse(200)

    async with Client(transport=MockTransport(handler), retry=RetryPolicy(max_retries=5)) as c:
        task = asyncio.ensure_future(c.get("https://h/"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_total_timeout_stops_a_drip_feed_server(scripted: ServerFactory) -> None:
    async def drip(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            await asyncio.sleep(0.05)
            await conn.send(b"x")

    server = await scripted(drip)
    started = time.monotonic()
    async with Client(timeout=hyperhttp.Timeout(5.0, read=1.0, total=0.5)) as client:
        with pytest.raises(hyperhttp.TimeoutException) as info:
            await client.get(server.url)
        assert client.get_pool_stats()["active"] == 0
    assert time.monotonic() - started < 3
    assert "total timeout" in str(info.value)


async def test_total_timeout_spans_redirect_hops(scripted: ServerFactory) -> None:
    async def slow_redirects(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await asyncio.sleep(0.2)
            await conn.send(response(b"", 302, [("Location", "/again")]))

    server = await scripted(slow_redirects)
    async with Client(follow_redirects=True, timeout=hyperhttp.Timeout(5.0, total=0.5)) as client:
        with pytest.raises(hyperhttp.TimeoutException):
            await client.get(server.url)
    assert 1 < len(server.requests) < 5


async def test_outer_cancellation_is_not_mistaken_for_the_total_timeout() -> None:
    async def handler(_: hyperhttp.Request) -> MockResponse:
        await asyncio.sleep(10)
        return MockResponse(200)

    async with Client(
        transport=MockTransport(handler), timeout=hyperhttp.Timeout(5.0, total=5.0)
    ) as client:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.get("https://h/"), 0.1)


async def test_each_redirect_hop_has_its_own_retry_budget() -> None:
    # RT-04 as documented: "the retry budget belongs to one call; each redirect hop is a new
    # call". Every hop fails twice, then answers; max_retries=2 is enough for each hop, and
    # would not be for the chain if the budget were shared.
    failures: dict[str, int] = {}

    def handler(request: hyperhttp.Request) -> MockResponse:
        path = request.url.path
        failures[path] = failures.get(path, 0) + 1
        if failures[path] <= 2:
            raise ConnectError("flaky")
        if path == "/c":
            return MockResponse(200, text="landed")
        return MockResponse(302, headers={"Location": {"/a": "/b", "/b": "/c"}[path]})

    client = Client(
        transport=MockTransport(handler),
        retry=RetryPolicy(max_retries=2),
        follow_redirects=True,
    )
    client._sleep = no_sleep
    async with client:
        r = await client.get("https://h/a")
    assert r.text == "landed"
    assert [h.url.path for h in r.history] == ["/a", "/b"]
    assert failures == {"/a": 3, "/b": 3, "/c": 3}
    history = r.extensions["retry_history"]
    assert [record.attempt for record in history] == [1, 2, 3]  # the last hop's own three
