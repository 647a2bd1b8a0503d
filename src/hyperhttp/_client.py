"""The Client: builds requests, sends them through a transport, returns responses.

``await client.get(url)`` returns a response whose body is already read. ``client.stream()``
returns it unread, for ``async with``. One client holds one connection pool: create it once
and share it, then ``aclose()`` it (or use ``async with``).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, Final

from ._auth import Auth, AuthFlowResult, AuthTypes, build_auth, run_auth_flow
from ._config import DEFAULT_TIMEOUT, Limits, Timeout, TimeoutTypes
from ._content import RequestContent, RequestData, RequestFiles
from ._cookies import Cookies, CookieTypes
from ._deadline import DeadlineScope
from ._exceptions import HyperHTTPError, InvalidURL, TooManyRedirects, UnsupportedProtocol
from ._headers import Headers, HeaderTypes
from ._hooks import EventHooks, normalize_hooks, run_hooks
from ._models import Request, Response
from ._proxy import ProxiesTypes, ProxyMap
from ._ratelimit import RateLimit, RateLimiter
from ._redirects import REDIRECT_STATUSES, USER_COOKIE, build_redirect_request
from ._transports._tls import CertTypes, VerifyTypes
from ._transports.base import AsyncTransport
from ._transports.network import DEFAULT_HAPPY_EYEBALLS_DELAY, HTTP2Option, HTTPTransport
from ._urls import URL, QueryParamTypes
from ._version import __version__
from .errors._runner import send_with_resilience
from .errors.circuit_breaker import DomainCircuitBreakerManager
from .errors.retry import RetryPolicy, coerce_retry
from .errors.telemetry import ErrorTelemetry

__all__ = ["USE_CLIENT_DEFAULT", "Client"]

DEFAULT_USER_AGENT: Final = f"hyperhttp/{__version__}"
DEFAULT_MAX_REDIRECTS: Final = 20
# Request URLs given as strings are resolved against base_url once and remembered: services
# call the same few endpoints over and over. Cleared wholesale when full (bounded memory).
URL_CACHE_SIZE: Final = 512
# A redirect's body is read off the connection (to reuse it) only up to this many bytes;
# past that the connection is closed instead (an unbounded drain is itself a DoS).
MAX_REDIRECT_BODY: Final = 64 * 1024


class _UseClientDefault:
    """Sentinel: "use the client's setting" (distinct from None, which means "none")."""

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = _UseClientDefault()


class Client:
    """An async HTTP client with a connection pool.

    >>> async with Client(base_url="https://api.example.com") as client:  # doctest: +SKIP
    ...     r = await client.get("/users", params={"page": 2})
    ...     r.raise_for_status().json()
    """

    def __init__(
        self,
        *,
        base_url: URL | str = "",
        headers: HeaderTypes = None,
        params: QueryParamTypes = None,
        cookies: CookieTypes = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        limits: Limits | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http2: HTTP2Option = True,
        verify: VerifyTypes = True,
        cert: CertTypes | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float | None = None,
        happy_eyeballs_delay: float | None = DEFAULT_HAPPY_EYEBALLS_DELAY,
        follow_redirects: bool = False,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        redirect_sensitive_headers: Iterable[str] = (),
        retry: RetryPolicy | bool | int | None = None,
        circuit_breaker_manager: DomainCircuitBreakerManager | None = None,
        telemetry: ErrorTelemetry | None = None,
        user_agent: str | None = None,
        accept_compressed: bool = True,
        proxies: ProxiesTypes = None,
        trust_env: bool = True,
        auth: AuthTypes = None,
        event_hooks: Any = None,
        transport: AsyncTransport | None = None,
        max_response_size: int | None = None,
        max_decompressed_size: int | None = None,
        rate_limit: RateLimit | float | None = None,
    ) -> None:
        self._base_url = _base_url(base_url)
        self._url_cache: dict[str, URL] = {}
        self._params = params
        self.timeout = _client_timeout(timeout, connect_timeout)
        if (
            isinstance(max_redirects, bool)
            or not isinstance(max_redirects, int)
            or max_redirects < 0
        ):
            raise ValueError("max_redirects must be an int >= 0")
        self.max_redirects = max_redirects
        self.follow_redirects = follow_redirects
        self.redirect_sensitive_headers = redirect_sensitive_headers
        self._event_hooks = normalize_hooks(event_hooks)
        self.auth = auth
        self._cookies = Cookies(cookies)  # always a copy: jars are per client (CK-09)
        # Retry and breaker are independent: setting one never turns the other on.
        self.retry = coerce_retry(retry)
        if circuit_breaker_manager is not None and not isinstance(
            circuit_breaker_manager, DomainCircuitBreakerManager
        ):
            raise TypeError("circuit_breaker_manager must be a DomainCircuitBreakerManager")
        self.circuit_breaker_manager = circuit_breaker_manager
        if telemetry is not None and not isinstance(telemetry, ErrorTelemetry):
            raise TypeError("telemetry must be an ErrorTelemetry")
        self.telemetry = telemetry
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            rate_limit = RateLimit(rate_limit)
        self._rate_limiter = (
            RateLimiter(rate_limit, sleep=self._sleep_hook) if rate_limit is not None else None
        )
        self.http2 = http2
        if max_response_size is not None and max_response_size < 0:
            raise ValueError("max_response_size must be >= 0")
        self.max_response_size = max_response_size
        if max_decompressed_size is not None and max_decompressed_size < 0:
            raise ValueError("max_decompressed_size must be >= 0")
        self.max_decompressed_size = max_decompressed_size
        default_headers = Headers(
            {
                "Accept": "*/*",
                "Accept-Encoding": _accept_encoding(accept_compressed),
                "User-Agent": user_agent or DEFAULT_USER_AGENT,
            }
        )
        if headers is not None:
            default_headers.update(Headers(headers))
        self.headers = default_headers
        limits = _limits(limits, max_connections, max_keepalive_connections, keepalive_expiry)
        if transport is not None and proxies is not None:
            # Routing is the transport's business: a custom transport (MockTransport, say)
            # gets requests unchanged. The configuration is still checked, so a typo fails
            # here rather than when the transport is swapped for the network one.
            ProxyMap.build(proxies, trust_env=False)
        self._transport: AsyncTransport = transport or HTTPTransport(
            verify=ssl_context if ssl_context is not None else verify,
            cert=cert,
            trust_env=trust_env,
            limits=limits,
            happy_eyeballs_delay=happy_eyeballs_delay,
            default_timeout=self.timeout,
            http2=http2,
            proxies=proxies,
        )
        self._closed = False

    # -- properties -----------------------------------------------------------------------------

    @property
    def base_url(self) -> URL | None:
        """Relative request URLs are joined to this."""
        return self._base_url

    @property
    def cookies(self) -> Cookies:
        """The client's cookie jar: filled from every response, sent where in scope."""
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes) -> None:
        self._cookies = Cookies(cookies)

    @property
    def redirect_sensitive_headers(self) -> frozenset[str]:
        """Extra headers (lower-cased names) removed when a redirect leaves the origin.

        ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` always are; add the names of
        your own credential headers (``X-Api-Key``, say). Assign any iterable of names.
        """
        return self._redirect_sensitive_headers

    @redirect_sensitive_headers.setter
    def redirect_sensitive_headers(self, names: Iterable[str]) -> None:
        if isinstance(names, (str, bytes)):
            raise TypeError("redirect_sensitive_headers must be an iterable of header names")
        lowered = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(
                    f"redirect_sensitive_headers: header names are str, not {type(name).__name__}"
                )
            lowered.append(name.strip().lower())
        self._redirect_sensitive_headers = frozenset(lowered)

    @property
    def auth(self) -> Auth | None:
        """The client's default auth (``None``: none). Assign a tuple, Auth or callable."""
        return self._auth

    @auth.setter
    def auth(self, auth: AuthTypes) -> None:
        self._auth = build_auth(auth)

    @property
    def event_hooks(self) -> EventHooks:
        """``{"request": [...], "response": [...]}``; mutate the lists, or assign a new dict."""
        return self._event_hooks

    @event_hooks.setter
    def event_hooks(self, event_hooks: Mapping[str, Iterable[Callable[[Any], Any]]]) -> None:
        self._event_hooks = normalize_hooks(event_hooks)

    @property
    def transport(self) -> AsyncTransport:
        """The transport every request goes through."""
        return self._transport

    @property
    def is_closed(self) -> bool:
        """True after ``aclose()``."""
        return self._closed

    # -- building -------------------------------------------------------------------------------

    def build_request(
        self,
        method: str,
        url: URL | str,
        *,
        params: QueryParamTypes = None,
        headers: HeaderTypes = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        cookies: CookieTypes = None,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Request:
        """The Request this client would send for these arguments.

        ``cookies`` are sent with this request only (never stored in the client's jar).
        """
        full_url = self._merge_url(url)
        if self._params is not None:
            full_url = full_url.copy_merge_params(self._params)
        if params is not None:
            full_url = full_url.copy_merge_params(params)
        merged = self.headers
        if headers is not None:
            merged = merged.copy()
            merged.update(headers if isinstance(headers, Headers) else Headers(headers))
        if cookies:
            per_request = Cookies(cookies).cookie_header(full_url)
            if per_request:
                merged = merged.copy() if merged is self.headers else merged
                existing = merged.get("cookie")
                merged["Cookie"] = f"{existing}; {per_request}" if existing else per_request
        if full_url.userinfo:
            merged = merged.copy() if merged is self.headers else merged
            if "authorization" not in merged:
                merged["Authorization"] = _basic_auth(full_url.username, full_url.password)
            full_url = full_url.copy_with(username=None, password=None)
        extensions = dict(extensions) if extensions else {}
        extensions["timeout"] = (
            self.timeout if isinstance(timeout, _UseClientDefault) else Timeout(timeout)
        )
        return Request(
            method,
            full_url,
            headers=merged,
            content=content,
            data=data,
            files=files,
            json=json,
            extensions=extensions,
        )

    def _merge_url(self, url: URL | str) -> URL:
        cache_key = url if isinstance(url, str) else None
        if cache_key is not None:
            cached = self._url_cache.get(cache_key)
            if cached is not None:
                return cached
        merged = url if isinstance(url, URL) else URL(url)
        if self._base_url is not None and not merged.is_absolute:
            # httpx semantics, which users expect: base "https://h/api/" + "/users" is
            # "https://h/api/users" (a plain RFC 3986 join would drop "/api").
            base = self._base_url
            merged = base.copy_with(
                path=base.path + merged.path.lstrip("/"),
                query=merged.query or None,
                fragment=merged.fragment or None,
            )
        if not merged.is_absolute:
            raise InvalidURL(
                f"request URL {merged.redacted!r} is not absolute (no scheme or host); "
                "give a full URL or set base_url"
            )
        if merged.scheme not in ("http", "https"):
            raise UnsupportedProtocol(f"unsupported URL scheme {merged.scheme!r}")
        if cache_key is not None:
            if len(self._url_cache) >= URL_CACHE_SIZE:
                self._url_cache.clear()
            self._url_cache[cache_key] = merged
        return merged

    # -- sending --------------------------------------------------------------------------------

    async def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | bool | int | _UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a built request. Unless ``stream``, the body is read before returning.

        ``auth``, ``follow_redirects`` and ``retry`` override the client's settings for this
        request (``auth=None`` / ``retry=None``: none). ``Timeout(total=...)`` bounds all of
        it: every redirect hop, retry, auth round and, unless ``stream``, the body.
        """
        if self._closed:
            raise RuntimeError("the client has been closed")
        timeout = request.extensions.get("timeout")
        total = timeout.total if isinstance(timeout, Timeout) else None
        deadline = None if total is None else asyncio.get_running_loop().time() + total
        policy = self.retry if isinstance(retry, _UseClientDefault) else coerce_retry(retry)
        try:
            async with DeadlineScope(deadline, total):
                return await self._send(request, stream, auth, follow_redirects, policy, deadline)
        except HyperHTTPError as exc:
            # The total deadline's TimeoutException is raised by the scope, outside any layer
            # that knows the request: every error carries it (docs/errors.md).
            if exc.request is None:
                exc.request = request
            raise

    async def _send(
        self,
        request: Request,
        stream: bool,
        auth: AuthTypes | _UseClientDefault,
        follow_redirects: bool | _UseClientDefault,
        policy: RetryPolicy | None,
        deadline: float | None,
    ) -> Response:
        # Carried in the request so every hop (redirects copy extensions) and auth round uses
        # the same policy and deadline; no state is shared between concurrent requests.
        request.extensions["hyperhttp.resilience"] = (policy, deadline)
        follow = (
            self.follow_redirects
            if isinstance(follow_redirects, _UseClientDefault)
            else follow_redirects
        )
        request_auth = self._auth if isinstance(auth, _UseClientDefault) else build_auth(auth)
        if request_auth is None:
            response = await self._send_handling_redirects(request, follow)
        elif request_auth.per_redirect_hop:
            response = await self._send_handling_redirects(request, follow, request_auth, stream)
        else:
            response = await self._send_handling_auth(request, request_auth, follow, stream)
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response

    async def _send_handling_auth(
        self, request: Request, auth: Auth, follow: bool, stream: bool
    ) -> Response:
        async def send_one(auth_request: Request) -> Response:
            response = await self._send_handling_redirects(auth_request, follow)
            if not stream:
                # Responses the flow sees are read, so it can call .json() on them (the
                # RefreshingBearer pattern). Streamed requests follow httpx: set
                # requires_response_body on the Auth to have them read.
                try:
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
            return response

        result = await run_auth_flow(auth, request, send_one)
        response = result.response
        response.history = [*result.history, *response.history]
        return response

    async def _send_hop_with_auth(
        self, request: Request, auth: Auth, follow: bool, stream: bool
    ) -> AuthFlowResult:
        """One redirect hop through a per-hop auth flow (``Auth.per_redirect_hop``)."""

        async def send_one(auth_request: Request) -> Response:
            response = await self._send_single_request(auth_request)
            followed = follow and _is_redirect(response) and self.max_redirects > 0
            if not stream and not followed:  # as in _send_handling_auth; redirect bodies
                try:  # are discarded (bounded) by the caller instead
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
            return response

        return await run_auth_flow(auth, request, send_one)

    async def _send_handling_redirects(
        self,
        request: Request,
        follow: bool,
        hop_auth: Auth | None = None,
        stream: bool = False,
    ) -> Response:
        history: list[Response] = []
        redirects = 0
        while True:
            if hop_auth is None:
                response = await self._send_single_request(request)
            else:
                result = await self._send_hop_with_auth(request, hop_auth, follow, stream)
                response = result.response
                history.extend(result.history)
            response.history = list(history)
            if not _is_redirect(response):
                return response
            if not follow or self.max_redirects == 0:
                try:
                    response.next_request = build_redirect_request(
                        request, response, sensitive_headers=self._redirect_sensitive_headers
                    )
                except HyperHTTPError:
                    response.next_request = None
                return response
            if redirects >= self.max_redirects:
                await response.adiscard(MAX_REDIRECT_BODY)
                error = TooManyRedirects(
                    f"exceeded {self.max_redirects} redirects", request=request
                )
                error.history = [*history, response]
                raise error
            try:
                next_request = build_redirect_request(
                    request, response, sensitive_headers=self._redirect_sensitive_headers
                )
            except BaseException:
                await response.aclose()
                raise
            # The body of a redirect is dropped without decoding; a large one closes the
            # connection instead of being drained (checklist RD-09).
            await response.adiscard(MAX_REDIRECT_BODY)
            history.append(response)
            redirects += 1
            request = next_request

    async def _send_single_request(self, request: Request) -> Response:
        """One hop: the network attempt, wrapped in retries, breaker and telemetry."""
        policy, deadline = request.extensions.get("hyperhttp.resilience", (self.retry, None))
        if policy is None and self.circuit_breaker_manager is None and self.telemetry is None:
            return await self._send_attempt(request)
        return await send_with_resilience(
            request,
            self._send_attempt,
            retry=policy,
            breaker=self.circuit_breaker_manager,
            telemetry=self.telemetry,
            sleep=self._sleep,
            deadline=deadline,
        )

    @staticmethod
    def _apply_cookies(request: Request, jar: Cookies) -> None:
        """Set the Cookie header: the caller's own cookies plus the jar's for this URL.

        Recomputed on every attempt from the caller's original value (kept in the request's
        extensions), so a redirect hop or a retry never duplicates cookies.
        """
        extensions = request.extensions
        if USER_COOKIE not in extensions:
            extensions[USER_COOKIE] = request.headers.get("cookie")
        user_cookie = extensions[USER_COOKIE]
        from_jar = jar.cookie_header(request.url)
        value = (
            f"{user_cookie}; {from_jar}" if user_cookie and from_jar else user_cookie or from_jar
        )
        if value:
            request.headers["Cookie"] = value
        elif "cookie" in request.headers:
            del request.headers["cookie"]

    async def _sleep_hook(self, delay: float) -> None:
        await self._sleep(delay)

    async def _send_attempt(self, request: Request) -> Response:
        """One network attempt: cookies, request hooks, the transport, response hooks."""
        if self._rate_limiter is not None:
            url = request.url
            await self._rate_limiter.acquire(f"{url.host}:{url.port_or_default}")
        jar = self._cookies
        if jar:
            self._apply_cookies(request, jar)
        hooks = self._event_hooks
        if hooks["request"]:
            await run_hooks(hooks["request"], request)
        started = time.perf_counter()
        response = await self._transport.handle_async_request(request)
        # elapsed runs from the moment the request was handed to the transport.
        response._started = started
        if response.request is None:
            response.request = request
        response.max_response_size = self.max_response_size
        response.max_decompressed_size = self.max_decompressed_size
        if response.headers.raw_value(b"set-cookie") is not None:
            jar.extract_cookies(response)  # every hop's cookies, redirects included
        if hooks["response"]:
            try:
                await run_hooks(hooks["response"], response)
            except BaseException:
                await response.aclose()
                raise
        return response

    async def request(
        self,
        method: str,
        url: URL | str,
        *,
        params: QueryParamTypes = None,
        headers: HeaderTypes = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        cookies: CookieTypes = None,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        auth: AuthTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | bool | int | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        """Send a request; the response body is read before this returns."""
        request = self.build_request(
            method,
            url,
            params=params,
            headers=headers,
            content=content,
            data=data,
            files=files,
            json=json,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )
        return await self.send(request, auth=auth, follow_redirects=follow_redirects, retry=retry)

    def stream(
        self,
        method: str,
        url: URL | str,
        *,
        params: QueryParamTypes = None,
        headers: HeaderTypes = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        cookies: CookieTypes = None,
        timeout: TimeoutTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        auth: AuthTypes | _UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | _UseClientDefault = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | bool | int | _UseClientDefault | None = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> StreamingResponseContext:
        """Send a request and hand the response over with its body unread.

        Use ``async with client.stream("GET", url) as r:`` (closed on exit), or
        ``r = await client.stream(...)`` and then ``async with r:`` / ``await r.aclose()``.
        """
        request = self.build_request(
            method,
            url,
            params=params,
            headers=headers,
            content=content,
            data=data,
            files=files,
            json=json,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )
        return StreamingResponseContext(self, request, auth, follow_redirects, retry)

    async def get(self, url: URL | str, **kwargs: Any) -> Response:
        """Send a GET request (keyword arguments as for :meth:`request`)."""
        return await self.request("GET", url, **kwargs)

    async def head(self, url: URL | str, **kwargs: Any) -> Response:
        """Send a HEAD request."""
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: URL | str, **kwargs: Any) -> Response:
        """Send an OPTIONS request."""
        return await self.request("OPTIONS", url, **kwargs)

    async def delete(self, url: URL | str, **kwargs: Any) -> Response:
        """Send a DELETE request."""
        return await self.request("DELETE", url, **kwargs)

    async def post(self, url: URL | str, **kwargs: Any) -> Response:
        """Send a POST request."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: URL | str, **kwargs: Any) -> Response:
        """Send a PUT request."""
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: URL | str, **kwargs: Any) -> Response:
        """Send a PATCH request."""
        return await self.request("PATCH", url, **kwargs)

    # -- lifecycle ------------------------------------------------------------------------------

    def get_pool_stats(self) -> dict[str, int]:
        """Connection pool counters (empty for transports without a pool)."""
        stats = getattr(self._transport, "get_pool_stats", None)
        return dict(stats()) if callable(stats) else {}

    async def aclose(self) -> None:
        """Close the transport and every idle connection."""
        if not self._closed:
            self._closed = True
            await self._transport.aclose()
            if self.telemetry is not None:
                await self.telemetry.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class StreamingResponseContext:
    """What :meth:`Client.stream` returns: await it, or use it with ``async with``."""

    __slots__ = ("_auth", "_client", "_follow", "_request", "_response", "_retry")

    def __init__(
        self,
        client: Client,
        request: Request,
        auth: AuthTypes | _UseClientDefault,
        follow: bool | _UseClientDefault,
        retry: RetryPolicy | bool | int | _UseClientDefault | None,
    ) -> None:
        self._client = client
        self._request = request
        self._auth = auth
        self._follow = follow
        self._retry = retry
        self._response: Response | None = None

    def __await__(self) -> Generator[Any, None, Response]:
        return self._client.send(
            self._request,
            stream=True,
            auth=self._auth,
            follow_redirects=self._follow,
            retry=self._retry,
        ).__await__()

    async def __aenter__(self) -> Response:
        self._response = await self._client.send(
            self._request,
            stream=True,
            auth=self._auth,
            follow_redirects=self._follow,
            retry=self._retry,
        )
        return self._response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._response is not None:
            await self._response.aclose()


def _base_url(base_url: URL | str) -> URL | None:
    if not base_url:
        return None
    url = base_url if isinstance(base_url, URL) else URL(base_url)
    if not url.is_absolute:
        raise InvalidURL("base_url must be an absolute http(s) URL")
    if not url.path.endswith("/"):
        # "https://host/api" + "users" must give /api/users, not /users.
        url = url.copy_with(path=url.path + "/")
    return url


def _client_timeout(timeout: TimeoutTypes, connect_timeout: float | None) -> Timeout:
    value = timeout if isinstance(timeout, Timeout) else Timeout(timeout)
    if connect_timeout is not None:
        value = Timeout(value, connect=connect_timeout)
    return value


def _limits(
    limits: Limits | None,
    max_connections: int | None,
    max_keepalive_connections: int | None,
    keepalive_expiry: float | None,
) -> Limits:
    base = limits or Limits()
    return Limits(
        max_connections=max_connections if max_connections is not None else base.max_connections,
        max_keepalive_connections=(
            max_keepalive_connections
            if max_keepalive_connections is not None
            else base.max_keepalive_connections
        ),
        max_connections_per_host=base.max_connections_per_host,
        keepalive_expiry=keepalive_expiry
        if keepalive_expiry is not None
        else base.keepalive_expiry,
    )


def _accept_encoding(accept_compressed: bool) -> str:
    from ._decompress import SUPPORTED_ENCODINGS

    if not accept_compressed or not SUPPORTED_ENCODINGS:
        return "identity"
    return ", ".join(SUPPORTED_ENCODINGS)


def _is_redirect(response: Response) -> bool:
    return response.status_code in REDIRECT_STATUSES and "location" in response.headers


def _basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"
