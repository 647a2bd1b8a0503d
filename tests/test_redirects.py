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
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://x/",
        "javascript:alert(1)",
        "foo://x",
        "data:text/html,<script>alert(1)</script>",
        "DATA:,x",
        " data:,x",
    ],
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


SECRETS = [
    ("Authorization", "Bearer s3cret"),
    ("authorization", "Bearer duplicate"),
    ("Proxy-Authorization", "Basic cHJveHk="),
    ("Cookie", "session=abc"),
]


def recording(
    table: dict[str, str],
) -> tuple[MockTransport, list[tuple[str, hyperhttp.Headers]]]:
    """A MockTransport redirecting each URL in ``table`` to its value; it records every hop."""
    seen: list[tuple[str, hyperhttp.Headers]] = []

    def handler(request: hyperhttp.Request) -> MockResponse:
        url = str(request.url)
        seen.append((url, request.headers.copy()))
        if url in table:
            return MockResponse(302, headers={"Location": table[url]})
        return MockResponse(200, text="end")

    return MockTransport(handler), seen


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("https://a.example:8443/", "http://a.example:8443/x"),  # downgrade, same port
        ("http://a.example:8080/", "https://a.example:8080/x"),  # upgrade, same port
        ("https://a.example/", "http://a.example/x"),  # downgrade, default ports
        ("http://a.example/", "https://a.example/x"),  # upgrade, default ports: still stripped
    ],
)
async def test_a_scheme_change_on_the_same_host_is_another_origin(start: str, target: str) -> None:
    # checklist RD-02 / RD-03 / P-02: every duplicate goes
    transport, seen = recording({start: target})
    async with Client(transport=transport, follow_redirects=True) as client:
        r = await client.get(start, headers=SECRETS)
    assert r.text == "end"
    assert seen[0][1].get_list("authorization") == ["Bearer s3cret", "Bearer duplicate"]
    url, headers = seen[1]
    assert url == target
    for name in ("authorization", "proxy-authorization", "cookie"):
        assert headers.get_list(name) == []


async def test_https_to_http_downgrade_drops_credentials_and_secure_cookies() -> None:
    # checklist RD-03: same host, https -> http
    seen: list[tuple[str, hyperhttp.Headers]] = []

    def handler(request: hyperhttp.Request) -> MockResponse:
        seen.append((str(request.url), request.headers.copy()))
        if request.url.scheme == "https":
            return MockResponse(
                302,
                headers=[
                    ("Location", "http://a.example/plain"),
                    ("Set-Cookie", "secure_one=s; Secure; Path=/"),
                    ("Set-Cookie", "plain_one=p; Path=/"),
                ],
            )
        return MockResponse(200)

    async with Client(
        transport=MockTransport(handler), follow_redirects=True, auth=("u", "p")
    ) as client:
        await client.get("https://a.example/", headers=SECRETS[2:])
    assert seen[0][1].get("authorization") == "Basic dTpw"
    url, headers = seen[1]
    assert url == "http://a.example/plain"
    assert headers.get_list("authorization") == []
    assert headers.get_list("proxy-authorization") == []
    assert headers.get_list("cookie") == ["plain_one=p"]  # jar cookie, not Secure, not user's


async def test_extra_sensitive_headers_are_stripped_across_origins_only() -> None:
    table = {
        "https://a.example/1": "https://a.example/2",
        "https://a.example/2": "https://b.example/3",
    }
    transport, seen = recording(table)
    headers = [("X-Api-Key", "k1"), ("x-api-key", "k2"), ("X-Trace", "t")]
    async with Client(
        transport=transport, follow_redirects=True, redirect_sensitive_headers=["X-API-Key"]
    ) as client:
        assert client.redirect_sensitive_headers == frozenset({"x-api-key"})
        await client.get("https://a.example/1", headers=headers)
    assert [h.get_list("x-api-key") for _, h in seen] == [["k1", "k2"], ["k1", "k2"], []]
    assert [h.get("x-trace") for _, h in seen] == ["t", "t", "t"]

    transport, seen = recording(table)
    async with Client(transport=transport, follow_redirects=True) as client:
        await client.get("https://a.example/1", headers=headers)
    assert seen[2][1].get_list("x-api-key") == ["k1", "k2"]  # not sensitive unless configured


async def test_extra_sensitive_headers_apply_to_next_request_too() -> None:
    transport, _ = recording({"https://a.example/": "https://b.example/"})
    async with Client(transport=transport, redirect_sensitive_headers=("X-Api-Key",)) as client:
        r = await client.get("https://a.example/", headers={"X-Api-Key": "k"})
    assert r.next_request is not None and "x-api-key" not in r.next_request.headers


def test_redirect_sensitive_headers_must_be_names() -> None:
    with pytest.raises(TypeError):
        Client(redirect_sensitive_headers="X-Api-Key")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Client(redirect_sensitive_headers=[b"X-Api-Key"])  # type: ignore[list-item]


async def test_a_request_hook_can_veto_a_redirect_target() -> None:
    # checklist RD-04 / P-09: an SSRF-style Location never reaches the transport
    import ipaddress

    class Blocked(Exception):
        pass

    def no_internal(request: hyperhttp.Request) -> None:
        try:
            address = ipaddress.ip_address(request.url.host.strip("[]"))
        except ValueError:
            return
        if address.is_loopback or address.is_private or address.is_link_local:
            raise Blocked(str(request.url))

    transport, seen = recording({"https://a.example/": "http://127.0.0.1/admin"})
    async with Client(
        transport=transport, follow_redirects=True, event_hooks={"request": [no_internal]}
    ) as client:
        with pytest.raises(Blocked, match=r"127\.0\.0\.1"):
            await client.get("https://a.example/")
        assert (await client.get("https://a.example/x")).text == "end"  # others go through
    assert [url for url, _ in seen] == ["https://a.example/", "https://a.example/x"]


@pytest.mark.parametrize("location", ["http:///x", "https:///x", "http://", "///x"])
async def test_location_without_a_host_is_a_typed_error(location: str) -> None:
    # checklist RD-07 (curl: "redirect to http:/// (three slashes!)")
    transport, seen = recording({"https://a.example/": location})
    async with Client(transport=transport, follow_redirects=True) as client:
        with pytest.raises(hyperhttp.RemoteProtocolError, match="invalid Location") as info:
            await client.get("https://a.example/")
    assert info.value.request is not None
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("  /b  ", b"/b"),  # surrounding whitespace is not part of the value
        ("\t/b", b"/b"),
        ("/a%zz", b"/a%25zz"),  # a '%' not followed by two hex digits is encoded, not decoded
        ("/a%", b"/a%25"),
        ("/a%2", b"/a%252"),
        ("/a%2F%41", b"/a%2F%41"),  # valid escapes are kept as sent
        ("/b c", b"/b%20c"),
        # raw non-ASCII bytes are percent-encoded as they came: UTF-8 ...
        ("/\xe6\x97\xa5\xe6\x9c\xac?q=\xc3\xa9", b"/%E6%97%A5%E6%9C%AC?q=%C3%A9"),
        # ... or not (a Latin-1 byte stays one byte)
        ("/caf\xe9", b"/caf%E9"),
    ],
)
async def test_odd_locations_on_the_wire_resolve_to_sane_targets(
    scripted: ServerFactory, location: str, target: bytes
) -> None:
    # checklist RD-07; the test server's response() writes the header value as Latin-1 bytes
    server = await routes(scripted, {b"/a": lambda _: redirect(location)})
    async with Client(follow_redirects=True) as client:
        r = await client.get(server.url + "/a")
    assert r.status_code == 404  # the scripted server knows only /a
    assert [req.target for req in server.requests] == [b"/a", target]
