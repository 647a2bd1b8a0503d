"""Client.aclose() really closes sockets, even over TLS, before the event loop ends."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

import hyperhttp
from hyperhttp.testing import HTTPServer


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
