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
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .._config import Limits, Timeout
from .._exceptions import PoolTimeout

if TYPE_CHECKING:
    from ._h1_connection import HTTP11Connection

__all__ = ["ConnectionPool", "Origin"]

Origin = tuple[str, str, int]


class _Waiter:
    __slots__ = ("future", "origin")

    def __init__(self, origin: Origin, future: asyncio.Future[HTTP11Connection | None]) -> None:
        self.origin = origin
        self.future = future


class ConnectionPool:
    """Connection slots, idle connections and the queue of requests waiting for them."""

    def __init__(
        self,
        limits: Limits,
        connect: Callable[[ConnectionPool, Origin, Timeout], Awaitable[HTTP11Connection]],
    ) -> None:
        self._limits = limits
        self._connect = connect
        self._idle: dict[Origin, list[HTTP11Connection]] = {}
        # Every idle connection, oldest first (dicts keep insertion order): the eviction scan.
        self._idle_order: dict[HTTP11Connection, None] = {}
        self._open = 0
        self._per_origin: dict[Origin, int] = {}
        self._waiters: deque[_Waiter] = deque()
        self._closed = False

    # -- acquiring ----------------------------------------------------------------------------

    async def acquire(self, origin: Origin, timeout: Timeout) -> tuple[HTTP11Connection, bool]:
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
            if self._has_free_slot(origin) or self._evict_idle():
                return await self._open_connection(origin, timeout), False
            conn = await self._wait(origin, deadline, loop)
            if conn is not None:
                return conn, True

    def _take_idle(self, origin: Origin, now: float) -> HTTP11Connection | None:
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

    async def _open_connection(self, origin: Origin, timeout: Timeout) -> HTTP11Connection:
        self._open += 1
        self._per_origin[origin] = self._per_origin.get(origin, 0) + 1
        try:
            conn = await self._connect(self, origin, timeout)
        except BaseException:
            self._open -= 1
            left = self._per_origin[origin] - 1
            if left:
                self._per_origin[origin] = left
            else:
                del self._per_origin[origin]
            self._wake_one()
            raise
        return conn

    async def _wait(
        self, origin: Origin, deadline: float | None, loop: asyncio.AbstractEventLoop
    ) -> HTTP11Connection | None:
        future: asyncio.Future[HTTP11Connection | None] = loop.create_future()
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
                if handed is not None:
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

    def discard(self, conn: HTTP11Connection) -> None:
        """A connection closed or became unusable: free its slot."""
        if conn in self._idle_order:
            self._remove_idle(conn)
        self._release_slot(conn)

    def _remove_idle(self, conn: HTTP11Connection) -> None:
        del self._idle_order[conn]
        idle = self._idle.get(conn.origin)
        if idle is not None and conn in idle:
            idle.remove(conn)

    def _release_slot(self, conn: HTTP11Connection, *, wake: bool = True) -> None:
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
        """Close idle connections and fail waiters; active ones close when released."""
        self._closed = True
        for conn in list(self._idle_order):
            self._remove_idle(conn)
            conn.close()
            self._release_slot(conn, wake=False)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(PoolTimeout("the client was closed"))

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


def _expire(future: asyncio.Future[HTTP11Connection | None]) -> None:
    if not future.done():
        future.set_exception(PoolTimeout("no connection became available in time"))
