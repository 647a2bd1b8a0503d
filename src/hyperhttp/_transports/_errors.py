"""OSError (and ssl/timeout) to hyperhttp error mapping, shared by every transport.

The network transport maps what the socket layer raises; MockTransport maps what a test
handler raises the same way, so a simulated outage follows the same code path as a real one.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    DNSError,
    HyperHTTPError,
    ReadError,
    TLSError,
)

__all__ = ["map_connect_error", "map_exchange_error"]


def map_connect_error(
    exc: BaseException, where: str, connect_timeout: float | None
) -> BaseException:
    """The hyperhttp error for a failure while opening a connection to ``where``."""
    if isinstance(exc, HyperHTTPError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        if connect_timeout is None:
            return ConnectTimeout(f"connecting to {where} timed out")
        return ConnectTimeout(f"connecting to {where} took longer than {connect_timeout} s")
    if isinstance(exc, socket.gaierror):
        return DNSError(f"could not resolve {where}: {_reason(exc)}")
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
        return TLSError(f"TLS handshake with {where} failed: {reason}")
    if isinstance(exc, OSError):
        return ConnectError(f"could not connect to {where}: {_reason(exc)}")
    return exc


def map_exchange_error(exc: BaseException, where: str) -> BaseException:
    """The hyperhttp error for a failure anywhere in one request/response exchange.

    Connection-level errors map as for connecting; a reset or broken pipe (the connection
    existed and failed) becomes ``ReadError``.
    """
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return ReadError(f"connection to {where} failed: {_reason(exc)}")
    return map_connect_error(exc, where, None)


def _reason(exc: OSError) -> str:
    """What went wrong, never empty: some failures (a TLS peer that hangs up mid-handshake)
    carry no message at all."""
    return exc.strerror or str(exc) or type(exc).__name__
