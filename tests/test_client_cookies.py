"""Cookies through the client: the jar, per-request cookies, redirects (RD-08), scope."""

from __future__ import annotations

import pytest

import hyperhttp
from hyperhttp import Client, Cookies, MockResponse, MockTransport, Router

from .conftest import ServerFactory
from .scripted import RawRequest, keep_alive, response


def cookie_echo(request: hyperhttp.Request) -> MockResponse:
    return MockResponse(200, text=request.headers.get("cookie") or "")


async def test_set_cookie_is_stored_and_sent_back_over_sockets(scripted: ServerFactory) -> None:
    def reply(request: RawRequest) -> bytes:
        if request.target == b"/login":
            return response(b"", 200, [("Set-Cookie", "session=abc; Path=/; HttpOnly")])
        return response(request.header(b"cookie") or b"")

    server = await scripted(keep_alive(reply))
    async with Client() as client:
        await client.get(server.url + "/login")
        assert client.cookies["session"] == "abc"
        assert (await client.get(server.url + "/me")).content == b"session=abc"


async def test_client_cookies_are_copied_and_per_request_cookies_not_persisted() -> None:
    jar = Cookies({"a": "1"})
    mock = MockTransport(cookie_echo)
    async with Client(transport=mock, cookies=jar) as client:
        jar.set("b", "2")  # the client has its own copy
        assert (await client.get("https://h/")).text == "a=1"
        assert (await client.get("https://h/", cookies={"once": "x"})).text == "once=x; a=1"
        assert (await client.get("https://h/")).text == "a=1"
        assert "once" not in client.cookies
        client.cookies.set("c", "3")
        assert (await client.get("https://h/")).text == "a=1; c=3"


async def test_jars_are_per_client() -> None:
    router = Router().get("/set", lambda _: MockResponse(200, headers={"Set-Cookie": "k=v"}))
    router.get("/echo", cookie_echo)
    async with Client(transport=MockTransport(router)) as one:
        await one.get("https://h/set")
    async with Client(transport=MockTransport(router)) as two:
        assert (await two.get("https://h/echo")).text == ""


async def test_response_cookies_are_the_ones_it_sets() -> None:
    mock = MockTransport(
        MockResponse(200, headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2; Path=/x")])
    )
    async with Client(transport=mock) as client:
        r = await client.get("https://h/")
    assert dict(r.cookies.items()) == {"a": "1", "b": "2"}


async def test_cookies_set_on_a_redirect_hop_are_stored_and_sent_once() -> None:
    router = Router()
    router.get(
        "/login",
        lambda _: MockResponse(302, headers=[("Location", "/home"), ("Set-Cookie", "s=1")]),
    )
    router.get("/home", cookie_echo)
    async with Client(transport=MockTransport(router), follow_redirects=True) as client:
        r = await client.get("https://h/login", headers={"Cookie": "mine=x"})
    assert r.text == "mine=x; s=1"  # the user's cookie once, the hop's cookie once


async def test_host_only_cookie_stays_with_its_host_across_redirects() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: hyperhttp.Request) -> MockResponse:
        seen[request.url.host] = request.headers.get("cookie")
        if request.url.host == "a.example.com":
            return MockResponse(
                302,
                headers=[
                    ("Location", "https://b.example.com/"),
                    ("Set-Cookie", "hostonly=1"),
                    ("Set-Cookie", "shared=2; Domain=example.com"),
                ],
            )
        return MockResponse(200)

    async with Client(transport=MockTransport(handler), follow_redirects=True) as client:
        await client.get("https://a.example.com/", headers={"Cookie": "user=secret"})
    assert seen["b.example.com"] == "shared=2"  # no host-only cookie, no user Cookie header


async def test_secure_cookies_never_go_over_plain_http() -> None:
    router = Router().get(
        "/set", lambda _: MockResponse(200, headers={"Set-Cookie": "s=1; Secure"})
    )
    router.get("/echo", cookie_echo)
    async with Client(transport=MockTransport(router)) as client:
        await client.get("https://shop.example/set")
        assert (await client.get("https://shop.example/echo")).text == "s=1"
        assert (await client.get("http://shop.example/echo")).text == ""


async def test_a_public_suffix_domain_cookie_is_rejected() -> None:
    router = Router().get(
        "/set", lambda _: MockResponse(200, headers={"Set-Cookie": "evil=1; Domain=co.uk"})
    )
    router.get("/echo", cookie_echo)
    async with Client(transport=MockTransport(router)) as client:
        await client.get("https://attacker.co.uk/set")
        assert (await client.get("https://victim.co.uk/echo")).text == ""


async def test_retries_do_not_duplicate_cookies() -> None:
    from hyperhttp.errors.retry import RetryPolicy

    seen: list[str | None] = []

    def handler(request: hyperhttp.Request) -> MockResponse:
        seen.append(request.headers.get("cookie"))
        return MockResponse(503 if len(seen) < 3 else 200, headers={"Retry-After": "0"})

    async with Client(
        transport=MockTransport(handler), cookies={"a": "1"}, retry=RetryPolicy(max_retries=3)
    ) as client:
        await client.get("https://h/")
    assert seen == ["a=1", "a=1", "a=1"]


@pytest.mark.parametrize("bad", ["a=1\r\nX: y", "a=\x00"])
async def test_set_cookie_with_control_characters_is_dropped(bad: str) -> None:
    from hyperhttp._cookies import parse_set_cookie

    assert parse_set_cookie(bad) is None
