"""Client.aclose() really closes sockets, even over TLS, before the event loop ends; and what
it does to requests in flight (checklist PL-07)."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

import hyperhttp
from hyperhttp.testing import HTTPServer

from .conftest import ServerFactory
from .h2_raw_peer import RawServerFactory, expect_failure, h2_client, start_request
from .scripted import ServerConn, response, wait_until


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_no_socket_is_left_to_the_garbage_collector_after_aclose(http2: bool) -> None:
    # close() only starts a TLS shutdown; if aclose() returned before it finished, the loop
    # would end with the socket open and GC would warn "unclosed transport".
    with HTTPServer(host="127.0.0.1", tls=True, http2=True) as server:
        server.expect_request("/").respond_with_data("ok")

        async def scenario() -> list[str]:
            client = hyperhttp.Client(verify=server.client_ssl_context(), http2=http2)
            versions = []
            for _ in range(3):
                versions.append((await client.get(server.url_for("/"))).http_version)
            await client.aclose()
            return versions

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            versions = asyncio.run(scenario())
            gc.collect()
    assert versions == (["HTTP/2"] * 3 if http2 else ["HTTP/1.1"] * 3)
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == [], [str(w.message) for w in leaks]


# -- PL-07: aclose() while a request is in flight -----------------------------------------------


async def test_aclose_during_an_http11_request_lets_it_finish(scripted: ServerFactory) -> None:
    """PL-07: aclose() returns without waiting for an HTTP/1.1 request in flight (the pool
    closes idle connections; an active one closes when its response is released). The
    request completes, its connection is closed rather than pooled, and new requests are
    refused."""
    release = asyncio.Event()
    eof = asyncio.Event()

    async def slow(conn: ServerConn) -> None:
        await conn.read_request()
        await release.wait()
        await conn.send(response(b"late"))
        await conn.wait_for_eof()
        eof.set()

    server = await scripted(slow)
    client = hyperhttp.Client(timeout=5.0)
    pending = asyncio.ensure_future(client.get(server.url))
    await wait_until(lambda: len(server.requests) == 1)
    await asyncio.wait_for(client.aclose(), 1.0)
    assert not pending.done()
    release.set()
    r = await asyncio.wait_for(pending, 2.0)
    assert r.content == b"late"
    await asyncio.wait_for(eof.wait(), 2.0)  # closed, not kept for reuse
    assert client.get_pool_stats()["open"] == 0
    with pytest.raises(RuntimeError):
        await client.get(server.url)


async def test_aclose_during_an_http2_request_fails_it_typed(raw_h2: RawServerFactory) -> None:
    """PL-07: an HTTP/2 connection is shared, so aclose() closes it at once: the stream in
    flight fails with a typed error, nothing hangs, nothing stays open."""
    server = await raw_h2()
    client = h2_client()
    pending, peer, _ = await start_request(server, client)
    await asyncio.wait_for(client.aclose(), 1.0)
    await expect_failure(pending, hyperhttp.TransportError, within=1.0)
    await peer.wait_closed(timeout=1.0)
    assert client.get_pool_stats()["open"] == 0
