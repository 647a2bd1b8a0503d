"""The network transport: TCP (+TLS) connections from a pool, HTTP/1.1 on each.

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
from typing import Final

from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT, Limits, Timeout
from .._exceptions import (
    HyperHTTPError,
    ReadError,
    RemoteProtocolError,
    UnsupportedProtocol,
    WriteError,
)
from .._models import Request, Response
from ._errors import map_connect_error
from ._h1_connection import HTTP11Connection, wait_with_timeout
from ._pool import ConnectionPool, Origin
from ._tls import CertTypes, VerifyTypes, create_ssl_context
from .base import AsyncTransport

__all__ = ["DEFAULT_HAPPY_EYEBALLS_DELAY", "IDEMPOTENT_METHODS", "HTTPTransport"]

# RFC 8305 recommends 250 ms between connection attempts to successive addresses.
DEFAULT_HAPPY_EYEBALLS_DELAY: Final = 0.25
# RFC 9110 §9.2.2: requests that may be automatically retried on a fresh connection.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class HTTPTransport(AsyncTransport):
    """HTTP/1.1 over TCP and TLS, with a connection pool.

    A reused keep-alive connection that turns out to have been closed by the server before
    any response byte arrived is retried once on a new connection, for idempotent requests
    with a replayable body only: a request the server may have processed is never resent.
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
    ) -> None:
        self._verify = verify
        self._cert = cert
        self._trust_env = trust_env
        self._ssl_context = ssl_context
        self._happy_eyeballs_delay = happy_eyeballs_delay
        self._default_timeout = default_timeout
        self._pool = ConnectionPool(limits, self._connect)
        if ssl_context is None and (cert is not None or isinstance(verify, (str, os.PathLike))):
            # Files named in the configuration are read now, so a missing or invalid
            # certificate, key or CA bundle (or a wrong key password) is a TLSError from the
            # constructor, not from the first https request (checklist TLS-06).
            self._ssl_context = create_ssl_context(verify, cert, trust_env=trust_env)

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for https origins (built on first use)."""
        if self._ssl_context is None:
            verify: VerifyTypes = self._verify
            self._ssl_context = create_ssl_context(verify, self._cert, trust_env=self._trust_env)
        return self._ssl_context

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
        origin = url.origin
        for attempt in (1, 2):
            try:
                conn, reused = await self._pool.acquire(origin, timeout)
            except HyperHTTPError as exc:
                exc.request = request
                raise
            try:
                return await conn.handle_request(request, timeout)
            except (RemoteProtocolError, ReadError, WriteError) as exc:
                if attempt == 1 and _safe_to_retry(request, reused, conn):
                    continue
                exc.request = request
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(
        self, pool: ConnectionPool, origin: Origin, timeout: Timeout
    ) -> HTTP11Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        conn = HTTP11Connection(pool, origin)
        ssl_context = self.ssl_context if scheme == "https" else None
        # Always the real host: the ssl module checks an IP literal against the certificate's
        # IP SANs and, by itself, sends no SNI for it (RFC 6066 §3). An empty server_hostname
        # would turn the name check off altogether.
        server_hostname = host if ssl_context is not None else None
        try:
            if self._happy_eyeballs_delay is not None and _supports_happy_eyeballs(loop):
                connect = loop.create_connection(
                    lambda: conn,
                    host,
                    port,
                    ssl=ssl_context,
                    server_hostname=server_hostname,
                    happy_eyeballs_delay=self._happy_eyeballs_delay,
                )
            else:
                connect = loop.create_connection(
                    lambda: conn, host, port, ssl=ssl_context, server_hostname=server_hostname
                )
            if timeout.connect is None:
                await connect
            else:
                await wait_with_timeout(connect, timeout.connect)
        except BaseException as exc:
            conn.slot_released = True  # the pool gives the slot back itself
            conn.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise map_connect_error(exc, f"{host}:{port}", timeout.connect) from None
        return conn

    async def aclose(self) -> None:
        """Close every idle connection; in-flight responses close theirs when done."""
        await self._pool.aclose()

    def get_pool_stats(self) -> dict[str, int]:
        """Open, idle and active connection counts, and how many requests wait."""
        return self._pool.stats()


def _safe_to_retry(request: Request, reused: bool, conn: HTTP11Connection) -> bool:
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
