"""The network transport: TCP (+TLS) connections from a pool, HTTP/1.1 or HTTP/2 on each.

HTTP/2 is negotiated with ALPN on TLS (``h2`` offered before ``http/1.1``; a server that
picks HTTP/1.1, or none, gets HTTP/1.1), or spoken in cleartext by prior knowledge when the
transport is built with ``http2="prior-knowledge"``. The protocol object is chosen in
``connection_made``, when the handshake is done and ALPN known, before any byte is read.

Errors below this layer are mapped here and only here: ``socket.gaierror`` becomes
``DNSError``, ``ssl.SSLError`` and certificate errors ``TLSError``, other ``OSError``s
``ConnectError``, and a connect that outlives its budget ``ConnectTimeout``. Every error that
leaves ``handle_async_request`` carries the request.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import ssl
from collections.abc import Awaitable, Callable
from typing import Final, Literal

from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT, Limits, Timeout
from .._exceptions import (
    HyperHTTPError,
    ReadError,
    RemoteProtocolError,
    UnsupportedProtocol,
    WriteError,
)
from .._models import Request, Response
from .._proxy import ProxiesTypes, ProxyMap, ProxyURL
from ._errors import map_connect_error
from ._h1_connection import HTTP11Connection, wait_with_timeout
from ._h2_connection import DEFAULT_PING_INTERVAL, HTTP2Connection, StreamRetryable
from ._pool import ConnectionPool, Origin
from ._proxy_connect import ProxyConnector, ProxyKey
from ._selector import Connection, ProtocolSelector
from ._tls import CertTypes, VerifyTypes, create_ssl_context
from .base import AsyncTransport

__all__ = [
    "DEFAULT_HAPPY_EYEBALLS_DELAY",
    "IDEMPOTENT_METHODS",
    "MAX_H2_ATTEMPTS",
    "HTTP2Option",
    "HTTPTransport",
]

# RFC 8305 recommends 250 ms between connection attempts to successive addresses.
DEFAULT_HAPPY_EYEBALLS_DELAY: Final = 0.25
# RFC 9110 §9.2.2: requests that may be automatically retried on a fresh connection.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Sends of one request when HTTP/2 servers say it was not processed (GOAWAY above its stream,
# REFUSED_STREAM): a server draining connections one after another is not retried forever.
MAX_H2_ATTEMPTS: Final = 4

HTTP2Option = bool | Literal["prior-knowledge"]


class HTTPTransport(AsyncTransport):
    """HTTP/1.1 and HTTP/2 over TCP and TLS, with a connection pool.

    ``http2=True`` offers HTTP/2 by ALPN on https; ``"prior-knowledge"`` also speaks it in
    cleartext to http origins (h2c, no upgrade dance); ``False`` is HTTP/1.1 only.

    A reused keep-alive connection that turns out to have been closed by the server before
    any response byte arrived is retried once on a new connection, for idempotent requests
    with a replayable body only: a request the server may have processed is never resent.
    A request an HTTP/2 server reports as unprocessed (GOAWAY above its stream id, or
    REFUSED_STREAM) is resent on another connection whatever its method, if its body can be
    replayed (RFC 9113 §8.7).

    ``http2_ping_interval``: an HTTP/2 connection from which nothing has arrived for this
    many seconds is sent a PING when it carries open streams or is about to carry a new
    one; if nothing arrives within another interval, the connection is dead and closed,
    failing its streams with :class:`ReadError` rather than leaving them to hang (a read
    timeout of ``None`` included). ``None`` turns this off.

    ``proxies``: a proxy URL, :class:`~hyperhttp.ProxyURL` or per-scheme mapping (see
    docs/proxies.md); when ``None`` and ``trust_env``, the ``*_PROXY`` and ``NO_PROXY``
    environment variables, read here, once.
    """

    def __init__(
        self,
        *,
        verify: VerifyTypes = True,
        cert: CertTypes | None = None,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = True,
        limits: Limits = DEFAULT_LIMITS,
        happy_eyeballs_delay: float | None = DEFAULT_HAPPY_EYEBALLS_DELAY,
        default_timeout: Timeout = DEFAULT_TIMEOUT,
        http2: HTTP2Option = True,
        http2_ping_interval: float | None = DEFAULT_PING_INTERVAL,
        proxies: ProxiesTypes = None,
    ) -> None:
        if http2 not in (True, False, "prior-knowledge"):
            raise ValueError('http2 must be True, False or "prior-knowledge"')
        self._http2 = http2 is not False
        self._h2c = http2 == "prior-knowledge"
        if http2_ping_interval is not None and not http2_ping_interval > 0:
            raise ValueError("http2_ping_interval must be a positive number of seconds or None")
        self._ping_interval = http2_ping_interval
        self._alpn: tuple[str, ...] = ("h2", "http/1.1") if self._http2 else ("http/1.1",)
        self._verify = verify
        self._cert = cert
        self._trust_env = trust_env
        self._ssl_context = ssl_context
        self._given_context = ssl_context
        self._happy_eyeballs_delay = happy_eyeballs_delay
        self._default_timeout = default_timeout
        self._pool = ConnectionPool(limits, self._connect, self._may_share if self._http2 else None)
        # None when every request goes direct: the hot path then pays one attribute test.
        self._proxies = ProxyMap.build(proxies, trust_env)
        self._proxy_context: ssl.SSLContext | None = None
        self._proxy_connector = (
            None
            if self._proxies is None
            else ProxyConnector(
                open_tcp=self._open_tcp,
                origin_context=lambda: self.ssl_context,
                proxy_context=self._tls_to_proxy,
                http2=self._http2,
                h2c=self._h2c,
                ping_interval=self._ping_interval,
            )
        )
        if ssl_context is None and (cert is not None or isinstance(verify, (str, os.PathLike))):
            # Files named in the configuration are read now, so a missing or invalid
            # certificate, key or CA bundle (or a wrong key password) is a TLSError from the
            # constructor, not from the first https request (checklist TLS-06).
            self._ssl_context = create_ssl_context(
                verify, cert, trust_env=trust_env, alpn_protocols=self._alpn
            )

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for https origins (built on first use)."""
        if self._ssl_context is None:
            verify: VerifyTypes = self._verify
            self._ssl_context = create_ssl_context(
                verify, self._cert, trust_env=self._trust_env, alpn_protocols=self._alpn
            )
        return self._ssl_context

    def _tls_to_proxy(self) -> ssl.SSLContext:
        """The TLS context for https:// proxies: verified like origins, HTTP/1.1 only.

        A context the caller built (``verify=SSLContext``) is used as given, as for origins.
        Otherwise the client certificate (``cert=``) is left out: it identifies the caller
        to origins, and a proxy that asks for one is not one of them.
        """
        if self._proxy_context is None:
            given = self._given_context or self._verify
            if isinstance(given, ssl.SSLContext):
                # Shared with origins, so its ALPN offers h2 too: set that up first, so the
                # proxy sees the same offer on every connection, not only on later ones.
                self._proxy_context = self.ssl_context
            else:
                self._proxy_context = create_ssl_context(
                    self._verify, None, trust_env=self._trust_env
                )
        return self._proxy_context

    def _may_share(self, origin: Origin) -> bool:
        """Whether connections to ``origin`` may turn out to be HTTP/2 (and so shared)."""
        if origin[0] == "https":
            return True
        # h2c by prior knowledge: direct, or through a SOCKS tunnel; never to an HTTP proxy.
        return self._h2c and (len(origin) == 3 or origin[3].is_socks)

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` on a pooled connection; the body is left to be read."""
        timeout = request.extensions.get("timeout")
        if not isinstance(timeout, Timeout):
            timeout = self._default_timeout
        url = request.url
        scheme = url.scheme
        if scheme != "http" and scheme != "https":
            raise UnsupportedProtocol(
                f"unsupported URL scheme {scheme!r} (only http and https)", request=request
            )
        origin: Origin = url.origin
        if self._proxies is not None:
            proxy = self._proxies.for_url(url)
            if proxy is not None:
                origin = _proxy_key(url.origin, proxy)
                if origin[1] and "proxy-authorization" in request.headers:
                    # Inside a tunnel the origin would read it: it is meant for the proxy.
                    del request.headers["proxy-authorization"]
        attempt = 0
        while True:
            attempt += 1
            try:
                conn, reused = await self._pool.acquire(origin, timeout)
            except HyperHTTPError as exc:
                exc.request = request
                raise
            try:
                return await conn.handle_request(request, timeout)
            except StreamRetryable as exc:
                if attempt < MAX_H2_ATTEMPTS and _replayable(request):
                    continue
                exc.request = request
                raise
            except (RemoteProtocolError, ReadError, WriteError) as exc:
                if attempt == 1 and _safe_to_retry(request, reused, conn):
                    continue
                exc.request = request
                raise

    async def _connect(self, pool: ConnectionPool, origin: Origin, timeout: Timeout) -> Connection:
        if len(origin) == 4:
            assert self._proxy_connector is not None
            return await self._proxy_connector.connect(pool, origin, timeout)
        scheme, host, port = origin
        ssl_context = self.ssl_context if scheme == "https" else None
        selector = ProtocolSelector(
            pool, origin, self._http2 and ssl_context is not None, self._ping_interval
        )
        if ssl_context is None:
            selector.conn = (
                HTTP2Connection(pool, origin, self._ping_interval)
                if self._h2c
                else HTTP11Connection(pool, origin)
            )
        # The pool owns the slot until the connection is handed back to it: a connection
        # lost while being set up (or a cancelled connect) must not release it a second time.
        if selector.conn is not None:
            selector.conn.slot_released = True
        factory = selector.protocol
        # Always the real host: the ssl module checks an IP literal against the certificate's
        # IP SANs and, by itself, sends no SNI for it (RFC 6066 §3). An empty server_hostname
        # would turn the name check off altogether.
        server_hostname = host if ssl_context is not None else None
        try:
            connect = self._open_tcp(
                factory, host, port, ssl=ssl_context, server_hostname=server_hostname
            )
            if timeout.connect is None:
                await connect
            else:
                await wait_with_timeout(connect, timeout.connect)
        except BaseException as exc:
            if selector.conn is not None:
                selector.conn.close()  # the pool gives the slot back itself
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise map_connect_error(exc, f"{host}:{port}", timeout.connect) from None
        conn = selector.conn
        assert conn is not None
        conn.slot_released = False
        return conn

    def _open_tcp(
        self,
        factory: Callable[[], asyncio.BaseProtocol],
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None,
        server_hostname: str | None,
    ) -> Awaitable[tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]:
        """``loop.create_connection``, with Happy Eyeballs where the loop has it."""
        loop = asyncio.get_running_loop()
        if self._happy_eyeballs_delay is not None and _supports_happy_eyeballs(loop):
            return loop.create_connection(
                factory,
                host,
                port,
                ssl=ssl,
                server_hostname=server_hostname,
                happy_eyeballs_delay=self._happy_eyeballs_delay,
            )
        return loop.create_connection(factory, host, port, ssl=ssl, server_hostname=server_hostname)

    async def aclose(self) -> None:
        """Close every idle connection; in-flight responses close theirs when done."""
        await self._pool.aclose()

    def get_pool_stats(self) -> dict[str, int]:
        """Open, idle and active connection counts, and how many requests wait."""
        return self._pool.stats()


def _proxy_key(origin: tuple[str, str, int], proxy: ProxyURL) -> ProxyKey:
    """The pool key of a proxied connection (see ``_proxy_connect.py``)."""
    if origin[0] == "http" and not proxy.is_socks:
        return ("http", "", 0, proxy)  # forwarding: one set of connections for every origin
    return (origin[0], origin[1], origin[2], proxy)


def _replayable(request: Request) -> bool:
    return request.stream is None or request.stream.replayable


def _safe_to_retry(request: Request, reused: bool, conn: Connection) -> bool:
    if not reused or conn.received_response_bytes:
        return False
    if request.method not in IDEMPOTENT_METHODS:
        return False
    return request.stream is None or request.stream.replayable


_HAPPY_EYEBALLS_SUPPORT: dict[type, bool] = {}


def _supports_happy_eyeballs(loop: asyncio.AbstractEventLoop) -> bool:
    """asyncio's loop takes ``happy_eyeballs_delay``; uvloop's (as of 0.21) does not."""
    loop_type = type(loop)
    supported = _HAPPY_EYEBALLS_SUPPORT.get(loop_type)
    if supported is None:
        try:
            parameters = inspect.signature(loop.create_connection).parameters
            supported = "happy_eyeballs_delay" in parameters
        except (TypeError, ValueError):  # a C implementation without a signature
            supported = False
        _HAPPY_EYEBALLS_SUPPORT[loop_type] = supported
    return supported
