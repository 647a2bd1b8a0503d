"""The one exception tree of hyperhttp.

Everything the public API raises on purpose is a subclass of :class:`HyperHTTPError`
(plus ``asyncio.CancelledError``, which always propagates untouched, and ``TypeError`` /
``ValueError`` for invalid *configuration*, raised at construction time)::

    HyperHTTPError
    ├── TransportError ............ the request could not be completed on the wire
    │   ├── TimeoutException
    │   │   ├── ConnectTimeout .... TCP connect + TLS handshake took too long
    │   │   ├── ReadTimeout ....... no byte arrived within the read timeout
    │   │   ├── WriteTimeout ...... the peer stopped accepting our bytes
    │   │   └── PoolTimeout ....... no connection slot became free in time
    │   ├── NetworkError
    │   │   ├── ConnectError ...... could not open the connection
    │   │   │   ├── DNSError ...... the host name did not resolve
    │   │   │   └── TLSError ...... handshake or certificate verification failed
    │   │   ├── ReadError ......... the connection failed while receiving
    │   │   ├── WriteError ........ the connection failed while sending
    │   │   └── CloseError
    │   ├── ProxyError
    │   ├── UnsupportedProtocol ... a scheme other than http/https
    │   └── ProtocolError ......... the bytes on the wire broke HTTP's rules
    │       ├── LocalProtocolError  we were asked to send something invalid
    │       └── RemoteProtocolError the peer sent something invalid or incomplete
    ├── DecodingError ............. the body could not be decoded
    │   └── DecompressionError .... bad compressed data, or over max_decompressed_size
    ├── TooManyRedirects
    ├── HTTPStatusError ........... raise_for_status() on a 4xx/5xx response
    ├── InvalidURL ................ also a ValueError
    ├── StreamError ............... misuse of a streaming body
    │   ├── StreamConsumed ........ a one-shot body was already sent or read
    │   ├── ResponseClosed ........ reading a response that was closed
    │   ├── ResponseNotRead ....... .content on a streamed response before aread()
    │   └── RequestNotRead ........ .content on a request with a streaming body
    ├── ResponseTooLarge .......... the body exceeded max_response_size
    ├── AuthFlowError ............. an auth flow yielded nothing, looped, or cannot answer
    ├── CircuitBreakerOpen ........ the host's breaker is open; nothing was sent
    └── RetryError ................ retries ran out; carries the last error and history

Every error has ``.request`` (the :class:`~hyperhttp.Request` being sent, or ``None`` when
the failure happened before a request existed, e.g. ``InvalidURL`` from ``URL(...)``).
Messages are built from redacted URLs only and never contain header values, so neither
``str()`` nor ``repr()`` can show a password or an ``Authorization`` value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Request, Response

__all__ = [
    "AuthFlowError",
    "CircuitBreakerOpen",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "DNSError",
    "DecodingError",
    "DecompressionError",
    "HTTPStatusError",
    "HyperHTTPError",
    "InvalidURL",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestNotRead",
    "ResponseClosed",
    "ResponseNotRead",
    "ResponseTooLarge",
    "RetryError",
    "StreamConsumed",
    "StreamError",
    "TLSError",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
]


class HyperHTTPError(Exception):
    """Base class of every error hyperhttp raises on purpose.

    ``request`` is the request being sent when the error happened (``None`` if there was
    none yet). The transport attaches it when the error is raised below the client.
    """

    def __init__(self, message: str = "", *, request: Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self._request = request

    @property
    def request(self) -> Request | None:
        """The request that was being sent, if any."""
        return self._request

    @request.setter
    def request(self, request: Request | None) -> None:
        self._request = request

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class TransportError(HyperHTTPError):
    """The request could not be completed on the wire."""


class TimeoutException(TransportError):
    """A timeout fired. See the subclasses for which one."""


class ConnectTimeout(TimeoutException):
    """Opening the connection (TCP connect and TLS handshake) took longer than allowed."""


class ReadTimeout(TimeoutException):
    """No byte of the response arrived within the read timeout."""


class WriteTimeout(TimeoutException):
    """The peer did not accept our request bytes within the write timeout."""


class PoolTimeout(TimeoutException):
    """No connection became available within the pool timeout."""


class NetworkError(TransportError):
    """The connection failed."""


class ConnectError(NetworkError):
    """The connection could not be opened."""


class DNSError(ConnectError):
    """The host name could not be resolved."""


class TLSError(ConnectError):
    """The TLS handshake failed, including certificate verification failures."""


class ReadError(NetworkError):
    """The connection failed while receiving the response."""


class WriteError(NetworkError):
    """The connection failed while sending the request."""


class CloseError(NetworkError):
    """The connection failed while being closed."""


class ProxyError(TransportError):
    """The proxy refused or failed the request, or could not be reached.

    ``status_code`` is the proxy's status when it answered ``CONNECT`` with a non-2xx reply
    (``407``: proxy authentication required); ``socks_reply`` the SOCKS5 reply code when a
    SOCKS proxy refused the connection. Both are ``None`` otherwise. A failure to reach the
    proxy (DNS, refused connection, TLS, timeout) is the ``__cause__``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        request: Request | None = None,
        status_code: int | None = None,
        socks_reply: int | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code
        self.socks_reply = socks_reply


class UnsupportedProtocol(TransportError):
    """The URL's scheme is not one hyperhttp speaks (only http and https)."""


class ProtocolError(TransportError):
    """The HTTP rules were broken."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something that is not valid HTTP (nothing was sent)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something that is not valid HTTP, or an incomplete message."""


class DecodingError(HyperHTTPError):
    """The response body could not be decoded."""


class DecompressionError(DecodingError):
    """The compressed body was invalid, or decompressed past ``max_decompressed_size``."""


class TooManyRedirects(HyperHTTPError):
    """More redirects than ``max_redirects`` were followed. ``history``: every response."""

    def __init__(self, message: str = "", *, request: Request | None = None) -> None:
        super().__init__(message, request=request)
        self.history: list[Response] = []


class HTTPStatusError(HyperHTTPError):
    """Raised by :meth:`Response.raise_for_status` for 4xx and 5xx responses."""

    def __init__(self, message: str, *, request: Request | None, response: Response) -> None:
        super().__init__(message, request=request)
        self.response = response


class InvalidURL(HyperHTTPError, ValueError):
    """The URL could not be parsed, or is not an absolute http(s) URL where one is needed."""


class StreamError(HyperHTTPError):
    """A streaming body was used in a way that cannot work."""


class StreamConsumed(StreamError):
    """A one-shot body (a generator, an async iterator) was already consumed."""


class ResponseClosed(StreamError):
    """The response was closed before its body was read."""


class ResponseNotRead(StreamError):
    """``.content`` was used on a streamed response before ``await response.aread()``."""


class RequestNotRead(StreamError):
    """``.content`` was used on a request whose body is a stream."""


class ResponseTooLarge(HyperHTTPError):
    """The response body is larger than ``max_response_size``."""


class AuthFlowError(HyperHTTPError):
    """An auth flow could not go on: it yielded no request, asked for more than
    ``MAX_AUTH_ROUNDS`` requests, or met a challenge this Python cannot answer."""


class CircuitBreakerOpen(HyperHTTPError):
    """The circuit breaker for this host is open; the request was not sent."""

    def __init__(
        self, message: str, *, host: str = "", remaining: float = 0.0, request: Any = None
    ) -> None:
        super().__init__(message, request=request)
        self.host = host
        self.remaining = remaining


class RetryError(HyperHTTPError):
    """Retries ran out. ``last_exception`` is the final failure, ``history`` every attempt
    (a tuple of ``hyperhttp.errors.retry.AttemptRecord``); ``response`` is the last response
    when status retries ran out with ``raise_on_status=True``."""

    def __init__(
        self,
        message: str,
        *,
        request: Request | None = None,
        last_exception: BaseException | None = None,
        history: tuple[Any, ...] = (),
        response: Response | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.last_exception = last_exception
        self.history = tuple(history)
        self.response = response

    @property
    def original_exception(self) -> BaseException | None:
        """hyperhttp 2.x name of ``last_exception``."""
        return self.last_exception
