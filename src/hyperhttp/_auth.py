"""Authentication: the :class:`Auth` protocol, the built-in schemes and the flow driver.

An auth scheme is a *flow*: a generator that yields requests and is sent back the response
to each one. Most schemes yield once (add a header, done); challenge-response schemes such
as Digest yield the request, look at the 401, and yield it again with credentials. The
response to the last request yielded is the result.

:func:`run_auth_flow` drives a flow against a ``send`` function; the client calls it once per
logical request. It bounds the number of rounds (:data:`MAX_AUTH_ROUNDS`), closes the flow on
every exit path, and hands back the intermediate responses so the caller can put them in
``response.history``.
"""

from __future__ import annotations

import base64
import hashlib
import netrc
import os
import secrets
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
)
from typing import Any, Final, NamedTuple
from urllib.parse import quote

from ._exceptions import (
    AuthFlowError,
    HyperHTTPError,
    RemoteProtocolError,
    RequestNotRead,
    StreamError,
)
from ._models import Request, Response

__all__ = [
    "MAX_AUTH_ROUNDS",
    "Auth",
    "AuthFlowError",
    "AuthFlowResult",
    "AuthTypes",
    "BasicAuth",
    "BearerAuth",
    "Challenge",
    "DigestAuth",
    "FunctionAuth",
    "NetRCAuth",
    "build_auth",
    "parse_www_authenticate",
    "run_auth_flow",
]

#: The most requests one auth flow may send for one logical request. Digest needs at most
#: three (the first try, the answer to the challenge, one retry on ``stale=true``); a token
#: refresh needs two or three. A flow that asks for more is broken and gets AuthFlowError.
MAX_AUTH_ROUNDS: Final = 10

# Digest remembers the last challenge of this many origins (oldest forgotten first), so a
# crawler using one DigestAuth across many hosts does not grow without bound.
_MAX_DIGEST_ORIGINS: Final = 256

_CONTROL_CHARS = frozenset(chr(c) for c in (*range(0x20), 0x7F))


class AuthFlowResult(NamedTuple):
    """What :func:`run_auth_flow` returns.

    ``response`` is the response to the last request the flow yielded (unread if ``send``
    returned it unread). ``history`` holds the earlier responses, oldest first, each read and
    closed: the 401 challenges, token-endpoint responses and so on.
    """

    response: Response
    history: list[Response]


class Auth:
    """Base class of authentication schemes.

    Override :meth:`auth_flow` (a generator) or, for a scheme that must await something
    (reading a token from an async store, say), :meth:`async_auth_flow`. The default
    ``async_auth_flow`` drives ``auth_flow``.

    ``requires_request_body``: the body is read into memory before the flow starts (so
    ``request.content`` works in it). ``requires_response_body``: every response is read
    before it is sent into the flow. Responses of ``Client.get()`` and friends are read
    anyway; the flag matters for ``Client.stream()``.

    ``per_redirect_hop``: by default the flow runs once and redirects are followed inside it
    (credentials it added are stripped when a hop leaves the origin). When true, the flow runs
    again for every redirect hop, on that hop's request (already stripped of another origin's
    credentials): for schemes that pick credentials per host, like :class:`NetRCAuth`.
    """

    requires_request_body: bool = False
    requires_response_body: bool = False
    per_redirect_hop: bool = False

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Yield requests, receiving the response to each; the base class sends it as is."""
        yield request

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """The async form of the flow. By default it runs :meth:`auth_flow`."""
        if self.requires_request_body:
            await request.aread()
        flow = self.auth_flow(request)
        try:
            try:
                next_request = next(flow)
            except StopIteration:
                return
            while True:
                response = yield next_request
                if self.requires_response_body:
                    await response.aread()
                try:
                    next_request = flow.send(response)
                except StopIteration:
                    return
        finally:
            flow.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


Send = Callable[[Request], Awaitable[Response]]


async def run_auth_flow(
    auth: Auth, request: Request, send: Send, *, max_rounds: int = MAX_AUTH_ROUNDS
) -> AuthFlowResult:
    """Run ``auth``'s flow for ``request``, sending every request it yields with ``send``.

    Returns the last response and the intermediate ones (see :class:`AuthFlowResult`).
    Intermediate responses are read (so the flow may call ``.json()`` on them, and their
    connection goes back to the pool) and closed. The flow is closed on every way out: its
    ``finally`` blocks run on errors and on cancellation, and ``asyncio.CancelledError``
    propagates untouched. A response in hand when an error happens is closed.

    Raises :class:`AuthFlowError` if the flow yields no request or more than ``max_rounds``
    requests, and ``TypeError`` if it yields something that is not a ``Request``.
    """
    flow = auth.async_auth_flow(request)
    history: list[Response] = []
    try:
        try:
            next_request = await flow.__anext__()
        except StopAsyncIteration:
            raise AuthFlowError(
                f"{type(auth).__name__}.auth_flow yielded no request", request=request
            ) from None
        rounds = 0
        while True:
            if not isinstance(next_request, Request):
                raise TypeError(
                    f"{type(auth).__name__} flow yielded {type(next_request).__name__}, "
                    "expected a hyperhttp.Request"
                )
            rounds += 1
            if rounds > max_rounds:
                raise AuthFlowError(
                    f"{type(auth).__name__} asked for more than {max_rounds} requests "
                    "for one request; giving up",
                    request=next_request,
                )
            response = await send(next_request)
            try:
                if auth.requires_response_body:
                    await response.aread()
                try:
                    next_request = await flow.asend(response)
                except StopAsyncIteration:
                    return AuthFlowResult(response, history)
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
            await response.aclose()
            history.append(response)
    except HyperHTTPError as exc:
        if exc.request is None:
            exc.request = request
        raise
    finally:
        await flow.aclose()


# -- simple schemes ----------------------------------------------------------------------------


def _check_no_controls(what: str, value: str) -> None:
    if any(ch in _CONTROL_CHARS for ch in value):
        raise ValueError(f"the {what} contains a control character (CR, LF, NUL...)")


def _to_str(what: str, value: str | bytes) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"the {what} is bytes that are not UTF-8") from None
    if not isinstance(value, str):
        raise TypeError(f"the {what} must be str or bytes, not {type(value).__name__}")
    return value


def _basic_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class BasicAuth(Auth):
    """HTTP Basic authentication (RFC 7617), credentials encoded as UTF-8.

    ``BasicAuth("alice", "s3cret")`` sets ``Authorization: Basic YWxpY2U6czNjcmV0`` on every
    request. Basic sends the password in the clear (base64 is not encryption): use https.
    A user name containing ``:`` or control characters is rejected (``ValueError``).
    """

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        user = _to_str("username", username)
        secret = _to_str("password", password)
        if ":" in user:
            raise ValueError("a Basic auth user name cannot contain ':' (RFC 7617)")
        _check_no_controls("username", user)
        _check_no_controls("password", secret)
        self.username = user
        self._header = _basic_header(user, secret)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Set the ``Authorization`` header and send the request once."""
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"<BasicAuth username={self.username!r} password=[secure]>"


class BearerAuth(Auth):
    """A bearer token (RFC 6750): ``Authorization: Bearer <token>`` on every request.

    The token must be visible ASCII without spaces (``ValueError`` otherwise).
    """

    def __init__(self, token: str) -> None:
        if not isinstance(token, str):
            raise TypeError(f"the token must be str, not {type(token).__name__}")
        if not token or any(not ("!" <= ch <= "~") for ch in token):
            raise ValueError("a bearer token must be non-empty visible ASCII without spaces")
        self._header = f"Bearer {token}"

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Set the ``Authorization`` header and send the request once."""
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "<BearerAuth token=[secure]>"


class FunctionAuth(Auth):
    """Auth from a plain function that takes the request and returns the request to send.

    ``FunctionAuth(lambda request: sign(request))``; any callable passed as ``auth=`` becomes
    one. The function may modify the request in place and return it.
    """

    def __init__(self, func: Callable[[Request], Request]) -> None:
        if not callable(func):
            raise TypeError("FunctionAuth needs a callable")
        self._func = func

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Send what the function returns, once."""
        yield self._func(request)

    def __repr__(self) -> str:
        name = getattr(self._func, "__qualname__", type(self._func).__name__)
        return f"<FunctionAuth {name}>"


class NetRCAuth(Auth):
    """Basic credentials from a netrc file, looked up for each request's host.

    ``file`` is a path; by default ``$NETRC`` if set, else ``~/.netrc`` (or ``~/_netrc``).
    The file is read once, here: a malformed file raises ``ValueError`` (naming the file and
    line, never its content); a missing file simply means no credentials. A request whose
    host has no ``machine`` entry, or that already has an ``Authorization`` header, is sent
    unchanged. The ``default`` entry, which would send its credentials to *every* host, is
    ignored unless ``use_default=True``.

    Credentials are looked up again on every redirect hop, for that hop's host only: a
    redirect to another origin drops the previous host's ``Authorization`` first, then the
    new host gets its own entry, or none.
    """

    per_redirect_hop = True

    def __init__(
        self, file: str | os.PathLike[str] | None = None, *, use_default: bool = False
    ) -> None:
        path = _netrc_path(file)
        self.file = path
        self._hosts: dict[str, tuple[str, str]] = {}
        self._default: tuple[str, str] | None = None
        if path is None:
            return
        try:
            parsed = netrc.netrc(path)
        except FileNotFoundError:
            return
        except netrc.NetrcParseError as exc:
            # The parser's message can quote a token of the file (a password, maybe).
            raise ValueError(f"malformed netrc file {path!r} (line {exc.lineno})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read netrc file {path!r}: {type(exc).__name__}") from None
        for machine, (login, _account, password) in parsed.hosts.items():
            entry = (login or "", password or "")
            if machine == "default":
                self._default = entry if use_default else None
            else:
                self._hosts[machine.lower().rstrip(".")] = entry

    def credentials_for(self, host: str) -> tuple[str, str] | None:
        """The ``(login, password)`` for ``host``, or ``None``."""
        return self._hosts.get(host.lower().rstrip("."), self._default)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Add Basic credentials for the request's host, if the file has them."""
        if "authorization" not in request.headers:
            entry = self.credentials_for(request.url.host)
            if entry is not None:
                request.headers["Authorization"] = _basic_header(*entry)
        yield request

    def __repr__(self) -> str:
        return f"<NetRCAuth file={self.file!r} hosts={len(self._hosts)}>"


def _netrc_path(file: str | os.PathLike[str] | None) -> str | None:
    if file is not None:
        return os.fspath(file)
    env = os.environ.get("NETRC")
    if env:
        return env
    home = os.path.expanduser("~")
    if home == "~":
        return None
    for name in (".netrc", "_netrc"):
        candidate = os.path.join(home, name)
        if os.path.exists(candidate):
            return candidate
    return None


AuthTypes = Auth | tuple[str | bytes, str | bytes] | Callable[[Request], Request] | None


def build_auth(value: Any) -> Auth | None:
    """Turn an ``auth=`` argument into an :class:`Auth` (or ``None`` for no auth).

    Accepts ``None``, an ``Auth``, a ``(username, password)`` tuple (Basic) or a callable
    taking and returning a ``Request`` (:class:`FunctionAuth`). Anything else: ``TypeError``.
    """
    if value is None or isinstance(value, Auth):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise TypeError("auth= tuple must be (username, password)")
        return BasicAuth(value[0], value[1])
    if isinstance(value, type):
        raise TypeError(f"auth= got the class {value.__name__}; pass an instance")
    if callable(value):
        return FunctionAuth(value)
    raise TypeError(
        f"auth= must be an Auth, a (username, password) tuple, a callable or None, "
        f"not {type(value).__name__}"
    )


# -- WWW-Authenticate parsing ------------------------------------------------------------------

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN68_CHAR = frozenset("-._~+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Challenge(NamedTuple):
    """One challenge of a ``WWW-Authenticate`` header (RFC 9110 §11.6.1).

    ``scheme`` is lower-cased; ``params`` has lower-cased names and unquoted values;
    ``token68`` is set instead of ``params`` for the ``Scheme abc==`` form.
    """

    scheme: str
    params: dict[str, str]
    token68: str | None = None


class _ChallengeSyntaxError(ValueError):
    pass


def parse_www_authenticate(values: Iterable[str]) -> list[Challenge]:
    """Every challenge in the given header values (several per value, several values).

    Raises ``ValueError`` on a malformed value: unterminated quoted string, missing ``=``,
    a parameter given twice, stray characters.
    """
    challenges: list[Challenge] = []
    for value in values:
        challenges.extend(_ChallengeParser(value).parse())
    return challenges


class _ChallengeParser:
    __slots__ = ("n", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0

    def fail(self, what: str) -> _ChallengeSyntaxError:
        return _ChallengeSyntaxError(f"{what} at offset {self.pos}")

    def skip_ows(self) -> None:
        while self.pos < self.n and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_list_separators(self) -> None:
        while self.pos < self.n and self.text[self.pos] in " \t,":
            self.pos += 1

    def token(self) -> str:
        start = self.pos
        while self.pos < self.n and self.text[self.pos] in _TCHAR:
            self.pos += 1
        return self.text[start : self.pos]

    def at_end_of_element(self) -> bool:
        return self.pos >= self.n or self.text[self.pos] == ","

    def quoted_string(self) -> str:
        text, n = self.text, self.n
        i = self.pos + 1
        out: list[str] = []
        while i < n:
            ch = text[i]
            if ch == "\\":
                if i + 1 >= n:
                    break
                out.append(text[i + 1])
                i += 2
            elif ch == '"':
                self.pos = i + 1
                return "".join(out)
            else:
                out.append(ch)
                i += 1
        self.pos = i
        raise self.fail("unterminated quoted-string")

    def try_token68(self) -> str | None:
        start = self.pos
        i = start
        while i < self.n and self.text[i] in _TOKEN68_CHAR:
            i += 1
        if i == start:
            return None
        while i < self.n and self.text[i] == "=":
            i += 1
        end = i
        while i < self.n and self.text[i] in " \t":
            i += 1
        if i < self.n and self.text[i] != ",":
            return None  # "name=value": auth-params, not a token68
        self.pos = i
        return self.text[start:end]

    def next_is_param(self) -> bool:
        """After a comma: does an auth-param (``name =``) follow, or a new challenge?"""
        saved = self.pos
        self.skip_list_separators()
        is_param = False
        if self.token():
            self.skip_ows()
            is_param = self.pos < self.n and self.text[self.pos] == "="
        self.pos = saved
        return is_param

    def parse(self) -> list[Challenge]:
        out: list[Challenge] = []
        while True:
            self.skip_list_separators()
            if self.pos >= self.n:
                return out
            scheme = self.token()
            if not scheme:
                raise self.fail("expected an auth-scheme")
            before = self.pos
            self.skip_ows()
            if self.at_end_of_element():
                out.append(Challenge(scheme.lower(), {}))
                continue
            if self.pos == before:
                raise self.fail("expected a space after the auth-scheme")
            token68 = self.try_token68()
            if token68 is not None:
                out.append(Challenge(scheme.lower(), {}, token68))
                continue
            out.append(Challenge(scheme.lower(), self.params()))

    def params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        while True:
            name = self.token()
            if not name:
                raise self.fail("expected a parameter name")
            self.skip_ows()
            if self.pos >= self.n or self.text[self.pos] != "=":
                raise self.fail("expected '=' after a parameter name")
            self.pos += 1
            self.skip_ows()
            if self.pos < self.n and self.text[self.pos] == '"':
                value = self.quoted_string()
            else:
                value = self.token()
                if not value:
                    raise self.fail("expected a token or a quoted-string")
            key = name.lower()
            if key in params:
                raise self.fail(f"parameter {key!r} given twice")
            params[key] = value
            self.skip_ows()
            if self.pos >= self.n:
                return params
            if self.text[self.pos] != ",":
                raise self.fail("expected ',' between parameters")
            if not self.next_is_param():
                return params
            self.skip_list_separators()


# -- Digest ------------------------------------------------------------------------------------


def _hash_function(name: str) -> Callable[[bytes], str] | None:
    """A hex-digest function for a hashlib name, or None if this Python lacks it."""
    try:
        if name == "md5":
            hashlib.new(name, b"", usedforsecurity=False)
        else:
            hashlib.new(name, b"")
    except ValueError:
        return None
    if name == "md5":
        return lambda data: hashlib.new("md5", data, usedforsecurity=False).hexdigest()
    return lambda data: hashlib.new(name, data).hexdigest()


# RFC 7616 §6.1 algorithm names (upper-cased, without "-sess") -> hashlib names.
_DIGEST_HASHLIB_NAMES: Final = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
_DIGEST_HASHES: dict[str, Callable[[bytes], str] | None] = {
    algorithm: _hash_function(name) for algorithm, name in _DIGEST_HASHLIB_NAMES.items()
}


class _DigestChallenge:
    """A usable Digest challenge, already checked."""

    __slots__ = (
        "algorithm",
        "charset_utf8",
        "hash",
        "nonce",
        "opaque",
        "qop",
        "realm",
        "sess",
        "stale",
        "userhash",
    )

    def __init__(
        self,
        params: dict[str, str],
        algorithm: str | None,
        hash_fn: Callable[[bytes], str],
        sess: bool,
        qop: str | None,
    ) -> None:
        self.realm = params["realm"]
        self.nonce = params["nonce"]
        self.opaque = params.get("opaque")
        self.algorithm = algorithm  # the server's spelling, echoed back; None if absent
        self.hash = hash_fn
        self.sess = sess
        self.qop = qop
        self.stale = params.get("stale", "").lower() == "true"
        self.userhash = params.get("userhash", "").lower() == "true"
        self.charset_utf8 = params.get("charset", "").lower() == "utf-8"


class _DigestOriginState:
    """What Digest remembers about one origin: its last challenge and the nonce count."""

    __slots__ = ("challenge", "nonce_count")

    def __init__(self, challenge: _DigestChallenge) -> None:
        self.challenge = challenge
        self.nonce_count = 0


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616, and RFC 2069 servers that send no ``qop``).

    Algorithms ``MD5``, ``SHA-256``, ``SHA-512-256`` and their ``-sess`` variants; ``qop``
    ``auth`` (preferred) and ``auth-int`` (the body is hashed: it is read into memory first);
    ``opaque`` echoed; ``userhash`` honoured; a non-ASCII user name is sent as ``username*``.

    The first request to an origin is sent without credentials; a 401 with a Digest challenge
    is answered once. A ``stale=true`` challenge on the answer (the nonce expired) gets one
    more try with the new nonce; any other 401 is returned as is. The challenge is then
    reused for later requests *to the same origin only* (scheme, host, port), with the nonce
    count incremented each time; another origin never sees it.

    A request whose body is a one-shot stream cannot be replayed after the challenge and is
    refused up front with ``StreamError``. A malformed Digest challenge raises
    ``RemoteProtocolError``.
    """

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        user = _to_str("username", username)
        secret = _to_str("password", password)
        _check_no_controls("username", user)
        _check_no_controls("password", secret)
        self.username = user
        self._password = secret
        self._origins: dict[tuple[str, str, int], _DigestOriginState] = {}

    def __repr__(self) -> str:
        return f"<DigestAuth username={self.username!r} password=[secure]>"

    # -- flows ---------------------------------------------------------------------------------

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """The Digest exchange; ``auth-int`` needs the body in memory (else StreamError)."""
        self._check_replayable(request)
        retries = _Retries()
        cached = self._cached_challenge(request)
        if cached is not None:
            self._authorize(request, cached, self._body_in_memory(request, cached))
        response = yield request
        while (challenge := self._answerable(request, response, retries)) is not None:
            self._authorize(request, challenge, self._body_in_memory(request, challenge))
            response = yield request

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """As :meth:`auth_flow`, reading a (replayable) streamed body for ``auth-int``."""
        self._check_replayable(request)
        retries = _Retries()
        cached = self._cached_challenge(request)
        if cached is not None:
            body = await request.aread() if cached.qop == "auth-int" else None
            self._authorize(request, cached, body)
        response = yield request
        while (challenge := self._answerable(request, response, retries)) is not None:
            body = await request.aread() if challenge.qop == "auth-int" else None
            self._authorize(request, challenge, body)
            response = yield request

    # -- steps ---------------------------------------------------------------------------------

    @staticmethod
    def _check_replayable(request: Request) -> None:
        stream = request.stream
        if stream is not None and not stream.replayable:
            raise StreamError(
                "Digest auth may have to send the request twice, but its body is a one-shot "
                "stream; pass bytes, a list of chunks or a seekable file, or "
                "`await request.aread()` first",
                request=request,
            )

    def _cached_challenge(self, request: Request) -> _DigestChallenge | None:
        state = self._origins.get(request.url.origin)
        return state.challenge if state is not None else None

    @staticmethod
    def _body_in_memory(request: Request, challenge: _DigestChallenge) -> bytes | None:
        if challenge.qop != "auth-int":
            return None
        try:
            return request.content
        except RequestNotRead:
            raise StreamError(
                "Digest qop=auth-int needs the request body in memory; "
                "use the async flow or `await request.aread()` first",
                request=request,
            ) from None

    def _answerable(
        self, request: Request, response: Response, retries: _Retries
    ) -> _DigestChallenge | None:
        """The challenge to answer now, or None to return ``response`` as the result."""
        if response.status_code != 401:
            return None
        origin = request.url.origin
        answered = response.request
        if answered is not None and answered.url.origin != origin:
            return None  # a 401 from elsewhere (after a redirect): not ours to answer
        challenge = self._select_challenge(request, response)
        if challenge is None:
            return None
        old = self._origins.pop(origin, None)
        state = _DigestOriginState(challenge)
        if old is not None and old.challenge.nonce == challenge.nonce:
            state.nonce_count = old.nonce_count  # never repeat an nc for one nonce
        self._remember(origin, state)
        if not retries.answered:
            retries.answered = True
            return challenge
        if challenge.stale and not retries.stale:
            retries.stale = True
            return challenge
        # Our answer was refused: wrong credentials. Keep nothing that would be re-sent.
        del self._origins[origin]
        return None

    def _remember(self, origin: tuple[str, str, int], state: _DigestOriginState) -> None:
        if len(self._origins) >= _MAX_DIGEST_ORIGINS:
            self._origins.pop(next(iter(self._origins)))
        self._origins[origin] = state

    def _select_challenge(self, request: Request, response: Response) -> _DigestChallenge | None:
        values = response.headers.get_list("www-authenticate")
        challenges: list[Challenge] = []
        for value in values:
            try:
                challenges.extend(parse_www_authenticate([value]))
            except ValueError as exc:
                if _mentions_digest(value):
                    raise RemoteProtocolError(
                        f"malformed Digest challenge in WWW-Authenticate: {exc}",
                        request=request,
                    ) from None
        unavailable: list[str] = []
        bad_qop: str | None = None
        for candidate in challenges:
            if candidate.scheme != "digest":
                continue
            params = candidate.params
            if candidate.token68 is not None or "nonce" not in params or "realm" not in params:
                raise RemoteProtocolError(
                    "malformed Digest challenge: realm and nonce are required", request=request
                )
            spelled = params.get("algorithm")
            name = (spelled or "MD5").upper()
            sess = name.endswith("-SESS")
            base = name[:-5] if sess else name
            if base not in _DIGEST_HASHES:
                continue  # an algorithm we do not know: maybe a later challenge
            hash_fn = _DIGEST_HASHES[base]
            if hash_fn is None:
                unavailable.append(base)
                continue
            qop: str | None = None
            if "qop" in params:
                offered = {item.strip().lower() for item in params["qop"].split(",")}
                if "auth" in offered:
                    qop = "auth"
                elif "auth-int" in offered:
                    qop = "auth-int"
                else:
                    bad_qop = params["qop"]
                    continue
            return _DigestChallenge(params, spelled, hash_fn, sess, qop)
        if bad_qop is not None:
            raise RemoteProtocolError(
                f"Digest challenge offers no supported qop ({bad_qop!r}; "
                "expected 'auth' or 'auth-int')",
                request=request,
            )
        if unavailable:
            raise AuthFlowError(
                f"the server asks for Digest {unavailable[0]}, which this Python's hashlib "
                "(OpenSSL build) does not provide",
                request=request,
            )
        return None

    def _authorize(self, request: Request, challenge: _DigestChallenge, body: bytes | None) -> None:
        origin = request.url.origin
        state = self._origins.get(origin)
        if state is None or state.challenge is not challenge:
            state = _DigestOriginState(challenge)
            self._remember(origin, state)
        state.nonce_count += 1
        request.headers["Authorization"] = self._header(
            request, challenge, state.nonce_count, self._new_cnonce(), body
        )

    @staticmethod
    def _new_cnonce() -> str:
        return secrets.token_hex(16)

    def _header(
        self,
        request: Request,
        challenge: _DigestChallenge,
        nonce_count: int,
        cnonce: str,
        body: bytes | None,
    ) -> str:
        h = challenge.hash
        utf8 = challenge.charset_utf8

        def encode(text: str) -> bytes:
            if not utf8:
                try:
                    return text.encode("latin-1")
                except UnicodeEncodeError:
                    pass
            return text.encode("utf-8")

        realm, nonce, qop = challenge.realm, challenge.nonce, challenge.qop
        uri = request.url.target
        nc = f"{nonce_count:08x}"
        ha1 = h(encode(f"{self.username}:{realm}:{self._password}"))
        if challenge.sess:
            ha1 = h(encode(f"{ha1}:{nonce}:{cnonce}"))
        a2 = f"{request.method}:{uri}"
        if qop == "auth-int":
            a2 += ":" + h(body or b"")
        ha2 = h(encode(a2))
        if qop is None:
            digest = h(encode(f"{ha1}:{nonce}:{ha2}"))
        else:
            digest = h(encode(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))

        if challenge.userhash:
            user_field = "username=" + _quote(h(encode(f"{self.username}:{realm}")))
        elif self.username.isascii():
            user_field = "username=" + _quote(self.username)
        else:
            user_field = "username*=UTF-8''" + quote(self.username, safe="")
        fields = [
            user_field,
            "realm=" + _quote(realm),
            "nonce=" + _quote(nonce),
            "uri=" + _quote(uri),
        ]
        if challenge.algorithm is not None:
            fields.append("algorithm=" + challenge.algorithm)
        if qop is not None:
            fields += ["qop=" + qop, "nc=" + nc, "cnonce=" + _quote(cnonce)]
        elif challenge.sess:
            fields.append("cnonce=" + _quote(cnonce))
        fields.append("response=" + _quote(digest))
        if challenge.opaque is not None:
            fields.append("opaque=" + _quote(challenge.opaque))
        if challenge.userhash:
            fields.append("userhash=true")
        return "Digest " + ", ".join(fields)


class _Retries:
    """Per-flow bookkeeping of what Digest has already retried."""

    __slots__ = ("answered", "stale")

    def __init__(self) -> None:
        self.answered = False
        self.stale = False


def _mentions_digest(value: str) -> bool:
    """Whether a (malformed) header value names the Digest scheme as a challenge."""
    for piece in value.split(","):
        words = piece.strip().split(None, 1)
        if words and words[0].lower() == "digest":
            return True
    return False
