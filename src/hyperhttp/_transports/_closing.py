"""Waiting for a connection's socket to be really closed (shared by HTTP/1.1 and HTTP/2)."""

from __future__ import annotations

import asyncio

__all__ = ["ClosingMixin", "settle"]


def settle(future: asyncio.Future[None]) -> None:
    """Resolve ``future`` if nobody did yet."""
    if not future.done():
        future.set_result(None)


class ClosingMixin:
    """``wait_closed()`` for an ``asyncio.Protocol`` connection.

    The connection sets ``_lost_future`` to ``None`` in ``__init__`` and calls
    ``settle(self._lost_future)`` (when set) in ``connection_lost``.
    """

    _loop: asyncio.AbstractEventLoop
    _transport: asyncio.Transport | None
    _lost_future: asyncio.Future[None] | None

    async def wait_closed(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until the socket is really closed, then abort it.

        ``close()`` only starts closing: over TLS the close_notify exchange needs the event
        loop to run. A client closed right before its loop ends would otherwise leave the
        socket to the garbage collector (an "unclosed transport" ResourceWarning).
        """
        if self._transport is None:
            return
        lost = self._lost_future
        if lost is None:
            lost = self._lost_future = self._loop.create_future()
        timer = self._loop.call_later(timeout, settle, lost)
        try:
            await asyncio.shield(lost)
        finally:
            timer.cancel()
        if self._transport is not None:
            self._transport.abort()
