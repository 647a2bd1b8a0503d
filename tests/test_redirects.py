"""Redirects over real sockets (checklist RD-*), and the same through MockTransport (MT-01)."""

from __future__ import annotations

import gzip
import io
from collections.abc import AsyncIterator, Callable

import pytest

import hyperhttp
from hyperhttp import Client, MockResponse, MockTransport, Router

from .conftest import ServerFactory
from .scripted import RawRequest, ScriptedServer, keep_alive, response


def redirect(location: str, status: int = 302, body: bytes = b"") -> bytes:
    return response(body, status, [("Location", location)], reason="Found")


async def routes(
    scripted: ServerFactory, table: dict[bytes, Callable[[RawRequest], bytes]]
) -> ScriptedServer:
    def reply(request: RawRequest) -> bytes:
        path = request.target.split(b"?")[0]
        handler = table.get(path)
        return handler(request) if handler else response(b"missing", 404)

    return await scripted(keep_alive(reply))


async def test_not_followed_by_default_and_next_request_is_offered(
    scripted: ServerFactory,
) -> None:
    server = await routes(scripted, {b"/a": lambda _: redirect("/b")})
    async with Client() as client:
        r = await client.get(server.url + "/a")
    assert r.status_code == 302
    assert r.next_request is not None
    assert r.next_request.url.path == "/b"
    assert len(server.requests) == 1


async def test_chain_is_followed_with_history_on_one_connection(scripted: ServerFactory) -> None:
    server = await routes(
        scripted,
        {
            b"/a": lambda _: redirect("/b", 301, body=b"moved"),
            b"/b": lambda _: redirect("c", 307),
            b"/c": lambda _: response(b"done"),
        },
    )
    async with Client(follow_redirects=True) as client:
        r = await client.get(server.url + "/a")
    assert r.content == b"done"
    assert [h.status_code for h in r.history] == [301, 307]
    assert r.url is not None and r.url.path == "/c"
    assert server.accepted == 1  # redirect bodies were drained, connection reused


async def test_per_request_follow_redirects_overrides_the_client(scripted: ServerFactory) -> None:
    server = await routes(
        scripted, {b"/a": lambda _: redirect("/b"), b"/b": lambda _: response(b"b")}
    )
    async with Client() as client:
        assert (await client.get(server.url + "/a", follow_redirects=True)).content == b"b"
    async with Client(follow_redirects=True) as client:
        assert (await client.get(server.url + "/a", follow_redirects=False)).status_code == 302


async def test_loop_stops_at_the_limit_with_history(scripted: ServerFactory) -> None:
    server = await routes(
        scripted, {b"/a": lambda _: redirect("/b"), b"/b": lambda _: redirect("/a")}
    )
    async with Client(follow_redirects=True, max_redirects=3) as client:
        with pytest.raises(hyperhttp.TooManyRedirects) as info:
            await client.get(server.url + "/a")
    assert len(info.value.history) == 4
    assert info.value.request is not None
    assert len(server.requests) == 4


async def test_max_redirects_zero_returns_the_redirect(scripted: ServerFactory) -> None:
    server = await routes(scripted, {b"/a": lambda _: redirect("/a")})
    async with Client(follow_redirects=True, max_redirects=0) as client:
        assert (await client.get(server.url + "/a")).status_code == 302


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (301, "POST", "GET"),
        (302, "POST", "GET"),
        (303, "POST", "GET"),
        (303, "PUT", "GET"),
        (303, "DELETE", "GET"),
        (303, "HEAD", "HEAD"),
        (301, "PUT", "PUT"),
        (307, "POST", "POST"),
        (308, "PUT", "PUT"),
    ],
)
async def test_method_rewrites(
    scripted: ServerFactory, status: int, method: str, expected: str
) -> None:
    server = await routes(
        scripted,
        {b"/a": lambda _: redirect("/b", status), b"/b": lambda _: response(b"ok")},
    )
    async with Client(follow_redirects=True) as client:
        await client.request(method, server.url + "/a", content=b"payload")
    hop = server.requests[1]
    assert hop.method.decode() == expected
    if expected in ("GET", "HEAD"):
        assert hop.body == b""
        for name in (b"content-length", b"content-type", b"transfer-encoding"):
            assert hop.header(name) is None
    else:
        assert hop.body == b"payload"


async def test_303_drops_body_headers_including_content_encoding(
    scripted: ServerFactory,
) -> None:
    server = await routes(
        scripted,
        {b"/a": lambda _: redirect("/b", 303), b"/b": lambda _: response(b"ok")},
    )
    async with Client(follow_redirects=True) as client:
        await client.post(
            server.url + "/a",
            content=gzip.compress(b"x"),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
        )
    hop = server.requests[1]
    assert hop.header(b"content-encoding") is None and hop.header(b"content-type") is None


async def test_307_replays_a_seekable_file_body(scripted: ServerFactory) -> None:
    server = await routes(
        scripted,
        {b"/a": lambda _: redirect("/b", 307), b"/b": lambda _: response(b"ok")},
    )
    async with Client(follow_redirects=True) as client:
        await client.post(server.url + "/a", content=io.BytesIO(b"file body"))
    assert [r.body for r in server.requests] == [b"file body", b"file body"]


async def test_307_with_a_one_shot_stream_is_a_typed_error_not_an_empty_body(
    scripted: ServerFactory,
) -> None:
    server = await routes(
        scripted,
        {b"/a": lambda _: redirect("/b", 307), b"/b": lambda _: response(b"ok")},
    )

    async def body() -> AsyncIterator[bytes]:
        yield b"streamed"

    async with Client(follow_redirects=True) as client:
        with pytest.raises(hyperhttp.StreamConsumed) as info:
            await client.post(server.url + "/a", content=body())
    assert info.value.request is not None
    assert len(server.requests) == 1


async def test_credentials_are_stripped_across_origins_and_kept_on_the_same_origin(
    scripted: ServerFactory,
) -> None:
    other = await routes(scripted, {b"/x": lambda _: response(b"other")})
    server = await routes(
        scripted,
        {
            b"/same": lambda _: redirect("/end"),
            b"/cross": lambda _: redirect(other.url + "/x"),
            b"/end": lambda _: response(b"end"),
        },
    )
    secrets = [
        ("Authorization", "Bearer s3cret"),
        ("authorization", "Bearer duplicate"),
        ("Proxy-Authorization", "Basic cHJveHk="),
        ("Cookie", "session=abc"),
    ]
    async with Client(follow_redirects=True) as client:
        await client.get(server.url + "/same", headers=secrets)
        await client.get(server.url + "/cross", headers=secrets)
    same_hop = server.requests[1]
    assert same_hop.header(b"authorization") is not None
    assert same_hop.header(b"cookie") == b"session=abc"
    cross_hop = other.requests[0]
    for name in (b"authorization", b"proxy-authorization", b"cookie"):
        assert cross_hop.header(name) is None
    assert cross_hop.header(b"host") == other.url.split("//")[1].encode()


async def test_a_different_port_is_another_origin(scripted: ServerFactory) -> None:
    other = await routes(scripted, {b"/x": lambda _: response(b"other")})
    server = await routes(scripted, {b"/a": lambda _: redirect(f"http://127.0.0.1:{other.port}/x")})
    async with Client(follow_redirects=True) as client:
        await client.get(server.url + "/a", headers={"Authorization": "Bearer s3cret"})
    assert other.requests[0].header(b"authorization") is None


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "javascript:alert(1)", "foo://x"],
)
async def test_only_http_and_https_targets_are_followed(
    scripted: ServerFactory, location: str
) -> None:
    server = await routes(scripted, {b"/a": lambda _: redirect(location)})
    async with Client(follow_redirects=True) as client:
        with pytest.raises(hyperhttp.UnsupportedProtocol) as info:
            await client.get(server.url + "/a")
    assert info.value.request is not None


async def test_relative_locations_resolve_per_rfc3986(scripted: ServerFactory) -> None:
    server = await routes(
        scripted,
        {
            b"/dir/a": lambda _: redirect("../b?q=1"),
            b"/b": lambda _: redirect("?q=2"),
        },
    )
    async with Client(follow_redirects=True, max_redirects=2) as client:
        with pytest.raises(hyperhttp.TooManyRedirects) as info:
            await client.get(server.url + "/dir/a#frag")
    targets = [r.target for r in server.requests]
    assert targets == [b"/dir/a", b"/b?q=1", b"/b?q=2"]
    last = info.value.history[-1].request
    assert last is not None and last.url.fragment == "frag"


async def test_redirect_without_location_is_returned(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda _: response(b"", 302)))
    async with Client(follow_redirects=True) as client:
        r = await client.get(server.url)
    assert r.status_code == 302 and r.history == []


async def test_malformed_location_is_a_typed_error(scripted: ServerFactory) -> None:
    server = await routes(scripted, {b"/a": lambda _: redirect("http://[::1/x")})
    async with Client(follow_redirects=True) as client:
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await client.get(server.url + "/a")


async def test_redirect_body_bomb_is_never_decoded(scripted: ServerFactory) -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    server = await routes(
        scripted,
        {
            b"/a": lambda _: response(
                bomb, 302, [("Location", "/b"), ("Content-Encoding", "gzip")]
            ),
            b"/b": lambda _: response(b"safe"),
        },
    )
    async with Client(follow_redirects=True, max_decompressed_size=1024) as client:
        r = await client.get(server.url + "/a")
    assert r.content == b"safe"


async def test_large_redirect_body_closes_the_connection_instead_of_draining(
    scripted: ServerFactory,
) -> None:
    server = await routes(
        scripted,
        {
            b"/a": lambda _: redirect("/b", body=b"x" * (1024 * 1024)),
            b"/b": lambda _: response(b"ok"),
        },
    )
    async with Client(follow_redirects=True) as client:
        assert (await client.get(server.url + "/a")).content == b"ok"
    assert server.accepted == 2


async def test_hooks_fire_on_every_hop(scripted: ServerFactory) -> None:
    server = await routes(
        scripted, {b"/a": lambda _: redirect("/b"), b"/b": lambda _: response(b"ok")}
    )
    seen: list[str] = []
    hooks = {
        "request": [lambda req: seen.append(f"> {req.url.path}")],
        "response": [lambda resp: seen.append(f"< {resp.status_code}")],
    }
    async with Client(follow_redirects=True, event_hooks=hooks) as client:
        await client.get(server.url + "/a")
    assert seen == ["> /a", "< 302", "> /b", "< 200"]


async def test_mock_transport_redirects_behave_as_on_the_wire() -> None:
    router = Router()
    router.get("/file", lambda _: MockResponse(302, headers={"location": "file:///etc/passwd"}))
    router.get(
        "/cross", lambda _: MockResponse(302, headers={"location": "https://evil.example/x"})
    )
    router.get("/x", lambda req: MockResponse(200, json={"auth": req.headers.get("authorization")}))
    mock = MockTransport(router)
    async with Client(transport=mock, follow_redirects=True) as client:
        with pytest.raises(hyperhttp.UnsupportedProtocol):
            await client.get("https://api.example/file")
        r = await client.get("https://api.example/cross", headers={"Authorization": "Bearer t"})
    assert r.json() == {"auth": None}
    assert mock.last_request is not None and mock.last_request.url.host == "evil.example"
