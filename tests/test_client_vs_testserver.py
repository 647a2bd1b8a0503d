"""Our client against our real test server: every fault mode as the client sees it, server-side
counts proving what was sent, and MockTransport agreeing with the wire."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable, Iterator

import pytest
from werkzeug import Request as WerkzeugRequest
from werkzeug import Response as WerkzeugResponse

import hyperhttp
from hyperhttp import Client, MockResponse, MockTransport, Timeout
from hyperhttp.errors.retry import RetryPolicy
from hyperhttp.testing import Fault, HTTPServer


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    with HTTPServer(host="127.0.0.1") as running:
        yield running
        running.clear_assertions()


async def no_sleep(_: float) -> None:
    return None


# -- fault modes, seen from our client -------------------------------------------------------


async def test_delay_is_a_read_timeout_or_a_late_answer(server: HTTPServer) -> None:
    server.expect_request("/slow").respond_with_data("late").with_fault(Fault.delay(0.3))
    async with Client() as client:
        with pytest.raises(hyperhttp.ReadTimeout):
            await client.get(server.url_for("/slow"), timeout=Timeout(2.0, read=0.1))
        r = await client.get(server.url_for("/slow"), timeout=Timeout(2.0, read=1.0))
    assert r.text == "late"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.close(), hyperhttp.RemoteProtocolError),
        (Fault.reset(), (hyperhttp.ReadError, hyperhttp.RemoteProtocolError)),
        (Fault.close_mid_body(5), hyperhttp.RemoteProtocolError),
        (Fault.malformed_status_line(), hyperhttp.RemoteProtocolError),
        (Fault.malformed_headers(b"Bad Header: x"), hyperhttp.RemoteProtocolError),
        (
            Fault.raw(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            hyperhttp.RemoteProtocolError,
        ),
    ],
    ids=["close", "reset", "close-mid-body", "status-line", "headers", "raw-cl-te"],
)
async def test_wire_faults_are_typed_errors_with_the_request(
    server: HTTPServer, fault: Fault, expected: type[Exception]
) -> None:
    server.expect_request("/f").respond_with_data("0123456789" * 10).with_fault(fault)
    server.expect_request("/ok").respond_with_data("fine")
    async with Client() as client:
        with pytest.raises(expected) as info:
            await client.post(server.url_for("/f"), content=b"x")
        assert info.value.request is not None
        assert info.value.request.url.path == "/f"
        # the failed connection was discarded; the client goes on
        assert (await client.get(server.url_for("/ok"))).text == "fine"
        assert client.get_pool_stats()["active"] == 0


async def test_truncated_body_says_how_much_arrived(server: HTTPServer) -> None:
    server.expect_request("/cut").respond_with_data("0123456789" * 10).with_fault(
        Fault.close_mid_body(30)
    )
    async with Client() as client:
        with pytest.raises(hyperhttp.RemoteProtocolError, match="of 100 bytes"):
            await client.get(server.url_for("/cut"))


async def test_a_wrong_content_length_is_never_a_short_success(server: HTTPServer) -> None:
    server.expect_request("/lie").respond_with_data("short").with_fault(
        Fault.wrong_content_length(50)
    )
    async with Client() as client:
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await client.get(server.url_for("/lie"))


async def test_drip_feed_succeeds_within_read_timeouts_and_total_stops_it(
    server: HTTPServer,
) -> None:
    server.expect_request("/drip").respond_with_data("x" * 40).with_fault(Fault.drip(4, 0.05))
    async with Client(timeout=Timeout(2.0, read=0.5)) as client:
        assert (await client.get(server.url_for("/drip"))).text == "x" * 40
        with pytest.raises(hyperhttp.TimeoutException, match="total timeout"):
            await client.get(server.url_for("/drip"), timeout=Timeout(2.0, total=0.2))


# -- retries against the real server: counts prove what was sent ------------------------------


async def test_503_with_retry_after_is_retried_then_succeeds(server: HTTPServer) -> None:
    server.expect_ordered_request("/flaky").respond_with_data(
        "busy", status=503, headers={"Retry-After": "0"}
    )
    server.expect_ordered_request("/flaky").respond_with_data("ok")
    async with Client(retry=RetryPolicy(max_retries=2)) as client:
        r = await client.get(server.url_for("/flaky"))
    assert r.text == "ok"
    assert server.get_matching_requests_count(hyperhttp.testing.RequestMatcher("/flaky")) == 2


async def test_a_reset_post_is_sent_exactly_once(server: HTTPServer) -> None:
    server.expect_request("/charge", method="POST").respond_with_data("").with_fault(Fault.reset())
    client = Client(retry=RetryPolicy(max_retries=3))
    client._sleep = no_sleep
    async with client:
        with pytest.raises(hyperhttp.HyperHTTPError):
            await client.post(server.url_for("/charge"), json={"amount": 10})
    assert len(server.log) == 1


async def test_a_reset_get_is_retried(server: HTTPServer) -> None:
    server.expect_oneshot_request("/read").respond_with_data("").with_fault(Fault.reset())
    server.expect_request("/read").respond_with_data("second time lucky")
    client = Client(retry=RetryPolicy(max_retries=3))
    client._sleep = no_sleep
    async with client:
        r = await client.get(server.url_for("/read"))
    assert r.text == "second time lucky"
    assert len(server.log) == 2


# -- MockTransport and the wire agree -------------------------------------------------------

Scenario = Callable[[Client, str], Awaitable[object]]


async def _redirect_then_cookie(client: Client, base: str) -> object:
    r = await client.get(f"{base}/login", follow_redirects=True)
    return (r.status_code, [h.status_code for h in r.history], r.text, dict(client.cookies.items()))


async def _gzip(client: Client, base: str) -> object:
    r = await client.get(f"{base}/gz")
    return (r.status_code, r.content)


async def _basic_auth(client: Client, base: str) -> object:
    denied = await client.get(f"{base}/private")
    allowed = await client.get(f"{base}/private", auth=("u", "p"))
    return (denied.status_code, allowed.status_code, allowed.text)


async def _hooks_and_json(client: Client, base: str) -> object:
    seen: list[str] = []
    client.event_hooks["request"].append(lambda req: seen.append(req.method))
    client.event_hooks["response"].append(lambda resp: seen.append(str(resp.status_code)))
    r = await client.post(f"{base}/echo", json={"n": 1})
    return (r.json(), seen)


def _server_routes(server: HTTPServer) -> None:
    server.expect_request("/login").respond_with_data(
        "", status=302, headers={"Location": "/home", "Set-Cookie": "sid=42; Path=/"}
    )

    def home(request: WerkzeugRequest) -> WerkzeugResponse:
        return WerkzeugResponse(f"cookie={request.headers.get('Cookie')}")

    server.expect_request("/home").respond_with_handler(home)
    server.expect_request("/gz").respond_with_data(
        gzip.compress(b"zipped!"), headers={"Content-Encoding": "gzip"}
    )

    def private(request: WerkzeugRequest) -> WerkzeugResponse:
        ok = request.headers.get("Authorization") == "Basic dTpw"
        return WerkzeugResponse("secret" if ok else "no", status=200 if ok else 401)

    server.expect_request("/private").respond_with_handler(private)
    server.expect_request("/echo", method="POST").respond_with_handler(
        lambda request: WerkzeugResponse(request.get_data(), content_type="application/json")
    )


def _mock_routes() -> MockTransport:
    def handler(request: hyperhttp.Request) -> MockResponse:
        path = request.url.path
        if path == "/login":
            return MockResponse(
                302, headers=[("Location", "/home"), ("Set-Cookie", "sid=42; Path=/")]
            )
        if path == "/home":
            return MockResponse(200, text=f"cookie={request.headers.get('cookie')}")
        if path == "/gz":
            return MockResponse(
                200, content=gzip.compress(b"zipped!"), headers={"Content-Encoding": "gzip"}
            )
        if path == "/private":
            ok = request.headers.get("authorization") == "Basic dTpw"
            return MockResponse(200 if ok else 401, text="secret" if ok else "no")
        if path == "/echo":
            return MockResponse(
                200, content=request.content, headers={"Content-Type": "application/json"}
            )
        return MockResponse(404)

    return MockTransport(handler)


@pytest.mark.parametrize("scenario", [_redirect_then_cookie, _gzip, _basic_auth, _hooks_and_json])
async def test_mock_transport_and_the_real_server_agree(
    server: HTTPServer, scenario: Scenario
) -> None:
    _server_routes(server)
    async with Client() as client:
        over_the_wire = await scenario(client, server.url_for("/").rstrip("/"))
    async with Client(transport=_mock_routes()) as client:
        in_process = await scenario(client, "http://mock.test")
    assert over_the_wire == in_process
