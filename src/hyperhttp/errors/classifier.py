"""Sort errors and status codes into the categories retries and the circuit breaker use.

A category is a plain upper-case string. The mapping, most specific class first (the
exception's MRO is walked, so a subclass not listed gets its nearest listed ancestor's
category), is documented in ``docs/resilience.md``; a test checks that table against
:attr:`ErrorClassifier.ERROR_MAPPING`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any, Final

from .._exceptions import (
    CloseError,
    ConnectError,
    ConnectTimeout,
    DNSError,
    HTTPStatusError,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TimeoutException,
    TLSError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)

__all__ = [
    "CLIENT",
    "CONNECTION",
    "DEFAULT_BREAKER_CATEGORIES",
    "DEFAULT_RETRY_CATEGORIES",
    "DNS",
    "FATAL",
    "PROTOCOL",
    "RATE_LIMIT",
    "SERVER",
    "TIMEOUT",
    "TLS",
    "TRANSIENT",
    "ErrorClassifier",
]

TRANSIENT: Final = "TRANSIENT"
TIMEOUT: Final = "TIMEOUT"
PROTOCOL: Final = "PROTOCOL"
CONNECTION: Final = "CONNECTION"
TLS: Final = "TLS"
DNS: Final = "DNS"
SERVER: Final = "SERVER"
RATE_LIMIT: Final = "RATE_LIMIT"
CLIENT: Final = "CLIENT"
FATAL: Final = "FATAL"

#: What ``RetryPolicy()`` retries when ``retry_categories`` is not given. TLS (certificate
#: and handshake failures do not fix themselves), CLIENT and FATAL are left out.
DEFAULT_RETRY_CATEGORIES: Final = frozenset(
    {CONNECTION, DNS, TIMEOUT, TRANSIENT, PROTOCOL, SERVER, RATE_LIMIT}
)

#: What a circuit breaker counts as a failure when ``tracked_categories`` is not given:
#: connect errors, timeouts (except ``PoolTimeout``, which is local) and 5xx responses.
DEFAULT_BREAKER_CATEGORIES: Final = frozenset({CONNECTION, DNS, TLS, TIMEOUT, SERVER})

_CONNECTION_CATEGORIES: Final = frozenset({CONNECTION, DNS, TLS})


class ErrorClassifier:
    """Maps exceptions and status codes to categories. All methods are class methods."""

    #: Category -> severity (higher is worse); kept from hyperhttp 2.x for reports.
    CATEGORIES: Final[dict[str, int]] = {
        TRANSIENT: 10,
        TIMEOUT: 20,
        PROTOCOL: 30,
        CONNECTION: 40,
        TLS: 50,
        DNS: 60,
        SERVER: 70,
        RATE_LIMIT: 75,
        CLIENT: 80,
        FATAL: 90,
    }

    #: Exception class -> category. hyperhttp's classes first, then the standard library's
    #: (for errors raised by user code around the client). Anything else is FATAL.
    ERROR_MAPPING: Final[dict[type[BaseException], str]] = {
        ConnectTimeout: TIMEOUT,
        ReadTimeout: TIMEOUT,
        WriteTimeout: TIMEOUT,
        PoolTimeout: TIMEOUT,
        TimeoutException: TIMEOUT,
        DNSError: DNS,
        TLSError: TLS,
        ConnectError: CONNECTION,
        ProxyError: CONNECTION,
        ReadError: TRANSIENT,
        WriteError: TRANSIENT,
        CloseError: TRANSIENT,
        NetworkError: TRANSIENT,
        RemoteProtocolError: PROTOCOL,
        ProtocolError: PROTOCOL,
        LocalProtocolError: FATAL,
        UnsupportedProtocol: FATAL,
        # the standard library
        socket.gaierror: DNS,
        ssl.SSLError: TLS,
        ConnectionRefusedError: CONNECTION,
        ConnectionResetError: TRANSIENT,
        ConnectionAbortedError: TRANSIENT,
        BrokenPipeError: TRANSIENT,
        ConnectionError: CONNECTION,
        asyncio.TimeoutError: TIMEOUT,
        TimeoutError: TIMEOUT,
        OSError: CONNECTION,
    }

    @classmethod
    def categorize_status(cls, status_code: int) -> str | None:
        """408 -> TIMEOUT, 429 -> RATE_LIMIT, 5xx -> SERVER, other 4xx -> CLIENT, else None."""
        if status_code == 408:
            return TIMEOUT
        if status_code == 429:
            return RATE_LIMIT
        if 500 <= status_code <= 599:
            return SERVER
        if 400 <= status_code <= 499:
            return CLIENT
        return None

    @classmethod
    def categorize(cls, error: BaseException, response: Any = None) -> str:
        """The category of ``error``.

        ``HTTPStatusError`` (or any error given a ``response``) is categorised by the status
        code, and so is a ``ProxyError`` for a proxy's non-2xx answer to CONNECT; other
        errors by the nearest class in :attr:`ERROR_MAPPING`; FATAL otherwise.
        """
        if response is None and isinstance(error, HTTPStatusError):
            response = error.response
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return cls.categorize_status(status) or FATAL
        if isinstance(error, ProxyError) and error.status_code is not None:
            # The proxy answered CONNECT: its status says whether trying again can help
            # (407/403 will not; 502/503 may).
            return cls.categorize_status(error.status_code) or CONNECTION
        mapping = cls.ERROR_MAPPING
        for klass in type(error).__mro__:
            category = mapping.get(klass)
            if category is not None:
                return category
        return FATAL

    @classmethod
    def is_retryable(cls, category: str) -> bool:
        """Whether ``RetryPolicy()`` retries this category by default."""
        return category in DEFAULT_RETRY_CATEGORIES

    @classmethod
    def is_connection_error(cls, category: str) -> bool:
        """CONNECTION, DNS and TLS: the connection was never established."""
        return category in _CONNECTION_CATEGORIES
