"""Per-host rate limiting: a token bucket per ``host:port``, as GCRA (virtual scheduling).

Each host has a *theoretical arrival time* (TAT): the moment its bucket would be full again.
A request at ``now`` may go at once if ``TAT - now`` is within the burst allowance, else it
waits for the difference; either way TAT advances by one interval. That is a token bucket of
``burst`` tokens refilled at ``rate`` per second, in O(1) per request with one float per
host, and requests are served in the order they arrived (each reserves its slot before it
sleeps). A cancelled waiter's slot is not given back: the limiter errs on the slow side.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["MAX_RATE_LIMITED_HOSTS", "RateLimit", "RateLimiter"]

# Hosts remembered at once; the least recently used is forgotten (its bucket starts full
# again), so a crawler touching millions of hosts keeps constant memory.
MAX_RATE_LIMITED_HOSTS: Final = 10_000


class RateLimit:
    """At most ``rate`` requests per second to each host, with bursts of up to ``burst``.

    ``Client(rate_limit=RateLimit(10))``: ten requests a second per ``host:port``, no burst
    beyond one. ``RateLimit(10, burst=20)``: up to 20 at once after a quiet spell, then ten a
    second. Every network attempt counts: redirect hops, retries and auth rounds.
    """

    __slots__ = ("burst", "rate")

    def __init__(self, rate: float, *, burst: int = 1) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError("rate must be a number of requests per second")
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be a positive number of requests per second, not {rate}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be an int >= 1, not {burst!r}")
        self.rate = float(rate)
        self.burst = burst

    def __repr__(self) -> str:
        return f"RateLimit({self.rate:g}, burst={self.burst})"


class RateLimiter:
    """Applies a :class:`RateLimit` per host. ``clock``/``sleep`` are injectable for tests."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self._interval = 1.0 / limit.rate
        self._tolerance = (limit.burst - 1) * self._interval
        self._tat: OrderedDict[str, float] = OrderedDict()
        self._clock = clock
        self._sleep = sleep

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def delay_for(self, host: str) -> float:
        """Reserve the next slot for ``host``; return how long to wait for it."""
        now = self._now()
        tat = self._tat.pop(host, now)
        start = max(tat, now)
        self._tat[host] = start + self._interval
        if len(self._tat) > MAX_RATE_LIMITED_HOSTS:
            self._tat.popitem(last=False)
        return max(0.0, start - self._tolerance - now)

    async def acquire(self, host: str) -> None:
        """Wait until a request to ``host`` may go."""
        delay = self.delay_for(host)
        if delay > 0:
            await self._sleep(delay)
