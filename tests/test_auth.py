"""Authentication: the flow driver, Basic/Bearer/Function/NetRC, Digest (RFC 7616) and the
WWW-Authenticate parser.

Flows are driven through ``run_auth_flow`` with a fake ``send`` (a plain async function
acting as the server); Digest also runs against a scripted loopback server through
``hyperhttp.Client``. The Digest server side here computes the expected response on its own
(hashlib + a small regex parser), so the client is never checked against itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from pathlib import Path
from typing import Any

import pytest

import hyperhttp
from hyperhttp import (
    Auth,
    AuthFlowError,
    BasicAuth,
    BearerAuth,
    DigestAuth,
    FunctionAuth,
    NetRCAuth,
    RemoteProtocolError,
    Request,
    Response,
    StreamError,
)
from hyperhttp._auth import (
    _DIGEST_HASHES,
    MAX_AUTH_ROUNDS,
    Challenge,
    build_auth,
    parse_www_authenticate,
    run_auth_flow,
)
from hyperhttp._models import ResponseStream

from .conftest import ServerFactory
from .scripted import RawRequest, keep_alive, response

URL = "https://api.example.com/dir/index.html?x=1"

# ------------------------------------------------------------------------------------------
# helpers


class Sent:
    """What the fake server saw of one request (a snapshot: flows mutate and re-send)."""

    def __init__(self, request: Request) -> None:
        self.method = request.method
        self.url = request.url
        self.headers = request.headers.copy()


def sender(
    handler: Callable[[Request], Response],
) -> tuple[Callable[[Request], Any], list[Sent]]:
    """A fake ``send``: records a snapshot of each request and answers with ``handler``."""
    seen: list[Sent] = []

    async def send(request: Request) -> Response:
        seen.append(Sent(request))
        reply = handler(request)
        reply.request = request
        return reply

    return send, seen


class TrackedStream(ResponseStream):
    """An unread response body that records whether it was closed."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data

    async def aclose(self) -> None:
        self.closed = True


_AUTH_PARAM = re.compile(r'([A-Za-z0-9*-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')


def parse_authorization(value: str) -> dict[str, str]:
    """The parameters of a ``Digest ...`` Authorization header (test-side parser)."""
    assert value.startswith("Digest ")
    out: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(value[len("Digest ") :]):
        quoted = match.group(2)
        out[match.group(1)] = (
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        )
    return out


_HASHLIB = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def expected_digest(
    params: dict[str, str], method: str, username: str, password: str, body: bytes = b""
) -> str:
    """RFC 7616 §3.4.1 computed independently of the client."""
    algorithm = params.get("algorithm", "MD5").upper()
    sess = algorithm.endswith("-SESS")
    name = _HASHLIB[algorithm.removesuffix("-SESS")]

    def h(text: str | bytes) -> str:
        data = text.encode() if isinstance(text, str) else text
        return hashlib.new(name, data).hexdigest()

    ha1 = h(f"{username}:{params['realm']}:{password}")
    if sess:
        ha1 = h(f"{ha1}:{params['nonce']}:{params['cnonce']}")
    a2 = f"{method}:{params['uri']}"
    if params.get("qop") == "auth-int":
        a2 += ":" + h(body)
    if "qop" not in params:
        return h(f"{ha1}:{params['nonce']}:{h(a2)}")
    return h(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{h(a2)}")


class DigestServer:
    """A Digest-protected resource for ``sender``: 401 + challenge until the answer is right."""

    def __init__(
        self,
        username: str = "Mufasa",
        password: str = "Circle of Life",
        *,
        challenge: str = 'realm="test", nonce="n1", qop="auth", opaque="op"',
        nonces: list[str] | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.challenge = challenge
        self.nonces = nonces
        self.authorizations: list[dict[str, str] | None] = []

    def www_authenticate(self) -> str:
        challenge = self.challenge
        if self.nonces:
            challenge = challenge.replace('nonce="n1"', f'nonce="{self.nonces.pop(0)}"')
        return "Digest " + challenge

    def __call__(self, request: Request) -> Response:
        header = request.headers.get("authorization")
        if header is None:
            self.authorizations.append(None)
            return Response(401, headers={"WWW-Authenticate": self.www_authenticate()})
        params = parse_authorization(header)
        self.authorizations.append(params)
        body = request.content
        good = params["response"] == expected_digest(
            params, request.method, self.username, self.password, body
        )
        if good:
            return Response(200, text="welcome")
        return Response(401, headers={"WWW-Authenticate": self.www_authenticate()})


async def flow_of(auth: Auth, request: Request) -> Sent:
    """The first request the flow yields (for single-shot schemes)."""
    send, seen = sender(lambda _: Response(200))
    await run_auth_flow(auth, request, send)
    return seen[0]


# ------------------------------------------------------------------------------------------
# Basic, Bearer, Function, build_auth


async def test_basic_auth_header() -> None:
    sent = await flow_of(BasicAuth("alice", "s3cret"), Request("GET", URL))
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()


async def test_basic_auth_non_ascii_credentials_are_utf8() -> None:
    sent = await flow_of(BasicAuth("jürgen", "pässwörd€"), Request("GET", URL))
    token = sent.headers["authorization"].removeprefix("Basic ")
    assert base64.b64decode(token) == "jürgen:pässwörd€".encode()


async def test_basic_auth_accepts_utf8_bytes() -> None:
    sent = await flow_of(BasicAuth(b"bob", b"pw"), Request("GET", URL))
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()


async def test_basic_auth_replaces_an_existing_authorization_header() -> None:
    request = Request("GET", URL, headers={"Authorization": "Bearer old"})
    sent = await flow_of(BasicAuth("a", "b"), request)
    assert sent.headers.get_list("authorization") == ["Basic YTpi"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("a:b", "pw"), ("a\r\nX-Injected: 1", "pw"), ("a", "p\nw"), ("a\x00", "pw")],
)
def test_basic_auth_rejects_invalid_credentials(username: str, password: str) -> None:
    with pytest.raises(ValueError) as info:
        BasicAuth(username, password)
    assert password not in str(info.value)


def test_basic_auth_repr_hides_the_password() -> None:
    auth = BasicAuth("alice", "s3cret")
    assert "s3cret" not in repr(auth)
    assert "s3cret" not in str(auth)
    assert "alice" in repr(auth)


async def test_bearer_auth_header() -> None:
    sent = await flow_of(BearerAuth("tok.en-123_~+/="), Request("GET", URL))
    assert sent.headers["authorization"] == "Bearer tok.en-123_~+/="


@pytest.mark.parametrize("token", ["", "a b", "a\r\nb", "é"])
def test_bearer_auth_rejects_invalid_tokens(token: str) -> None:
    with pytest.raises(ValueError):
        BearerAuth(token)


def test_bearer_auth_repr_hides_the_token() -> None:
    assert "secret-token" not in repr(BearerAuth("secret-token"))


async def test_function_auth_sends_what_the_function_returns() -> None:
    def sign(request: Request) -> Request:
        request.headers["X-Signature"] = "sig"
        return request

    auth = FunctionAuth(sign)
    sent = await flow_of(auth, Request("GET", URL))
    assert sent.headers["x-signature"] == "sig"
    assert "sign" in repr(auth)


def test_build_auth_coerces_the_accepted_shapes() -> None:
    assert build_auth(None) is None
    basic = BasicAuth("u", "p")
    assert build_auth(basic) is basic
    coerced = build_auth(("user", "pass"))
    assert isinstance(coerced, BasicAuth)
    assert coerced.username == "user"
    assert isinstance(build_auth(lambda r: r), FunctionAuth)


@pytest.mark.parametrize(
    "value",
    ["user:pass", ["user", "pass"], ("only-one",), ("a", "b", "c"), 42, b"x", BasicAuth, Auth],
)
def test_build_auth_rejects_anything_else(value: Any) -> None:
    with pytest.raises(TypeError):
        build_auth(value)


def test_public_names_are_exported() -> None:
    for name in ("Auth", "BasicAuth", "BearerAuth", "DigestAuth", "FunctionAuth", "NetRCAuth"):
        assert getattr(hyperhttp, name).__module__ == "hyperhttp._auth"
    assert issubclass(AuthFlowError, hyperhttp.HyperHTTPError)


# ------------------------------------------------------------------------------------------
# the driver


async def test_single_round_flow_has_no_history() -> None:
    send, seen = sender(lambda _: Response(204))
    result = await run_auth_flow(Auth(), Request("GET", URL), send)
    assert result.response.status_code == 204
    assert result.history == []
    assert len(seen) == 1
    response, _history = result  # a NamedTuple: unpacks
    assert response is result.response


# The reference page's example, verbatim apart from the imports.
class RefreshingBearer(Auth):
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


async def test_reference_refreshing_bearer_flow() -> None:
    def server(request: Request) -> Response:
        if request.method == "POST" and request.url.path == "/token":
            assert request.content == b"refresh"
            return Response(200, json={"access_token": "abc"})
        if request.url.path == "/me":
            ok = request.headers.get("authorization") == "Bearer abc"
            return Response(200 if ok else 401)
        return Response(404)

    send, seen = sender(server)
    auth = RefreshingBearer()
    result = await run_auth_flow(auth, Request("GET", "https://api.example.com/me"), send)
    assert result.response.status_code == 200
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/token"), ("GET", "/me")]
    assert [r.status_code for r in result.history] == [200]
    assert result.history[0].json() == {"access_token": "abc"}

    # The token is cached: the next request goes straight through.
    result = await run_auth_flow(auth, Request("GET", "https://api.example.com/me"), send)
    assert result.response.status_code == 200
    assert result.history == []
    assert len(seen) == 3


async def test_requires_response_body_reads_responses_before_the_flow_sees_them() -> None:
    def server(request: Request) -> Response:
        return Response(200, stream=TrackedStream(b'{"access_token": "abc"}'))

    class ReadsTokenBody(RefreshingBearer):
        requires_response_body = True

    send, _ = sender(server)
    result = await run_auth_flow(ReadsTokenBody(), Request("GET", URL), send)
    assert result.history[0].json() == {"access_token": "abc"}
    assert result.response.content == b'{"access_token": "abc"}'


async def test_intermediate_responses_are_read_and_closed_final_left_alone() -> None:
    streams: list[TrackedStream] = []

    def server(request: Request) -> Response:
        stream = TrackedStream(b"body %d" % len(streams))
        streams.append(stream)
        return Response(401 if len(streams) == 1 else 200, stream=stream)

    class Twice(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            response = yield request
            if response.status_code == 401:
                yield request

    send, _ = sender(server)
    result = await run_auth_flow(Twice(), Request("GET", URL), send)
    [challenge] = result.history
    assert challenge.content == b"body 0"
    assert streams[0].closed and challenge.is_closed
    # The final response is returned unread and open: the caller decides (stream or read).
    assert not streams[1].closed
    assert not result.response.is_closed
    assert await result.response.aread() == b"body 1"


async def test_async_auth_flow_may_await() -> None:
    class AsyncTokenAuth(Auth):
        def __init__(self) -> None:
            self.fetched = 0

        async def _token(self) -> str:
            await asyncio.sleep(0)
            self.fetched += 1
            return f"t{self.fetched}"

        async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
            request.headers["Authorization"] = f"Bearer {await self._token()}"
            response = yield request
            if response.status_code == 401:
                request.headers["Authorization"] = f"Bearer {await self._token()}"
                yield request

    send, seen = sender(
        lambda r: Response(200 if r.headers["authorization"] == "Bearer t2" else 401)
    )
    result = await run_auth_flow(AsyncTokenAuth(), Request("GET", URL), send)
    assert result.response.status_code == 200
    assert [r.headers["authorization"] for r in seen] == ["Bearer t1", "Bearer t2"]
    assert [r.status_code for r in result.history] == [401]


async def test_requires_request_body_reads_a_streaming_body_first() -> None:
    bodies: list[bytes] = []

    class Signs(Auth):
        requires_request_body = True

        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            bodies.append(request.content)
            yield request

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    send, _ = sender(lambda _: Response(200))
    await run_auth_flow(Signs(), Request("POST", URL, content=chunks()), send)
    assert bodies == [b"ab"]


async def test_round_cap_allows_the_limit() -> None:
    class Rounds(Auth):
        def __init__(self, n: int) -> None:
            self.n = n

        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            for _ in range(self.n):
                yield request

    send, seen = sender(lambda _: Response(401))
    result = await run_auth_flow(Rounds(MAX_AUTH_ROUNDS), Request("GET", URL), send)
    assert len(seen) == MAX_AUTH_ROUNDS
    assert len(result.history) == MAX_AUTH_ROUNDS - 1


async def test_round_cap_plus_one_raises_and_closes_the_flow() -> None:
    closed: list[bool] = []

    class Forever(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            try:
                while True:
                    yield request
            finally:
                closed.append(True)

    send, seen = sender(lambda _: Response(401))
    request = Request("GET", URL)
    with pytest.raises(AuthFlowError) as info:
        await run_auth_flow(Forever(), request, send)
    assert len(seen) == MAX_AUTH_ROUNDS  # the extra request is never sent
    assert info.value.request is request
    assert closed == [True]


async def test_custom_round_limit() -> None:
    class Twice(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            yield request
            yield request

    send, seen = sender(lambda _: Response(401))
    with pytest.raises(AuthFlowError):
        await run_auth_flow(Twice(), Request("GET", URL), send, max_rounds=1)
    assert len(seen) == 1


async def test_a_flow_that_yields_nothing_is_an_error() -> None:
    class Empty(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            return
            yield  # pragma: no cover

    send, seen = sender(lambda _: Response(200))
    with pytest.raises(AuthFlowError):
        await run_auth_flow(Empty(), Request("GET", URL), send)
    assert seen == []


async def test_a_flow_that_yields_a_non_request_is_a_type_error() -> None:
    class Wrong(Auth):
        def auth_flow(self, request: Request) -> Generator[Any, Response, None]:
            yield "GET /"

    send, _ = sender(lambda _: Response(200))
    with pytest.raises(TypeError):
        await run_auth_flow(Wrong(), Request("GET", URL), send)


async def test_flow_is_closed_when_send_fails() -> None:
    events: list[str] = []

    class Tracked(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            try:
                yield request
                events.append("resumed")  # pragma: no cover
            finally:
                events.append("closed")

    async def send(request: Request) -> Response:
        raise hyperhttp.ConnectError("refused")

    request = Request("GET", URL)
    with pytest.raises(hyperhttp.ConnectError) as info:
        await run_auth_flow(Tracked(), request, send)
    assert events == ["closed"]
    assert info.value.request is request


async def test_flow_error_closes_the_response_in_hand() -> None:
    stream = TrackedStream(b"")
    closed: list[bool] = []

    class Explodes(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            try:
                yield request
                raise ValueError("flow bug")
            finally:
                closed.append(True)

    send, _ = sender(lambda _: Response(401, stream=stream))
    with pytest.raises(ValueError, match="flow bug"):
        await run_auth_flow(Explodes(), Request("GET", URL), send)
    assert stream.closed
    assert closed == [True]


async def test_async_flow_is_closed_on_errors() -> None:
    events: list[str] = []

    class AsyncTracked(Auth):
        async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
            try:
                yield request
                yield request
            finally:
                await asyncio.sleep(0)
                events.append("closed")

    calls = 0

    async def send(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise hyperhttp.ReadTimeout("slow")
        return Response(401, request=request)

    with pytest.raises(hyperhttp.ReadTimeout):
        await run_auth_flow(AsyncTracked(), Request("GET", URL), send)
    assert events == ["closed"]


async def test_cancellation_propagates_untouched_and_closes_the_flow() -> None:
    events: list[str] = []
    started = asyncio.Event()

    class Tracked(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            try:
                yield request
            finally:
                events.append("closed")

    async def send(request: Request) -> Response:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("not reached")  # pragma: no cover

    task = asyncio.create_task(run_auth_flow(Tracked(), Request("GET", URL), send))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert events == ["closed"]


async def test_cancelled_error_raised_by_send_is_the_same_object() -> None:
    error = asyncio.CancelledError("stop")

    async def send(request: Request) -> Response:
        raise error

    with pytest.raises(asyncio.CancelledError) as info:
        await run_auth_flow(BasicAuth("u", "p"), Request("GET", URL), send)
    assert info.value is error


# ------------------------------------------------------------------------------------------
# the WWW-Authenticate parser


def test_parser_several_challenges_in_one_value() -> None:
    header = (
        'Basic realm="simple", Newauth realm="apps", type=1, title="Login to \\"apps\\"", '
        'Digest realm="a, b", nonce=abc'
    )
    assert parse_www_authenticate([header]) == [
        Challenge("basic", {"realm": "simple"}),
        Challenge("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        Challenge("digest", {"realm": "a, b", "nonce": "abc"}),
    ]


def test_parser_token68_bare_schemes_empty_elements_and_bws() -> None:
    header = ', Negotiate abc+/==, NTLM ,, Bearer realm = "x" , error="invalid_token"'
    assert parse_www_authenticate([header, "Basic"]) == [
        Challenge("negotiate", {}, "abc+/=="),
        Challenge("ntlm", {}),
        Challenge("bearer", {"realm": "x", "error": "invalid_token"}),
        Challenge("basic", {}),
    ]


def test_parser_names_are_case_insensitive_values_kept() -> None:
    [challenge] = parse_www_authenticate(['DIGEST Realm="MiXeD", NONCE="N"'])
    assert challenge == Challenge("digest", {"realm": "MiXeD", "nonce": "N"})


@pytest.mark.parametrize(
    "header",
    [
        'Digest realm="unterminated',
        'Digest realm="x" nonce="y"',  # missing comma
        "Digest realm=, nonce=x",
        'Digest realm="x", realm="y"',  # duplicate
        'Digest"x"',
        '=foo, Basic realm="x"',
        'Digest realm="x\\',
        "Digest realm=x, =y",
    ],
)
def test_parser_rejects_malformed_values(header: str) -> None:
    with pytest.raises(ValueError):
        parse_www_authenticate([header])


# ------------------------------------------------------------------------------------------
# Digest

RFC_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
async def test_digest_rfc7616_example(
    monkeypatch: pytest.MonkeyPatch, algorithm: str, expected: str
) -> None:
    """RFC 7616 §3.9.1: Mufasa / "Circle of Life", GET /dir/index.html."""
    monkeypatch.setattr(DigestAuth, "_new_cnonce", staticmethod(lambda: RFC_CNONCE))

    def server(request: Request) -> Response:
        if "authorization" not in request.headers:
            www = RFC_CHALLENGE.format(alg=algorithm)
            return Response(401, headers={"WWW-Authenticate": www})
        return Response(200)

    send, seen = sender(server)
    auth = DigestAuth("Mufasa", "Circle of Life")
    request = Request("GET", "http://www.example.org/dir/index.html")
    result = await run_auth_flow(auth, request, send)
    assert result.response.status_code == 200
    assert [r.status_code for r in result.history] == [401]
    assert seen[1].headers["authorization"] == (
        'Digest username="Mufasa", realm="http-auth@example.org", '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", '
        f"algorithm={algorithm}, qop=auth, nc=00000001, "
        f'cnonce="{RFC_CNONCE}", response="{expected}", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )


@pytest.mark.parametrize(
    "algorithm",
    [
        "MD5",
        "MD5-sess",
        "SHA-256",
        "SHA-256-sess",
        "SHA-512-256",
        "SHA-512-256-sess",
        "md5-sess",
        "sha-256",
    ],
)
async def test_digest_each_algorithm(algorithm: str) -> None:
    server = DigestServer(challenge=f'realm="r", nonce="n1", qop="auth", algorithm={algorithm}')
    send, _ = sender(server)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200
    params = server.authorizations[1]
    assert params is not None
    assert params["algorithm"] == algorithm  # the server's spelling, echoed
    assert params["uri"] == "/dir/index.html?x=1"


async def test_digest_algorithm_absent_means_md5_and_is_not_sent() -> None:
    server = DigestServer(challenge='realm="r", nonce="n1", qop="auth"')
    send, _ = sender(server)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200
    assert "algorithm" not in (server.authorizations[1] or {})


async def test_digest_unknown_algorithm_is_not_answered() -> None:
    server = DigestServer(challenge='realm="r", nonce="n1", qop="auth", algorithm=FOO')
    send, seen = sender(server)
    result = await run_auth_flow(DigestAuth("u", "p"), Request("GET", URL), send)
    assert result.response.status_code == 401
    assert len(seen) == 1


async def test_digest_first_supported_challenge_wins() -> None:
    www = [
        'Digest realm="r", nonce="n1", qop="auth", algorithm=FOO',
        'Digest realm="r", nonce="n1", qop="auth", algorithm=SHA-256',
        'Digest realm="r", nonce="n1", qop="auth", algorithm=MD5',
    ]
    server = DigestServer()

    def handler(request: Request) -> Response:
        if "authorization" not in request.headers:
            return Response(401, headers=[("WWW-Authenticate", v) for v in www])
        return server(request)

    send, _ = sender(handler)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200
    assert (server.authorizations[0] or {})["algorithm"] == "SHA-256"


async def test_digest_sha512_256_unavailable_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(_DIGEST_HASHES, "SHA-512-256", None)
    server = DigestServer(challenge='realm="r", nonce="n1", qop="auth", algorithm=SHA-512-256')
    send, _ = sender(server)
    request = Request("GET", URL)
    with pytest.raises(AuthFlowError, match="SHA-512-256") as info:
        await run_auth_flow(DigestAuth("u", "secret-pw"), request, send)
    assert info.value.request is request


@pytest.mark.parametrize("qop", ["auth,auth-int", "auth-int, auth", " auth ", "auth"])
async def test_digest_qop_auth_is_preferred(qop: str) -> None:
    server = DigestServer(challenge=f'realm="r", nonce="n1", qop="{qop}"')
    send, _ = sender(server)
    result = await run_auth_flow(
        DigestAuth("Mufasa", "Circle of Life"), Request("POST", URL, content=b"x"), send
    )
    assert result.response.status_code == 200
    assert (server.authorizations[1] or {})["qop"] == "auth"


async def test_digest_qop_auth_int_hashes_the_body() -> None:
    server = DigestServer(challenge='realm="r", nonce="n1", qop="auth-int"')
    send, _ = sender(server)
    request = Request("POST", URL, content=b'{"name": "Alice"}')
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), request, send)
    assert result.response.status_code == 200
    assert (server.authorizations[1] or {})["qop"] == "auth-int"


async def test_digest_auth_int_with_a_replayable_file_body_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(b"file body")
    server = DigestServer(challenge='realm="r", nonce="n1", qop="auth-int"')
    send, _ = sender(server)
    with path.open("rb") as file:
        request = Request("PUT", URL, content=file)
        result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), request, send)
    assert result.response.status_code == 200
    assert request.content == b"file body"


def test_digest_auth_int_sync_flow_refuses_an_unread_body(tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(b"file body")
    with path.open("rb") as file:
        request = Request("PUT", URL, content=file)
        flow = DigestAuth("u", "p").auth_flow(request)
        next(flow)
        challenge = Response(
            401, headers={"WWW-Authenticate": 'Digest realm="r", nonce="n", qop="auth-int"'}
        )
        with pytest.raises(StreamError):
            flow.send(challenge)


@pytest.mark.parametrize("qop", ["auth-conf", "foo, bar", ""])
async def test_digest_unknown_qop_is_a_typed_error(qop: str) -> None:
    server = DigestServer(challenge=f'realm="r", nonce="n1", qop="{qop}"')
    send, _ = sender(server)
    request = Request("GET", URL)
    with pytest.raises(RemoteProtocolError) as info:
        await run_auth_flow(DigestAuth("u", "secret-pw"), request, send)
    assert info.value.request is request


async def test_digest_without_qop_uses_rfc2069() -> None:
    server = DigestServer(challenge='realm="r", nonce="n1"')
    send, _ = sender(server)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200
    params = server.authorizations[1] or {}
    assert "qop" not in params and "nc" not in params and "cnonce" not in params
    assert "opaque" not in params


async def test_digest_opaque_is_echoed() -> None:
    server = DigestServer(challenge='realm="r", nonce="n1", qop="auth", opaque="5ccc069c403eb"')
    send, _ = sender(server)
    await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert (server.authorizations[1] or {})["opaque"] == "5ccc069c403eb"


async def test_digest_nonce_count_increments_and_cnonce_is_fresh() -> None:
    server = DigestServer()
    send, seen = sender(server)
    auth = DigestAuth("Mufasa", "Circle of Life")
    for _ in range(3):
        result = await run_auth_flow(auth, Request("GET", URL), send)
        assert result.response.status_code == 200
    # One challenge round, then the challenge is reused preemptively.
    assert len(seen) == 4
    answers = [p for p in server.authorizations if p is not None]
    assert [p["nc"] for p in answers] == ["00000001", "00000002", "00000003"]
    assert len({p["cnonce"] for p in answers}) == 3
    assert all(len(p["cnonce"]) >= 16 for p in answers)


async def test_digest_new_nonce_resets_the_count() -> None:
    server = DigestServer(nonces=["n1", "n2"])
    send, _ = sender(server)
    auth = DigestAuth("Mufasa", "Circle of Life")
    await run_auth_flow(auth, Request("GET", URL), send)  # 401(n1), answer nc=1
    await run_auth_flow(auth, Request("GET", URL), send)  # preemptive n1, nc=2

    # The server rotates the nonce: the preemptive n1 answer is refused with n2.
    def rotate(request: Request) -> Response:
        params = parse_authorization(request.headers["authorization"])
        if params["nonce"] == "n1":
            return Response(
                401, headers={"WWW-Authenticate": 'Digest realm="test", nonce="n2", qop=auth'}
            )
        return server(request)

    send2, seen2 = sender(rotate)
    result = await run_auth_flow(auth, Request("GET", URL), send2)
    assert result.response.status_code == 200
    first, second = (parse_authorization(r.headers["authorization"]) for r in seen2)
    assert (first["nonce"], first["nc"]) == ("n1", "00000003")
    assert (second["nonce"], second["nc"]) == ("n2", "00000001")


async def test_digest_stale_is_retried_once_with_the_new_nonce() -> None:
    calls: list[dict[str, str] | None] = []
    ok = DigestServer()

    def server(request: Request) -> Response:
        header = request.headers.get("authorization")
        calls.append(parse_authorization(header) if header else None)
        if header is None:
            www = 'Digest realm="test", nonce="old", qop="auth"'
            return Response(401, headers={"WWW-Authenticate": www})
        if calls[-1]["nonce"] == "old":  # type: ignore[index]
            www = 'Digest realm="test", nonce="n1", qop="auth", stale=TRUE'
            return Response(401, headers={"WWW-Authenticate": www})
        return ok(request)

    send, seen = sender(server)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200
    assert len(seen) == 3
    assert [c["nonce"] if c else None for c in calls] == [None, "old", "n1"]


async def test_digest_stale_forever_is_not_looped() -> None:
    counter = iter(range(100))

    def server(request: Request) -> Response:
        www = f'Digest realm="r", nonce="n{next(counter)}", qop="auth", stale=true'
        return Response(401, headers={"WWW-Authenticate": www})

    send, seen = sender(server)
    result = await run_auth_flow(DigestAuth("u", "p"), Request("GET", URL), send)
    assert result.response.status_code == 401
    assert len(seen) == 3  # plain, answer, one stale retry
    assert len(result.history) == 2


async def test_digest_401_after_the_answer_is_returned() -> None:
    server = DigestServer(password="the-real-one")
    send, seen = sender(server)
    auth = DigestAuth("Mufasa", "wrong-password")
    result = await run_auth_flow(auth, Request("GET", URL), send)
    assert result.response.status_code == 401
    assert len(seen) == 2
    assert [r.status_code for r in result.history] == [401]
    # Refused credentials are not replayed preemptively on the next request.
    send2, seen2 = sender(server)
    await run_auth_flow(auth, Request("GET", URL), send2)
    assert "authorization" not in seen2[0].headers


async def test_digest_found_among_several_challenges_in_one_header() -> None:
    server = DigestServer()

    def handler(request: Request) -> Response:
        if "authorization" not in request.headers:
            www = (
                'Basic realm="x", Negotiate abc==, Digest realm="test", nonce="n1", '
                'qop="auth", opaque="op", Bearer realm="y"'
            )
            return Response(401, headers={"WWW-Authenticate": www})
        return server(request)

    send, _ = sender(handler)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200
    assert (server.authorizations[0] or {})["realm"] == "test"


async def test_digest_found_across_header_lines() -> None:
    server = DigestServer()

    def handler(request: Request) -> Response:
        if "authorization" not in request.headers:
            return Response(
                401,
                headers=[
                    ("WWW-Authenticate", 'Basic realm="x"'),
                    ("WWW-Authenticate", 'Bearer error="invalid_token"'),
                    ("WWW-Authenticate", 'Digest realm="test", nonce="n1", qop="auth"'),
                ],
            )
        return server(request)

    send, _ = sender(handler)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200


@pytest.mark.parametrize(
    "www",
    [
        'Digest realm="unterminated, nonce="n"',
        'Digest realm="r"',  # no nonce
        'Digest nonce="n"',  # no realm
        'Digest realm="r", nonce="a", nonce="b"',
        "Digest abc==",
        'Basic realm="x", Digest realm="r" nonce="n"',
    ],
)
async def test_digest_malformed_challenge_is_a_typed_error(www: str) -> None:
    send, _ = sender(lambda _: Response(401, headers={"WWW-Authenticate": www}))
    request = Request("GET", URL)
    with pytest.raises(RemoteProtocolError) as info:
        await run_auth_flow(DigestAuth("user", "secret-pw"), request, send)
    assert info.value.request is request
    assert "secret-pw" not in str(info.value) and "secret-pw" not in repr(info.value)


async def test_digest_ignores_a_malformed_header_of_another_scheme() -> None:
    www = [("WWW-Authenticate", 'Bearer error="broken'), ("WWW-Authenticate", 'Basic realm="x"')]
    send, seen = sender(lambda _: Response(401, headers=www))
    result = await run_auth_flow(DigestAuth("u", "p"), Request("GET", URL), send)
    assert result.response.status_code == 401
    assert len(seen) == 1


async def test_digest_401_without_digest_challenge_is_returned() -> None:
    send, seen = sender(lambda _: Response(401, headers={"WWW-Authenticate": 'Basic realm="x"'}))
    result = await run_auth_flow(DigestAuth("u", "p"), Request("GET", URL), send)
    assert result.response.status_code == 401
    assert len(seen) == 1

    send, seen = sender(lambda _: Response(401))
    result = await run_auth_flow(DigestAuth("u", "p"), Request("GET", URL), send)
    assert result.response.status_code == 401
    assert len(seen) == 1


@pytest.mark.parametrize("status", [200, 403, 407, 500])
async def test_digest_only_acts_on_401(status: int) -> None:
    www = 'Digest realm="r", nonce="n", qop="auth"'
    send, seen = sender(lambda _: Response(status, headers={"WWW-Authenticate": www}))
    result = await run_auth_flow(DigestAuth("u", "p"), Request("GET", URL), send)
    assert result.response.status_code == status
    assert len(seen) == 1


@pytest.mark.parametrize(
    "other",
    [
        "https://other.example.com/dir/index.html",  # host
        "http://api.example.com/dir/index.html",  # scheme
        "https://api.example.com:8443/dir/index.html",  # port
    ],
)
async def test_digest_state_never_goes_to_another_origin(other: str) -> None:
    """DG-06: the nonce learnt from origin A is not used for origin B."""
    server = DigestServer()
    send, _ = sender(server)
    auth = DigestAuth("Mufasa", "Circle of Life")
    await run_auth_flow(auth, Request("GET", URL), send)  # state for A
    other_server = DigestServer(challenge='realm="other", nonce="b-nonce", qop="auth"')
    send_b, seen_b = sender(other_server)
    result = await run_auth_flow(auth, Request("GET", other), send_b)
    assert "authorization" not in seen_b[0].headers
    assert result.response.status_code == 200
    assert (other_server.authorizations[1] or {})["nonce"] == "b-nonce"
    # and A keeps its own state
    send_a, seen_a = sender(server)
    await run_auth_flow(auth, Request("GET", URL), send_a)
    assert parse_authorization(seen_a[0].headers["authorization"])["nonce"] == "n1"


async def test_digest_does_not_answer_a_challenge_from_another_origin() -> None:
    """A 401 that came from elsewhere (the send function followed a redirect)."""

    async def send(request: Request) -> Response:
        elsewhere = Request("GET", "https://evil.example/")
        www = 'Digest realm="evil", nonce="n", qop="auth"'
        return Response(401, headers={"WWW-Authenticate": www}, request=elsewhere)

    auth = DigestAuth("u", "p")
    result = await run_auth_flow(auth, Request("GET", URL), send)
    assert result.response.status_code == 401
    assert result.history == []
    assert auth._origins == {}


async def test_digest_refuses_a_one_shot_streaming_body_before_sending() -> None:
    """DG-07."""

    async def body() -> AsyncIterator[bytes]:
        yield b"data"

    send, seen = sender(lambda _: Response(200))
    request = Request("POST", URL, content=body())
    with pytest.raises(StreamError) as info:
        await run_auth_flow(DigestAuth("u", "p"), request, send)
    assert seen == []
    assert info.value.request is request


async def test_digest_with_a_read_streaming_body_works() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"da"
        yield b"ta"

    server = DigestServer(challenge='realm="r", nonce="n1", qop="auth-int"')
    send, _ = sender(server)
    request = Request("POST", URL, content=body())
    await request.aread()
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), request, send)
    assert result.response.status_code == 200


async def test_digest_quotes_and_backslashes_are_escaped() -> None:
    """DG-04: user name and realm with '"' and '\\'."""
    username = 'Mu"fa\\sa'
    server = DigestServer(
        username=username, challenge='realm="r\\"e\\\\alm", nonce="n1", qop="auth"'
    )
    send, seen = sender(server)
    result = await run_auth_flow(DigestAuth(username, "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200
    params = server.authorizations[1] or {}
    assert params["username"] == username
    assert params["realm"] == 'r"e\\alm'
    assert 'username="Mu\\"fa\\\\sa"' in seen[1].headers["authorization"]


@pytest.mark.parametrize("username", ["a\r\nb", "a\nb", "a\x00b"])
def test_digest_rejects_control_characters_in_credentials(username: str) -> None:
    with pytest.raises(ValueError):
        DigestAuth(username, "pw")
    with pytest.raises(ValueError):
        DigestAuth("user", username)


async def test_digest_userhash() -> None:
    def handler(request: Request) -> Response:
        if "authorization" not in request.headers:
            www = 'Digest realm="r", nonce="n1", qop="auth", algorithm=SHA-256, userhash=true'
            return Response(401, headers={"WWW-Authenticate": www})
        params = parse_authorization(request.headers["authorization"])
        assert params["userhash"] == "true"
        assert params["username"] == hashlib.sha256(b"Mufasa:r").hexdigest()
        good = params["response"] == expected_digest(params, "GET", "Mufasa", "Circle of Life")
        return Response(200 if good else 401)

    send, _ = sender(handler)
    result = await run_auth_flow(DigestAuth("Mufasa", "Circle of Life"), Request("GET", URL), send)
    assert result.response.status_code == 200


async def test_digest_non_ascii_username_uses_username_star() -> None:
    server = DigestServer(
        password="pw", challenge='realm="r", nonce="n1", qop="auth", charset=UTF-8'
    )

    def handler(request: Request) -> Response:
        header = request.headers.get("authorization")
        if header is not None:
            params = parse_authorization(header)
            assert params["username*"] == "UTF-8''J%C3%A4s%C3%B8n%20Doe"
            request.headers["authorization"] = header.replace(
                "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe", 'username="x"'
            )
            server.username = "Jäsøn Doe"
        return server(request)

    send, _ = sender(handler)
    result = await run_auth_flow(DigestAuth("Jäsøn Doe", "pw"), Request("GET", URL), send)
    assert result.response.status_code == 200


def test_digest_repr_and_errors_hide_the_password() -> None:
    auth = DigestAuth("Mufasa", "Circle of Life")
    assert "Circle of Life" not in repr(auth)
    assert "Circle of Life" not in str(auth)


async def test_digest_sync_flow_matches_the_async_flow() -> None:
    """The plain generator (for callers that drive ``auth_flow`` themselves)."""
    server = DigestServer()
    auth = DigestAuth("Mufasa", "Circle of Life")
    request = Request("GET", URL)
    flow = auth.auth_flow(request)
    sent = next(flow)
    first = server(sent)
    retried = flow.send(first)
    final = server(retried)
    assert final.status_code == 200
    with pytest.raises(StopIteration):
        flow.send(final)


async def test_digest_remembers_a_bounded_number_of_origins() -> None:
    server = DigestServer()
    send, _ = sender(server)
    auth = DigestAuth("Mufasa", "Circle of Life")
    for port in range(1000, 1300):
        await run_auth_flow(auth, Request("GET", f"http://h:{port}/"), send)
    assert len(auth._origins) <= 256
    assert ("http", "h", 1299) in auth._origins


async def test_digest_against_a_loopback_server(scripted: ServerFactory) -> None:
    """The whole exchange over real sockets, through hyperhttp.Client."""
    username, password = "Mufasa", "Circle of Life"

    def reply(raw: RawRequest) -> bytes:
        header = raw.header(b"authorization")
        if header is None:
            www = 'Digest realm="loop", nonce="lnonce", qop="auth,auth-int", algorithm=SHA-256'
            return response(b"denied", 401, [("WWW-Authenticate", www)])
        params = parse_authorization(header.decode())
        good = params["response"] == expected_digest(
            params, raw.method.decode(), username, password, raw.body
        )
        assert params["uri"] == raw.target.decode()
        return response(b"welcome" if good else b"bad", 200 if good else 401)

    server = await scripted(keep_alive(reply))
    auth = DigestAuth(username, password)
    async with hyperhttp.Client() as client:

        async def send(request: Request) -> Response:
            return await client.send(request)

        result = await run_auth_flow(auth, Request("GET", server.url + "/a?b=c"), send)
        assert result.response.status_code == 200
        assert result.response.text == "welcome"
        assert [r.status_code for r in result.history] == [401]
        assert result.history[0].content == b"denied"

        result = await run_auth_flow(auth, Request("POST", server.url + "/p", content=b"hi"), send)
        assert result.response.status_code == 200
        assert result.history == []

    nc = [
        parse_authorization(r.header(b"authorization").decode())["nc"]  # type: ignore[union-attr]
        for r in server.requests
        if r.header(b"authorization") is not None
    ]
    assert nc == ["00000001", "00000002"]
    assert server.accepted == 1  # the 401's connection was reused: its body was read


# ------------------------------------------------------------------------------------------
# NetRC


NETRC = """\
machine api.example.com
  login alice
  password s3cret
machine Other.Example.com login bob password hunter2
default login anon password anon-pw
"""


def write_netrc(tmp_path: Path, text: str = NETRC) -> Path:
    path = tmp_path / "netrc"
    path.write_text(text)
    path.chmod(0o600)
    return path


async def test_netrc_credentials_for_the_request_host(tmp_path: Path) -> None:
    auth = NetRCAuth(write_netrc(tmp_path))
    sent = await flow_of(auth, Request("GET", URL))
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    sent = await flow_of(auth, Request("GET", "https://other.example.com/"))
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"bob:hunter2").decode()


async def test_netrc_no_entry_no_header_and_default_ignored(tmp_path: Path) -> None:
    auth = NetRCAuth(write_netrc(tmp_path))
    sent = await flow_of(auth, Request("GET", "https://unknown.example.org/"))
    assert "authorization" not in sent.headers


async def test_netrc_default_entry_is_opt_in(tmp_path: Path) -> None:
    auth = NetRCAuth(write_netrc(tmp_path), use_default=True)
    sent = await flow_of(auth, Request("GET", "https://unknown.example.org/"))
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"anon:anon-pw").decode()


async def test_netrc_missing_file_means_no_auth(tmp_path: Path) -> None:
    auth = NetRCAuth(tmp_path / "does-not-exist")
    sent = await flow_of(auth, Request("GET", URL))
    assert "authorization" not in sent.headers


async def test_netrc_keeps_an_explicit_authorization_header(tmp_path: Path) -> None:
    auth = NetRCAuth(write_netrc(tmp_path))
    sent = await flow_of(auth, Request("GET", URL, headers={"Authorization": "Bearer x"}))
    assert sent.headers.get_list("authorization") == ["Bearer x"]


async def test_netrc_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRC", str(write_netrc(tmp_path)))
    sent = await flow_of(NetRCAuth(), Request("GET", URL))
    assert sent.headers["authorization"].startswith("Basic ")


async def test_netrc_home_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".netrc").write_text(NETRC)
    (tmp_path / ".netrc").chmod(0o600)
    sent = await flow_of(NetRCAuth(), Request("GET", URL))
    assert sent.headers["authorization"].startswith("Basic ")
    (tmp_path / ".netrc").unlink()
    sent = await flow_of(NetRCAuth(), Request("GET", URL))
    assert "authorization" not in sent.headers


def test_netrc_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    path = write_netrc(tmp_path, "machine api.example.com login alice bogus x\n")
    with pytest.raises(ValueError) as info:
        NetRCAuth(path)
    assert str(path) in str(info.value)
    path = write_netrc(tmp_path, "nonsense-token topsecret\n")
    with pytest.raises(ValueError) as info:
        NetRCAuth(path)
    assert "topsecret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_netrc_repr_has_no_secrets(tmp_path: Path) -> None:
    auth = NetRCAuth(write_netrc(tmp_path))
    assert "s3cret" not in repr(auth) and "alice" not in repr(auth)
