"""The Client's API surface, checked on the wire with the scripted server."""

from __future__ import annotations

import pytest

import hyperhttp
from hyperhttp import Client

from .conftest import ServerFactory
from .scripted import RawRequest, ScriptedServer, keep_alive, response


async def echo_server(scripted: ServerFactory) -> ScriptedServer:
    return await scripted(keep_alive(lambda r: response(r.target)))


async def test_base_url_is_joined_like_httpx(scripted: ServerFactory) -> None:
    server = await echo_server(scripted)
    async with Client(base_url=server.url + "/api") as client:
        assert (await client.get("/users")).content == b"/api/users"
        assert (await client.get("users/1?x=1")).content == b"/api/users/1?x=1"
        assert (await client.get(server.url + "/abs")).content == b"/abs"
    assert client.base_url is not None and client.base_url.path == "/api/"


async def test_relative_url_without_base_url_is_invalid() -> None:
    async with Client() as client:
        with pytest.raises(hyperhttp.InvalidURL):
            await client.get("/relative")


async def test_unsupported_scheme_is_refused_before_connecting() -> None:
    async with Client() as client:
        with pytest.raises((hyperhttp.UnsupportedProtocol, hyperhttp.InvalidURL)):
            await client.get("ftp://127.0.0.1/x")


async def test_params_from_client_and_request_are_merged_lists_repeat(
    scripted: ServerFactory,
) -> None:
    server = await echo_server(scripted)
    async with Client(params={"key": "k1"}) as client:
        r = await client.get(server.url + "/s?q=1", params={"tag": ["a", "b"], "n": 2})
    assert r.content == b"/s?q=1&key=k1&tag=a&tag=b&n=2"


async def test_default_headers_and_overrides(scripted: ServerFactory) -> None:
    server = await echo_server(scripted)
    async with Client(headers={"X-Client": "1", "Accept": "application/json"}) as client:
        await client.get(server.url, headers={"X-Request": "2", "x-client": "override"})
    request = server.requests[0]
    assert request.header(b"user-agent") == f"hyperhttp/{hyperhttp.__version__}".encode()
    assert request.header(b"accept") == b"application/json"
    assert request.header(b"x-client") == b"override"
    assert request.header(b"x-request") == b"2"
    names = [name.lower() for name, _ in request.headers()]
    assert names[0] == b"host" and names.count(b"host") == 1


async def test_custom_user_agent(scripted: ServerFactory) -> None:
    server = await echo_server(scripted)
    async with Client(user_agent="my-service/1.0") as client:
        await client.get(server.url)
    assert server.requests[0].header(b"user-agent") == b"my-service/1.0"


async def test_every_method_helper_sends_its_method(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda r: response(r.method)))
    async with Client() as client:
        for name in ("get", "options", "delete", "post", "put", "patch"):
            r = await getattr(client, name)(server.url)
            assert r.content == name.upper().encode()
        assert (await client.head(server.url)).content == b""
    assert server.requests[-1].method == b"HEAD"


async def test_stream_as_context_manager_and_as_awaitable(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda _: response(b"x" * 100_000)))
    async with Client() as client:
        async with client.stream("GET", server.url) as r:
            assert not r.is_closed
            with pytest.raises(hyperhttp.ResponseNotRead):
                _ = r.content
            total = sum([len(c) async for c in r.aiter_bytes()])
        assert total == 100_000 and r.is_closed

        r = await client.stream("GET", server.url)
        async with r:
            assert len(await r.aread()) == 100_000
        assert r.is_closed
    assert server.accepted == 1


async def test_streamed_body_can_be_read_once(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda _: response(b"data")))
    async with Client() as client, client.stream("GET", server.url) as r:
        assert [c async for c in r.aiter_raw()] == [b"data"]
        with pytest.raises(hyperhttp.StreamConsumed):
            await r.aread()


async def test_reading_a_closed_unread_response_is_a_typed_error(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda _: response(b"data")))
    async with Client() as client:
        r = await client.stream("GET", server.url)
        await r.aclose()
        with pytest.raises(hyperhttp.ResponseClosed):
            await r.aread()


async def test_max_response_size_limit_plus_one(scripted: ServerFactory) -> None:
    sizes = iter([1000, 1001, 1001])
    server = await scripted(keep_alive(lambda _: response(b"x" * next(sizes))))
    async with Client(max_response_size=1000) as client:
        assert len((await client.get(server.url)).content) == 1000
        with pytest.raises(hyperhttp.ResponseTooLarge) as info:
            await client.get(server.url)
        assert info.value.request is not None
        async with client.stream("GET", server.url) as r:
            with pytest.raises(hyperhttp.ResponseTooLarge):
                async for _ in r.aiter_bytes():
                    pass


async def test_aread_returns_the_cached_body(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda _: response(b"cached")))
    async with Client() as client:
        r = await client.get(server.url)
        assert await r.aread() == b"cached" == r.content


async def test_closed_client_refuses_requests(scripted: ServerFactory) -> None:
    server = await echo_server(scripted)
    client = Client()
    await client.aclose()
    assert client.is_closed
    with pytest.raises(RuntimeError):
        await client.get(server.url)


def test_invalid_configuration_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        Client(max_response_size=-1)
    with pytest.raises(ValueError):
        Client(max_redirects=-1)
    with pytest.raises(TypeError):
        Client(timeout="5")  # type: ignore[arg-type]
    with pytest.raises(hyperhttp.InvalidURL):
        Client(base_url="/relative")


async def test_limits_keywords_are_applied(scripted: ServerFactory) -> None:
    server = await echo_server(scripted)
    async with Client(max_connections=1, max_keepalive_connections=0) as client:
        await client.get(server.url)
        await client.get(server.url)
        assert client.get_pool_stats()["open"] == 0
    assert server.accepted == 2


async def test_request_repr_and_errors_never_show_the_password(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"))
    url = server.url.replace("http://", "http://user:hunter2@") + "/x"
    async with Client(timeout=hyperhttp.Timeout(2.0, read=0.2)) as client:
        with pytest.raises(hyperhttp.HyperHTTPError) as info:
            await client.get(url)
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value)
    assert info.value.request is not None
    assert "hunter2" not in repr(info.value.request)
    sent: RawRequest = server.requests[0]
    assert sent.header(b"authorization") == b"Basic dXNlcjpodW50ZXIy"
    assert b"hunter2" not in sent.request_line
