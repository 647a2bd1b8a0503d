"""MockTransport, MockResponse and Router: every statement of the reference page
(reference/hyperhttp-testing-with-mocktransport.md) as a test."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
from collections.abc import AsyncIterator

import pytest

import hyperhttp
from hyperhttp import Client, MockResponse, MockTransport, Router

URL = "https://api.example.com"


# -- the four handler shapes -------------------------------------------------------------


async def test_callable_handler_example_runs_as_written() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        if request.url.path == "/users/1":
            return MockResponse(200, json={"id": 1, "name": "Alice"})
        return MockResponse(404)

    async with Client(transport=MockTransport(handler)) as client:
        r = await client.get("https://api.example.com/users/1")
        assert r.status_code == 200
        assert r.json() == {"id": 1, "name": "Alice"}
        assert (await client.get(f"{URL}/users/2")).status_code == 404


async def test_async_handler_and_int_status() -> None:
    async def handler(request: hyperhttp.Request) -> int:
        return 204

    async with Client(transport=MockTransport(handler)) as client:
        assert (await client.delete(f"{URL}/x")).status_code == 204


async def test_handler_receives_method_url_headers_and_content() -> None:
    def handler(request: hyperhttp.Request) -> MockResponse:
        assert request.headers["authorization"] == "Bearer token-xyz"
        assert request.content == b'{"name":"Alice"}'
        return MockResponse(201)

    async with Client(transport=MockTransport(handler)) as client:
        r = await client.post(
            f"{URL}/users",
            json={"name": "Alice"},
            headers={"Authorization": "Bearer token-xyz"},
        )
        assert r.status_code == 201


async def test_handler_sees_streamed_request_bodies_as_content() -> None:
    seen: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"part 1, "
        yield b"part 2"

    def handler(request: hyperhttp.Request) -> MockResponse:
        seen.append(request.content)
        return MockResponse(200)

    async with Client(transport=MockTransport(handler)) as client:
        await client.post(f"{URL}/upload", content=body())
    assert seen == [b"part 1, part 2"]


async def test_replay_sequence_left_to_right_then_index_error() -> None:
    mock = MockTransport(
        [MockResponse(500), MockResponse(503), MockResponse(200, json={"ok": True})]
    )
    async with Client(transport=mock) as client:
        assert [(await client.get(f"{URL}/t")).status_code for _ in range(3)] == [500, 503, 200]
        with pytest.raises(IndexError):
            await client.get(f"{URL}/t")


async def test_single_response_answers_every_request() -> None:
    mock = MockTransport(MockResponse(204))
    async with Client(transport=mock) as client:
        for path in ("/a", "/b", "/c"):
            assert (await client.post(f"{URL}{path}")).status_code == 204
    assert mock.call_count == 3


async def test_route_mapping_exact_match_bare_path_is_get_unmatched_404() -> None:
    mock = MockTransport(
        {
            "GET /users": MockResponse(200, json=[{"id": 1}]),
            "POST /users": MockResponse(201),
            "DELETE /users/1": MockResponse(204),
            "/ping": MockResponse(200),
        }
    )
    async with Client(transport=mock) as client:
        assert (await client.get(f"{URL}/users")).json() == [{"id": 1}]
        assert (await client.post(f"{URL}/users")).status_code == 201
        assert (await client.delete(f"{URL}/users/1")).status_code == 204
        assert (await client.get(f"{URL}/ping")).status_code == 200
        assert (await client.post(f"{URL}/ping")).status_code == 404
        assert (await client.get(f"{URL}/users/")).status_code == 404
        assert (await client.get(f"{URL}/users?page=2")).status_code == 200


async def test_unmatched_route_404_names_the_closest_routes_and_differences() -> None:
    mock = MockTransport({"GET /users": MockResponse(200), "POST /orders": MockResponse(201)})
    async with Client(transport=mock) as client:
        r = await client.get(f"{URL}/userz")
    assert r.status_code == 404
    assert "no route for GET /userz" in r.text
    first = r.text.splitlines()[2]
    assert "GET /users" in first and "path '/users' != '/userz'" in first


# -- MockResponse ------------------------------------------------------------------------


async def _one(spec: MockResponse) -> hyperhttp.Response:
    async with Client(transport=MockTransport(spec)) as client:
        return await client.get(f"{URL}/")


async def test_mock_response_body_kinds_and_inferred_headers() -> None:
    empty = await _one(MockResponse(200))
    assert empty.content == b"" and empty.headers["content-length"] == "0"

    created = await _one(MockResponse(201, json={"id": 1}))
    assert created.headers["content-type"] == "application/json"
    assert created.headers["content-length"] == str(len(created.content))
    assert created.json() == {"id": 1}

    text = await _one(MockResponse(200, text="héllo"))
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.text == "héllo" and text.content == "héllo".encode()

    raw = await _one(MockResponse(200, content=b"\x00\x01"))
    assert raw.content == b"\x00\x01"

    custom = await _one(MockResponse(200, headers={"x-foo": "bar"}))
    assert custom.headers["x-foo"] == "bar"


async def test_json_none_is_a_json_body() -> None:
    assert (await _one(MockResponse(200, json=None))).content == b"null"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content": b"a", "text": "b"},
        {"text": "a", "json": {}},
        {"json": 1, "stream": [b"x"]},
        {"content": b"", "stream": [b"x"]},
    ],
)
def test_more_than_one_body_kind_is_a_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MockResponse(200, **kwargs)  # type: ignore[arg-type]


async def test_explicit_headers_win_over_inferred_ones() -> None:
    r = await _one(MockResponse(200, json={"a": 1}, headers={"Content-Type": "application/x+json"}))
    assert r.headers.get_list("content-type") == ["application/x+json"]


async def test_streamed_body_async_and_sync() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"a", b"b", b"c"):
            yield piece

    transport = MockTransport(MockResponse(200, stream=chunks()))
    async with Client(transport=transport) as client, client.stream("GET", f"{URL}/") as r:
        assert [c async for c in r.aiter_bytes()] == [b"a", b"b", b"c"]
    assert (await _one(MockResponse(200, stream=iter([b"x", b"y"])))).content == b"xy"


async def test_reused_mock_response_serves_the_same_body_or_says_why_not() -> None:
    spec = MockResponse(200, json={"n": 1})
    listed = MockResponse(200, stream=[b"a", b"b"])
    one_shot = MockResponse(200, stream=iter([b"x"]))
    async with Client(transport=MockTransport([spec, spec, listed, listed])) as client:
        bodies = [(await client.get(f"{URL}/")).content for _ in range(4)]
    assert bodies == [b'{"n":1}', b'{"n":1}', b"ab", b"ab"]
    async with Client(transport=MockTransport(one_shot)) as client:
        await client.get(f"{URL}/")
        with pytest.raises(hyperhttp.StreamConsumed, match="one-shot"):
            await client.get(f"{URL}/")


async def test_mocked_responses_are_decoded_like_network_ones() -> None:
    r = await _one(
        MockResponse(200, content=gzip.compress(b"zipped"), headers={"Content-Encoding": "gzip"})
    )
    assert r.content == b"zipped"


async def test_invalid_header_in_a_mocked_response_fails_as_on_the_wire() -> None:
    with pytest.raises(hyperhttp.RemoteProtocolError) as info:
        await _one(MockResponse(200, headers={"X-Bad": "a\r\nInjected: yes"}))
    assert info.value.request is not None


# -- recording ---------------------------------------------------------------------------


async def test_calls_call_count_last_request_and_reset() -> None:
    mock = MockTransport(MockResponse(200))
    async with Client(transport=mock) as client:
        await client.get(f"{URL}/a")
        await client.get(f"{URL}/b")
        await client.post(f"{URL}/users", headers={"authorization": "Bearer t"})
    assert mock.call_count == 3
    assert mock.last_request is not None
    assert mock.last_request.method == "POST"
    assert mock.last_request.url.path == "/users"
    assert mock.last_request.headers["authorization"].startswith("Bearer ")
    assert [req.url.path for req in mock.calls] == ["/a", "/b", "/users"]
    mock.reset()
    assert mock.call_count == 0 and mock.last_request is None
    async with Client(transport=mock) as client:
        assert (await client.get(f"{URL}/c")).status_code == 200


async def test_reset_keeps_the_position_of_a_sequence() -> None:
    mock = MockTransport([MockResponse(500), MockResponse(200)])
    async with Client(transport=mock) as client:
        await client.get(f"{URL}/")
        mock.reset()
        assert (await client.get(f"{URL}/")).status_code == 200


# -- failures ----------------------------------------------------------------------------


async def test_handler_exceptions_are_typed_and_carry_the_request() -> None:
    def refused(request: hyperhttp.Request) -> MockResponse:
        raise ConnectionRefusedError(111, "Connection refused")

    def reset(request: hyperhttp.Request) -> MockResponse:
        raise ConnectionResetError(104, "Connection reset by peer")

    def ours(request: hyperhttp.Request) -> MockResponse:
        raise hyperhttp.ReadTimeout("simulated")

    # MT-03: connect-level faults map to the same types as on the network.
    def dns(request: hyperhttp.Request) -> MockResponse:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def tls(request: hyperhttp.Request) -> MockResponse:
        raise ssl.SSLCertVerificationError(1, "certificate verify failed")

    def timeout(request: hyperhttp.Request) -> MockResponse:
        raise TimeoutError("timed out")

    for handler, expected in (
        (refused, hyperhttp.ConnectError),
        (reset, hyperhttp.ReadError),
        (ours, hyperhttp.ReadTimeout),
        (dns, hyperhttp.DNSError),
        (tls, hyperhttp.TLSError),
        (timeout, hyperhttp.ConnectTimeout),
    ):
        async with Client(transport=MockTransport(handler)) as client:
            with pytest.raises(expected) as info:
                await client.get(f"{URL}/x")
        assert info.value.request is not None
        assert info.value.request.url.path == "/x"


# -- Router ------------------------------------------------------------------------------


async def test_router_example_and_chaining() -> None:
    router = Router()
    router.get("/health", lambda _: MockResponse(200, text="ok"))
    router.get("/users", lambda _: MockResponse(200, json=[{"id": 1}]))
    router.post("/users", lambda _: MockResponse(201, json={"id": 2}))
    router.delete("/users/1", lambda _: MockResponse(204))
    async with Client(transport=MockTransport(router)) as client:
        assert (await client.get(f"{URL}/health")).text == "ok"
        assert (await client.get(f"{URL}/users")).json() == [{"id": 1}]
        assert (await client.post(f"{URL}/users")).json() == {"id": 2}
        assert (await client.delete(f"{URL}/users/1")).status_code == 204
        missing = await client.get(f"{URL}/nope")
        assert missing.status_code == 404 and "GET /health" in missing.text

    chained = (
        Router(default=MockResponse(418))
        .get("/a", lambda _: MockResponse(200))
        .post("/a", lambda _: MockResponse(201))
    )
    async with Client(transport=MockTransport(chained)) as client:
        assert (await client.get(f"{URL}/a")).status_code == 200
        assert (await client.post(f"{URL}/a")).status_code == 201
        assert (await client.put(f"{URL}/a")).status_code == 418


async def test_router_every_method_and_async_handlers() -> None:
    async def async_handler(request: hyperhttp.Request) -> MockResponse:
        return MockResponse(200, text=request.method)

    router = Router()
    for method in ("get", "post", "put", "patch", "delete", "head", "options"):
        getattr(router, method)("/m", async_handler)
    router.route("PURGE", "/m", MockResponse(200, text="PURGE"))
    async with Client(transport=MockTransport(router)) as client:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"):
            assert (await client.request(method, f"{URL}/m")).text == method
        assert (await client.head(f"{URL}/m")).status_code == 200


# -- redirects, hooks: the production machinery runs ---------------------------------------


async def test_redirect_from_a_mock_response_is_followed() -> None:
    router = Router()
    router.get("/old", lambda _: MockResponse(302, headers={"location": "/new"}))
    router.get("/new", lambda _: MockResponse(200, text="moved"))
    async with Client(transport=MockTransport(router), follow_redirects=True) as client:
        r = await client.get(f"{URL}/old")
    assert r.text == "moved"
    assert [h.status_code for h in r.history] == [302]


async def test_request_hooks_fire_before_the_handler_response_hooks_after() -> None:
    order: list[str] = []

    def handler(request: hyperhttp.Request) -> MockResponse:
        order.append(f"handler sees {request.headers.get('x-trace')}")
        return MockResponse(200)

    def on_request(request: hyperhttp.Request) -> None:
        order.append("request hook")
        request.headers["X-Trace"] = "abc"

    async def on_response(response: hyperhttp.Response) -> None:
        order.append(f"response hook {response.status_code}")

    hooks = {"request": [on_request], "response": [on_response]}
    async with Client(transport=MockTransport(handler), event_hooks=hooks) as client:
        await client.get(f"{URL}/")
    assert order == ["request hook", "handler sees abc", "response hook 200"]


def test_mock_response_json_matches_the_wire_encoding() -> None:
    spec = MockResponse(200, json={"name": "Zoë", "n": [1, 2]})
    assert json.loads(spec.to_response(hyperhttp.Request("GET", URL)).stream._chunks[0]) == {  # type: ignore[attr-defined]
        "name": "Zoë",
        "n": [1, 2],
    }


async def test_reference_route_mapping_example_runs_as_written() -> None:
    # Verbatim from the page, placeholder included: `[...]` is a list holding Ellipsis.
    mock = MockTransport({
        "GET /users":       MockResponse(200, json=[...]),
        "POST /users":      MockResponse(201),
        "DELETE /users/1":  MockResponse(204),
        "/ping":            MockResponse(200),  # defaults to GET
    })  # fmt: skip
    async with Client(transport=mock) as client:
        assert (await client.post(f"{URL}/users")).status_code == 201
        assert (await client.get(f"{URL}/ping")).status_code == 200
        # Serving the placeholder itself is a clear error, not a silent empty body.
        with pytest.raises(TypeError, match="not JSON-serializable"):
            await client.get(f"{URL}/users")
