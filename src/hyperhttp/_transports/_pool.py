"""The connection pool: which connection carries the next request.

Theory of operation
-------------------
Every open connection holds a *slot*: ``max_connections`` slots in all and
``max_connections_per_host`` per origin. Idle connections wait in a per-origin list and are
reused last-in-first-out (the most recently used socket is the least likely to have been
closed by the server). ``acquire`` tries, in order:

1. an idle connection for the origin (dropping any found closed or past keep-alive expiry);
2. a new connection, if a slot is free;
3. closing the oldest idle connection of *another* origin to free its slot, so a crawler
   touching many hosts never deadlocks on idle sockets it will not reuse;
4. waiting, first come first served, until a connection for this origin is released (handed
   over directly) or a slot frees up, or the pool timeout fires (``PoolTimeout``).

A cancelled waiter leaves the queue; if a connection was handed to it in the same instant,
the connection goes back to the pool, so no slot is ever lost. Each step is O(1) in the
number of open connections except the eviction scan, which stops at the first candidate.

HTTP/2 connections are *shared*: they stay in a per-origin list while open, and ``acquire``
reserves a stream on the first one with spare capacity (below the server's
MAX_CONCURRENT_STREAMS) without taking it out of circulation. A full connection makes the
request open another connection (if a slot is free) or wait FIFO until a stream ends. An
HTTP/2 connection with no stream is idle: it then counts for keep-alive expiry, the idle
cap and eviction like an idle HTTP/1.1 connection.

For origins that may speak HTTP/2 (https with ALPN ``h2`` offered, or h2c by prior
knowledge) the first connection is a *gate*: requests arriving while it is being set up wait
for it instead of racing their own handshakes; then they share it (HTTP/2) or open their
own (HTTP/1.1, remembered for the origin so later bursts do not wait). None of this touches
the HTTP/1.1 hot path: an idle connection is still popped first, in O(1).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

from .._config import Limits, Timeout
from .._exceptions import PoolTimeout
from ._h2_connection import HTTP2Connection

if TYPE_CHECKING:
    from .._proxy import ProxyURL
    from ._h1_connection import HTTP11Connection

    Connection: TypeAlias = "HTTP11Connection | HTTP2Connection"

__all__ = ["ConnectionPool", "Origin"]

# A pool key: (scheme, host, port) of a direct connection's origin, or with the proxy as a
# fourth part for connections through one (``_proxy_connect.py``): never shared across.
Origin = tuple[str, str, int] | tuple[str, str, int, "ProxyURL"]
# How long aclose() lets sockets finish closing (a TLS close_notify needs a round trip on
# loopback, far less on a LAN) before aborting them.
CLOSE_WAIT = 1.0
# Origins remembered as HTTP/1.1-only (their first connection did not negotiate h2).
_MAX_H1_ORIGINS = 10_000


class _Waiter:
    __slots__ = ("future", "origin")

    def __init__(self, origin: Origin, future: asyncio.Future[Connection | None]) -> None:
        self.origin = origin
        self.future = future


class ConnectionPool:
    """Connection slots, idle connections and the queue of requests waiting for them."""

    def __init__(
        self,
        limits: Limits,
        connect: Callable[[ConnectionPool, Origin, Timeout], Awaitable[Connection]],
        shareable: Callable[[Origin], bool] | None = None,
    ) -> None:
        self._limits = limits
        self._connect = connect
        self._idle: dict[Origin, list[HTTP11Connection]] = {}
        # Every idle connection, oldest first (dicts keep insertion order): the eviction scan.
        self._idle_order: dict[Connection, None] = {}
        # HTTP/2: the shared connections per origin, the first-connection gates, and the
        # origins known to answer with HTTP/1.1.
        self._shareable = shareable
        self._h2: dict[Origin, list[HTTP2Connection]] = {}
        self._connecting: dict[Origin, asyncio.Future[None]] = {}
        self._h1_origins: set[Origin] = set()
        self._open = 0
        self._per_origin: dict[Origin, int] = {}
        self._waiters: deque[_Waiter] = deque()
        self._closed = False

    # -- acquiring ----------------------------------------------------------------------------

    async def acquire(self, origin: Origin, timeout: Timeout) -> tuple[Connection, bool]:
        """A connection for ``origin`` and whether it was reused (already carried requests).

        ``timeout.pool`` bounds the wait for a slot; ``timeout.connect`` a new connection.
        """
        loop = asyncio.get_running_loop()
        pool_timeout = timeout.pool
        deadline = None if pool_timeout is None else loop.time() + pool_timeout
        while True:
            if self._closed:
                raise PoolTimeout("the client has been closed")
            conn = self._take_idle(origin, loop.time())
            if conn is not None:
                return conn, True
            if self._h2:
                shared = self._take_shared(origin, loop.time())
                if shared is not None:
                    return shared, True
            if self._connecting:
                gate = self._connecting.get(origin)
                if gate is not None:
                    await _wait_gate(gate, deadline, loop)
                    continue
            if self._has_free_slot(origin) or self._evict_idle():
                return await self._open_connection(origin, timeout), False
            conn = await self._wait(origin, deadline, loop)
            if conn is not None:
                return conn, True

    def _take_idle(self, origin: Origin, now: float) -> Connection | None:
        idle = self._idle.get(origin)
        expiry = self._limits.keepalive_expiry
        while idle:
            conn = idle.pop()
            del self._idle_order[conn]
            if conn.is_reusable_idle(now, expiry):
                return conn
            conn.close()
            self._release_slot(conn)
        return None

    def _take_shared(self, origin: Origin, now: float) -> HTTP2Connection | None:
        conns = self._h2.get(origin)
        if not conns:
            return None
        expiry = self._limits.keepalive_expiry
        for conn in conns:
            if not conn.has_capacity():
                continue
            if not conn.reserved:
                if expiry is not None and now - conn.idle_since >= expiry:
                    self._idle_order.pop(conn, None)
                    conn.close()
                    continue
                self._idle_order.pop(conn, None)
            conn.reserved += 1
            return conn
        return None

    def _has_free_slot(self, origin: Origin) -> bool:
        limit = self._limits.max_connections
        if limit is not None and self._open >= limit:
            return False
        per_host = self._limits.max_connections_per_host
        return per_host is None or self._per_origin.get(origin, 0) < per_host

    def _evict_idle(self) -> bool:
        """Close the oldest idle connection (of any origin) to free a global slot."""
        limit = self._limits.max_connections
        if limit is None or self._open < limit or not self._idle_order:
            return False
        victim = next(iter(self._idle_order))
        self._remove_idle(victim)
        victim.close()
        self._release_slot(victim, wake=False)
        return True

    async def _open_connection(self, origin: Origin, timeout: Timeout) -> Connection:
        self._open += 1
        self._per_origin[origin] = self._per_origin.get(origin, 0) + 1
        gate = None
        shareable = self._shareable
        if shareable is not None and origin not in self._h1_origins and shareable(origin):
            gate = asyncio.get_running_loop().create_future()
            self._connecting[origin] = gate
        try:
            conn = await self._connect(self, origin, timeout)
        except BaseException:
            if gate is not None:
                self._open_gate(origin, gate)
            self._open -= 1
            left = self._per_origin[origin] - 1
            if left:
                self._per_origin[origin] = left
            else:
                del self._per_origin[origin]
            self._wake_one()
            raise
        if isinstance(conn, HTTP2Connection):
            self._h2.setdefault(origin, []).append(conn)
            conn.reserved += 1
            if gate is not None and not conn.settings_received:
                # Keep the others waiting until the server's SETTINGS say how many streams
                # it allows (the connection calls h2_ready), rather than guess.
                conn.gate = gate
                return conn
        elif gate is not None:
            if len(self._h1_origins) >= _MAX_H1_ORIGINS:
                self._h1_origins.clear()
            self._h1_origins.add(origin)
        if gate is not None:
            self._open_gate(origin, gate)
        return conn

    def h2_ready(self, conn: HTTP2Connection) -> None:
        """The server's first SETTINGS arrived (or the connection failed): open its gate."""
        gate = conn.gate
        if gate is not None:
            conn.gate = None
            self._open_gate(conn.origin, gate)

    def _open_gate(self, origin: Origin, gate: asyncio.Future[None]) -> None:
        if self._connecting.get(origin) is gate:
            del self._connecting[origin]
        if not gate.done():
            gate.set_result(None)

    async def _wait(
        self, origin: Origin, deadline: float | None, loop: asyncio.AbstractEventLoop
    ) -> Connection | None:
        future: asyncio.Future[Connection | None] = loop.create_future()
        waiter = _Waiter(origin, future)
        self._waiters.append(waiter)
        timer = None
        if deadline is not None:
            timer = loop.call_at(deadline, _expire, future)
        try:
            return await future
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if future.done() and not future.cancelled() and future.exception() is None:
                handed = future.result()
                if isinstance(handed, HTTP2Connection):
                    handed.cancel_reservation()
                elif handed is not None:
                    self.release(handed)
                else:
                    self._wake_one()
            raise
        finally:
            if timer is not None:
                timer.cancel()

    # -- giving back --------------------------------------------------------------------------

    def release(self, conn: HTTP11Connection) -> None:
        """A connection finished a request cleanly and can be reused."""
        if conn.is_closed or self._closed:
            conn.close()
            self._release_slot(conn)
            return
        for waiter in self._waiters:
            if waiter.origin == conn.origin and not waiter.future.done():
                self._waiters.remove(waiter)
                waiter.future.set_result(conn)
                return
        max_idle = self._limits.max_keepalive_connections
        if max_idle is not None and len(self._idle_order) >= max_idle:
            if max_idle == 0:
                conn.close()
                self._release_slot(conn)
                return
            oldest = next(iter(self._idle_order))
            self._remove_idle(oldest)
            oldest.close()
            self._release_slot(oldest, wake=False)
        self._idle.setdefault(conn.origin, []).append(conn)
        self._idle_order[conn] = None
        if self._waiters:
            # Someone waits for another origin; this idle connection can be evicted for it.
            self._wake_one()

    def discard(self, conn: Connection) -> None:
        """A connection closed or became unusable: free its slot."""
        if conn in self._idle_order:
            self._remove_idle(conn)
        if isinstance(conn, HTTP2Connection):
            self._forget_shared(conn)
            self.h2_ready(conn)
        self._release_slot(conn)

    # -- HTTP/2 streams -----------------------------------------------------------------------

    def stream_released(self, conn: HTTP2Connection) -> None:
        """A stream of a shared connection ended (or its limit grew): serve the waiters."""
        if conn.is_closed:
            self.discard(conn)
            return
        if self._waiters and conn.has_capacity():
            origin = conn.origin
            for waiter in list(self._waiters):
                if waiter.origin == origin and not waiter.future.done():
                    self._waiters.remove(waiter)
                    conn.reserved += 1
                    self._idle_order.pop(conn, None)
                    waiter.future.set_result(conn)
                    if not conn.has_capacity():
                        break
        if conn.reserved or conn in self._idle_order:
            return
        if self._closed or not conn.has_capacity():
            conn.close()
            return
        max_idle = self._limits.max_keepalive_connections
        if max_idle is not None and len(self._idle_order) >= max_idle:
            if max_idle == 0:
                conn.close()
                return
            oldest = next(iter(self._idle_order))
            self._remove_idle(oldest)
            oldest.close()
            if isinstance(oldest, HTTP2Connection):
                self._forget_shared(oldest)
            self._release_slot(oldest, wake=False)
        self._idle_order[conn] = None
        if self._waiters:
            self._wake_one()  # a waiter for another origin may evict it

    def connection_going_away(self, conn: HTTP2Connection) -> None:
        """GOAWAY: no new streams on ``conn``; its origin's waiters try again."""
        self._forget_shared(conn)
        self._idle_order.pop(conn, None)
        for waiter in list(self._waiters):
            if waiter.origin == conn.origin and not waiter.future.done():
                self._waiters.remove(waiter)
                waiter.future.set_result(None)

    def _forget_shared(self, conn: HTTP2Connection) -> None:
        conns = self._h2.get(conn.origin)
        if conns is not None and conn in conns:
            conns.remove(conn)
            if not conns:
                del self._h2[conn.origin]

    def _remove_idle(self, conn: Connection) -> None:
        del self._idle_order[conn]
        if conn.multiplexed:
            return
        idle = self._idle.get(conn.origin)
        if idle is not None and conn in idle:
            idle.remove(conn)

    def _release_slot(self, conn: Connection, *, wake: bool = True) -> None:
        if conn.slot_released:
            return
        conn.slot_released = True
        self._open -= 1
        left = self._per_origin[conn.origin] - 1
        if left:
            self._per_origin[conn.origin] = left
        else:
            del self._per_origin[conn.origin]
        if wake:
            self._wake_one()

    def _wake_one(self) -> None:
        """Let the first waiter try again (a slot or an evictable connection is free)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_result(None)
                return

    # -- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close idle and shared HTTP/2 connections, fail waiters, and wait (briefly) for the
        sockets to be really closed; HTTP/1.1 connections still carrying a streamed response
        close when that response is released."""
        self._closed = True
        closing: list[Connection] = []
        for conn in list(self._idle_order):
            self._remove_idle(conn)
            conn.close()
            closing.append(conn)
            if isinstance(conn, HTTP2Connection):
                self._forget_shared(conn)
            self._release_slot(conn, wake=False)
        for shared in [conn for conns in self._h2.values() for conn in conns]:
            self._forget_shared(shared)
            shared.close()
            closing.append(shared)
        for gate in list(self._connecting.values()):
            if not gate.done():
                gate.set_result(None)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(PoolTimeout("the client was closed"))
        if closing:
            await asyncio.gather(*(conn.wait_closed(CLOSE_WAIT) for conn in closing))

    def stats(self) -> dict[str, int]:
        """Counts of open, idle, active connections and waiting requests."""
        idle = len(self._idle_order)
        return {
            "open": self._open,
            "idle": idle,
            "active": self._open - idle,
            "waiting": len(self._waiters),
            "origins": len(self._per_origin),
        }


def _expire(future: asyncio.Future[Connection | None]) -> None:
    if not future.done():
        future.set_exception(PoolTimeout("no connection became available in time"))


async def _wait_gate(
    gate: asyncio.Future[None], deadline: float | None, loop: asyncio.AbstractEventLoop
) -> None:
    """Wait for the first connection to an origin to be set up, within the pool timeout."""
    if deadline is None:
        await asyncio.shield(gate)
        return
    remaining = deadline - loop.time()
    if remaining <= 0:
        raise PoolTimeout("no connection became available in time")
    try:
        await asyncio.wait_for(asyncio.shield(gate), remaining)
    except asyncio.TimeoutError:
        raise PoolTimeout("no connection became available in time") from None
