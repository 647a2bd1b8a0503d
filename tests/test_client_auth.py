"""auth= through the client: the reference page's example verbatim, per-request overrides,
Digest through MockTransport and over sockets."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import hyperhttp
from hyperhttp import (
    Auth,
    BasicAuth,
    Client,
    DigestAuth,
    MockResponse,
    MockTransport,
    NetRCAuth,
    Router,
)

from .conftest import ServerFactory
from .scripted import keep_alive, response


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class RefreshingBearer(Auth):  # verbatim from the reference page
    def __init__(self) -> None:
        self._token: str | None = None
        self._exp: float = 0.0

    def auth_flow(self, request):  # type: ignore[no-untyped-def]
        if self._token is None or time.monotonic() > self._exp:
            token_req = request.copy(
                method="POST", url=request.url.join("/token"), content=b"refresh"
            )
            token_resp = yield token_req
            self._token = token_resp.json()["access_token"]
            self._exp = time.monotonic() + 3600
        request.headers["authorization"] = f"Bearer {self._token}"
        yield request


async def test_reference_page_refreshing_bearer_example() -> None:
    router = Router()
    router.post("/token", lambda _: MockResponse(200, json={"access_token": "abc"}))
    router.get(
        "/me",
        lambda req: MockResponse(200 if req.headers.get("authorization") == "Bearer abc" else 401),
    )

    async with Client(transport=MockTransport(router), auth=RefreshingBearer()) as c:
        r = await c.get("https://api.example.com/me")
        assert r.status_code == 200
        # The token is cached: the second call makes one request only.
        r2 = await c.get("https://api.example.com/me")
        assert r2.status_code == 200
    assert [h.status_code for h in r.history] == [200]
    assert r2.history == []


async def test_basic_auth_from_tuple_and_per_request_override() -> None:
    mock = MockTransport(lambda req: MockResponse(200, text=req.headers.get("authorization", "")))
    async with Client(transport=mock, auth=("user", "pass")) as client:
        assert (await client.get("https://h/")).text == "Basic dXNlcjpwYXNz"
        assert (await client.get("https://h/", auth=None)).text == ""
        assert (await client.get("https://h/", auth=BasicAuth("a", "b"))).text == "Basic YTpi"
        client.auth = None
        assert (await client.get("https://h/")).text == ""


def test_invalid_auth_values_are_type_errors() -> None:
    with pytest.raises(TypeError):
        Client(auth="user:pass")  # type: ignore[arg-type]


def _digest_router(calls: list[str]) -> Router:
    realm, nonce = "test", "dcd98b7102dd2f0e8b11d0f600bfb0c093"

    def handler(request: hyperhttp.Request) -> MockResponse:
        header = request.headers.get("authorization")
        calls.append(header.split(" ", 1)[0] if header else "none")
        if header is None:
            return MockResponse(
                401,
                headers={
                    "WWW-Authenticate": f'Digest realm="{realm}", nonce="{nonce}", qop="auth"'
                },
            )
        fields = dict(part.strip().split("=", 1) for part in header[len("Digest ") :].split(","))
        fields = {k: v.strip('"') for k, v in fields.items()}
        ha1 = hashlib.md5(f"alice:{realm}:secret".encode()).hexdigest()
        ha2 = hashlib.md5(f"GET:{fields['uri']}".encode()).hexdigest()
        expected = hashlib.md5(
            f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}".encode()
        ).hexdigest()
        return MockResponse(200 if fields["response"] == expected else 403)

    return Router().get("/protected", handler)


async def test_digest_through_mock_transport_handler_sees_challenge_then_authed_retry() -> None:
    calls: list[str] = []
    async with Client(
        transport=MockTransport(_digest_router(calls)), auth=DigestAuth("alice", "secret")
    ) as client:
        r = await client.get("https://api.example.com/protected")
    assert r.status_code == 200
    assert calls == ["none", "Digest"]
    assert [h.status_code for h in r.history] == [401]


async def test_auth_header_is_not_sent_to_another_origin_on_redirect() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: hyperhttp.Request) -> MockResponse:
        seen[request.url.host] = request.headers.get("authorization")
        if request.url.host == "a.example":
            return MockResponse(302, headers={"Location": "https://b.example/x"})
        return MockResponse(200)

    async with Client(
        transport=MockTransport(handler), auth=("u", "p"), follow_redirects=True
    ) as client:
        await client.get("https://a.example/")
    assert seen == {"a.example": "Basic dTpw", "b.example": None}


async def test_streamed_request_with_auth_returns_an_unread_final_response(
    scripted: ServerFactory,
) -> None:
    server = await scripted(keep_alive(lambda _: response(b"x" * 50_000)))
    async with (
        Client(auth=("u", "p")) as client,
        client.stream("GET", server.url) as r,
    ):
        chunks = [c async for c in r.aiter_bytes()]
    assert sum(map(len, chunks)) == 50_000
    assert server.requests[0].header(b"authorization") == b"Basic dTpw"


async def test_digest_with_a_one_shot_body_never_sends_it_empty() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"payload"

    mock = MockTransport(
        lambda req: MockResponse(
            401, headers={"WWW-Authenticate": 'Digest realm="r", nonce="n", qop="auth-int"'}
        )
    )
    async with Client(transport=mock, auth=DigestAuth("u", "p")) as client:
        with pytest.raises(hyperhttp.HyperHTTPError):
            await client.post("https://h/", content=body())
    assert all(req.content in (b"payload", b"") for req in mock.calls)
    assert all(req.content == b"payload" for req in mock.calls if req.method == "POST")


async def test_netrc_is_looked_up_again_for_every_redirect_hop(tmp_path: Path) -> None:
    # checklist RD-10 / P-02: each host gets its own entry or none, never another host's
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text(
        "machine a.example login alice password pa\nmachine b.example login bob password pb\n"
    )
    netrc_file.chmod(0o600)
    seen: list[tuple[str, list[str]]] = []
    hops = {"a.example": "https://b.example/2", "b.example": "https://c.example/3"}

    def handler(request: hyperhttp.Request) -> MockResponse:
        seen.append((request.url.host, request.headers.get_list("authorization")))
        if request.url.host in hops:
            return MockResponse(302, headers={"Location": hops[request.url.host]})
        return MockResponse(200, text="end")

    async with Client(
        transport=MockTransport(handler), auth=NetRCAuth(netrc_file), follow_redirects=True
    ) as client:
        r = await client.get("https://a.example/1")
    assert r.text == "end"
    assert [h.status_code for h in r.history] == [302, 302]
    assert seen == [
        ("a.example", [basic("alice", "pa")]),
        ("b.example", [basic("bob", "pb")]),
        ("c.example", []),
    ]


async def test_netrc_hop_back_to_the_first_host_gets_its_entry_again(tmp_path: Path) -> None:
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine a.example login alice password pa\n")
    netrc_file.chmod(0o600)
    seen: list[tuple[str, str | None]] = []

    def handler(request: hyperhttp.Request) -> MockResponse:
        seen.append((f"{request.url.host}{request.url.path}", request.headers.get("authorization")))
        if request.url.path == "/1":
            return MockResponse(302, headers={"Location": "https://b.example/2"})
        if request.url.path == "/2":
            return MockResponse(307, headers={"Location": "https://a.example/3"})
        return MockResponse(200)

    async with Client(transport=MockTransport(handler), follow_redirects=True) as client:
        await client.get("https://a.example/1", auth=NetRCAuth(netrc_file))
    alice = basic("alice", "pa")
    assert seen == [("a.example/1", alice), ("b.example/2", None), ("a.example/3", alice)]


async def test_netrc_with_redirects_not_followed_and_the_redirect_limit(tmp_path: Path) -> None:
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine a.example login alice password pa\n")
    netrc_file.chmod(0o600)

    def handler(request: hyperhttp.Request) -> MockResponse:
        return MockResponse(302, headers={"Location": "https://b.example/"})

    transport = MockTransport(handler)
    async with Client(transport=transport, auth=NetRCAuth(netrc_file)) as client:
        r = await client.get("https://a.example/")
        assert r.next_request is not None
        assert "authorization" not in r.next_request.headers
    async with Client(
        transport=transport, auth=NetRCAuth(netrc_file), follow_redirects=True, max_redirects=2
    ) as client:
        with pytest.raises(hyperhttp.TooManyRedirects) as info:
            await client.get("https://a.example/")
    assert len(info.value.history) == 3
