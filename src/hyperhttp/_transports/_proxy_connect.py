"""Opening connections through a proxy: forwarding, CONNECT tunnels and SOCKS5.

Theory of operation
-------------------
A proxied connection lives in the pool under a four-part key, ``(scheme, host, port,
proxy)``, so it is never shared with a direct connection or with another proxy (a
:class:`~hyperhttp.ProxyURL` compares equal only with the same credentials too):

* **forward** (an ``http://`` origin through an HTTP(S) proxy): the key is
  ``("http", "", 0, proxy)``: one set of connections to the proxy carries requests for
  every http origin. Requests go out in absolute form (``GET http://host/path``) with the
  proxy's ``Proxy-Authorization``, added on the wire only.
* **tunnel** (an ``https://`` origin through an HTTP(S) proxy): ``CONNECT host:port``, with
  ``Proxy-Authorization`` on that request only, then TLS to the origin inside the tunnel
  (``loop.start_tls``), verified for the origin's name, with ALPN, so HTTP/2 works too.
* **socks** (any origin through ``socks5://`` or ``socks5h://``): the SOCKS5 handshake,
  then plain HTTP or TLS to the origin as for a direct connection.

An ``https://`` proxy is reached over TLS first (its certificate is verified like an
origin's; ALPN offers only ``http/1.1``). An https origin behind it gets TLS inside TLS.

Errors: failing to reach the proxy (DNS, refused, TLS to the proxy, timeout) and any
refusal or malformed reply from it raise :class:`~hyperhttp.ProxyError`, with the
underlying error as ``__cause__`` and the CONNECT status in ``status_code``. Errors after
the tunnel is up (the origin's TLS) are the origin's usual errors. A failed connection is
aborted at once: nothing is left open and nothing enters the pool. The whole setup, proxy
and origin handshakes included, is bounded by the connect timeout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, TypeVar

from .._config import Timeout
from .._exceptions import ConnectTimeout, HyperHTTPError, ProxyError
from .._protocol.proxy import (
    MAX_CONNECT_REPLY_BYTES,
    ConnectReplyParser,
    ProxyHandshakeError,
    Socks5ReplyReader,
    SocksConnectFailed,
    serialize_connect,
    socks5_auth_request,
    socks5_connect_request,
    socks5_greeting,
)
from .._proxy import ProxyURL
from ._errors import map_connect_error
from ._h1_connection import HTTP11Connection, wait_with_timeout
from ._h2_connection import HTTP2Connection
from ._selector import Connection, ProtocolSelector

if TYPE_CHECKING:
    from ._pool import ConnectionPool

__all__ = ["ProxyConnector", "ProxyKey"]

ProxyKey = tuple[str, str, int, ProxyURL]
T = TypeVar("T")

# Bytes a proxy may send during a handshake before we have read them. SOCKS5 replies are at
# most 262 bytes and CONNECT reply heads are capped by the parser; a proxy that floods us
# is cut here rather than buffered without bound.
MAX_HANDSHAKE_BUFFER: Final = MAX_CONNECT_REPLY_BYTES + 1024

OpenTCP = Callable[..., Awaitable[tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]]


class _Handshake(asyncio.Protocol):
    """The protocol on a proxy connection until the handshake is done: a byte buffer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self.eof = False
        self.overflow = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > MAX_HANDSHAKE_BUFFER:
            self.overflow = True
            if self.transport is not None:
                self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return True  # we close it ourselves

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def more(self) -> None:
        """Wait for more bytes (or EOF)."""
        if self.eof:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take(self) -> bytes:
        """Everything received so far (reading resumes if a flood had paused it)."""
        data = bytes(self.buffer)
        self.buffer.clear()
        if self.overflow:
            self.overflow = False
            if self.transport is not None and not self.eof:
                self.transport.resume_reading()
        return data

    async def read_exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if self.overflow:
                raise ProxyHandshakeError("the proxy sent more than a handshake reply")
            if self.eof:
                raise ProxyHandshakeError("the proxy closed the connection during the handshake")
            await self.more()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data


class ProxyConnector:
    """Opens pooled connections through proxies for an :class:`HTTPTransport`."""

    def __init__(
        self,
        *,
        open_tcp: OpenTCP,
        origin_context: Callable[[], ssl.SSLContext],
        proxy_context: Callable[[], ssl.SSLContext],
        http2: bool,
        h2c: bool,
        ping_interval: float | None,
    ) -> None:
        self._open_tcp = open_tcp
        self._origin_context = origin_context
        self._proxy_context = proxy_context
        self._http2 = http2
        self._h2c = h2c
        self._ping_interval = ping_interval

    async def connect(self, pool: ConnectionPool, key: ProxyKey, timeout: Timeout) -> Connection:
        """A new connection for ``key`` (the pool owns its slot once it is returned)."""
        loop = asyncio.get_running_loop()
        budget = timeout.connect
        deadline = None if budget is None else loop.time() + budget
        scheme, host, port, proxy = key
        target_host = host
        if proxy.scheme == "socks5" and host:
            target_host = await self._resolve(host, port, deadline, budget)
        handshake = await self._open_proxy(proxy, deadline, budget)
        transport = handshake.transport
        assert transport is not None
        conn: Connection | None = None
        try:
            if proxy.is_socks:
                await _within(_socks5(handshake, proxy, target_host, port), deadline)
            elif scheme == "https":
                await _within(_connect_tunnel(handshake, proxy, host, port), deadline)
            if handshake.buffer:
                raise ProxyHandshakeError("the proxy sent unexpected bytes after its reply")
            if scheme == "https":
                conn = await self._start_tls(pool, key, transport, deadline, budget)
            else:
                conn = self._plain(pool, key, proxy)
                transport.set_protocol(conn)
                conn.connection_made(transport)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            transport.abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
            failure = _proxy_failure(exc, proxy, budget)
            raise failure from failure.__cause__
        conn.slot_released = False
        return conn

    def _plain(self, pool: ConnectionPool, key: ProxyKey, proxy: ProxyURL) -> Connection:
        conn: Connection
        if proxy.is_socks and self._h2c:
            conn = HTTP2Connection(pool, key, self._ping_interval)
        else:
            conn = HTTP11Connection(pool, key)
            if not proxy.is_socks:
                auth = proxy.basic_auth_header()
                conn.forward_proxy = True
                conn.proxy_authorization = auth.encode("latin-1") if auth else None
        conn.slot_released = True  # until connect() hands it to the pool
        return conn

    async def _resolve(
        self, host: str, port: int, deadline: float | None, budget: float | None
    ) -> str:
        """socks5:// resolves names here (socks5h:// leaves it to the proxy)."""
        try:
            ipaddress.ip_address(host.partition("%")[0])
            return host
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await _within(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), deadline)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise map_connect_error(exc, f"{host}:{port}", budget) from None
        return str(infos[0][4][0])

    async def _open_proxy(
        self, proxy: ProxyURL, deadline: float | None, budget: float | None
    ) -> _Handshake:
        handshake = _Handshake()
        context = self._proxy_context() if proxy.is_secure else None
        try:
            await _within(
                self._open_tcp(
                    lambda: handshake,
                    proxy.host,
                    proxy.port,
                    ssl=context,
                    server_hostname=proxy.host if context is not None else None,
                ),
                deadline,
            )
            if context is not None:
                ssl_object = handshake.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
                if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                    raise ProxyHandshakeError("the proxy chose HTTP/2; proxies speak HTTP/1.1 here")
        except BaseException as exc:
            if handshake.transport is not None:
                handshake.transport.abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
            failure = _proxy_failure(exc, proxy, budget)
            raise failure from failure.__cause__
        return handshake

    async def _start_tls(
        self,
        pool: ConnectionPool,
        key: ProxyKey,
        transport: asyncio.Transport,
        deadline: float | None,
        budget: float | None,
    ) -> Connection:
        host, port = key[1], key[2]
        selector = ProtocolSelector(pool, key, self._http2, self._ping_interval)
        loop = asyncio.get_running_loop()
        try:
            tls = await _within(
                loop.start_tls(transport, selector, self._origin_context(), server_hostname=host),
                deadline,
            )
        except TypeError:
            raise _TLSInTLSUnsupported() from None
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            # The tunnel is up: a failure now is the origin's (its certificate, its TLS).
            raise _OriginFailure(map_connect_error(exc, f"{host}:{port}", budget)) from None
        if tls is None:  # pragma: no cover - start_tls returns None only if closed meanwhile
            lost = ConnectionResetError("the connection closed during the TLS handshake")
            raise _OriginFailure(map_connect_error(lost, f"{host}:{port}", budget))
        selector.connection_made(tls)
        conn = selector.conn
        assert conn is not None
        return conn


class _TLSInTLSUnsupported(Exception):
    """The event loop cannot run TLS over a TLS transport (uvloop, Python < 3.11)."""


class _OriginFailure(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


async def _within(awaitable: Awaitable[T], deadline: float | None) -> T:
    if deadline is None:
        return await awaitable
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise asyncio.TimeoutError
    return await wait_with_timeout(awaitable, remaining)


async def _connect_tunnel(handshake: _Handshake, proxy: ProxyURL, host: str, port: int) -> None:
    transport = handshake.transport
    assert transport is not None
    transport.write(serialize_connect(host, port, proxy.basic_auth_header()))
    parser = ConnectReplyParser()
    while True:
        data = handshake.take()
        if data and parser.feed(data):
            break
        if handshake.eof:
            parser.feed_eof()
        await handshake.more()
    status = parser.status_code
    assert status is not None
    if not 200 <= status < 300:
        raise _Refused(status, parser.reason)
    handshake.buffer[:0] = parser.surplus


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__()
        self.status = status
        self.reason = reason


async def _socks5(handshake: _Handshake, proxy: ProxyURL, host: str, port: int) -> None:
    transport = handshake.transport
    assert transport is not None
    with_credentials = proxy.username is not None
    transport.write(socks5_greeting(with_credentials))
    if Socks5ReplyReader.method(await handshake.read_exactly(2), with_credentials):
        transport.write(socks5_auth_request(proxy.username or "", proxy.password or ""))
        Socks5ReplyReader.auth(await handshake.read_exactly(2))
    transport.write(socks5_connect_request(host, port, remote_dns=proxy.scheme == "socks5h"))
    rest = Socks5ReplyReader.connect_head(await handshake.read_exactly(5))
    await handshake.read_exactly(rest)


def _proxy_failure(exc: BaseException, proxy: ProxyURL, budget: float | None) -> BaseException:
    """The error to raise for ``exc`` while setting up a connection through ``proxy``."""
    where = f"proxy {proxy}"
    if isinstance(exc, _OriginFailure):
        return exc.error
    if isinstance(exc, _TLSInTLSUnsupported):
        return ProxyError(
            f"TLS to an https origin through the https:// {where} (TLS inside TLS) is not "
            "supported by this event loop; use asyncio's loop on Python 3.11+ or an "
            "http:// proxy URL"
        )
    if isinstance(exc, _Refused):
        reason = f" {exc.reason}" if exc.reason.isprintable() and exc.reason else ""
        error = ProxyError(
            f"{where} refused the tunnel: {exc.status}{reason}", status_code=exc.status
        )
        return error
    if isinstance(exc, SocksConnectFailed):
        return ProxyError(f"{where}: {exc}", socks_reply=exc.code)
    if isinstance(exc, ProxyHandshakeError):
        return ProxyError(f"{where}: {exc}")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        cause: BaseException = ConnectTimeout(
            f"setting up a connection through the {where} took longer than {budget} s"
        )
    else:
        cause = map_connect_error(exc, proxy.authority, budget)
    if isinstance(cause, ProxyError):
        return cause
    message = cause.message if isinstance(cause, HyperHTTPError) else str(cause)
    error = ProxyError(f"{where} failed: {message}")
    error.__cause__ = cause
    return error
