"""The reference page's promise: auth + retry + hooks + cookies + redirects together,
with no server, every piece of production machinery running."""

from __future__ import annotations

import hyperhttp
from hyperhttp import Client, ConnectError, MockResponse, MockTransport, Router
from hyperhttp.errors.retry import RetryPolicy


async def no_sleep(_: float) -> None:
    return None


async def test_auth_retry_hooks_cookies_and_redirects_together() -> None:
    state = {"outages": 1}
    trace: list[str] = []

    def login(request: hyperhttp.Request) -> MockResponse:
        assert request.headers["authorization"] == "Bearer t0k"
        return MockResponse(
            303, headers=[("Location", "/dashboard"), ("Set-Cookie", "session=s1; Path=/")]
        )

    def dashboard(request: hyperhttp.Request) -> MockResponse:
        if state["outages"]:
            state["outages"] -= 1
            raise ConnectError("simulated blip")
        return MockResponse(
            200,
            json={
                "cookie": request.headers.get("cookie"),
                "auth": request.headers.get("authorization"),
                "trace": request.headers.get("x-trace"),
            },
        )

    router = Router().post("/login", login).get("/dashboard", dashboard)
    mock = MockTransport(router)

    def tag(request: hyperhttp.Request) -> None:
        request.headers["X-Trace"] = "t-1"
        trace.append(f"> {request.method} {request.url.path}")

    async def record(response: hyperhttp.Response) -> None:
        trace.append(f"< {response.status_code}")

    client = Client(
        transport=mock,
        auth=lambda request: (request.headers.__setitem__("Authorization", "Bearer t0k"), request)[
            1
        ],
        retry=RetryPolicy(max_retries=2, retry_categories=["CONNECTION"]),
        follow_redirects=True,
        event_hooks={"request": [tag], "response": [record]},
    )
    client._sleep = no_sleep
    async with client:
        r = await client.post("https://app.example/login", json={"user": "alice"})

    assert r.status_code == 200
    assert r.json() == {"cookie": "session=s1", "auth": "Bearer t0k", "trace": "t-1"}
    assert [h.status_code for h in r.history] == [303]
    assert client.cookies["session"] == "s1"
    # one POST, then the GET hop twice: the blip, and the retry
    assert [(c.method, c.url.path) for c in mock.calls] == [
        ("POST", "/login"),
        ("GET", "/dashboard"),
        ("GET", "/dashboard"),
    ]
    assert trace == ["> POST /login", "< 303", "> GET /dashboard", "> GET /dashboard", "< 200"]
