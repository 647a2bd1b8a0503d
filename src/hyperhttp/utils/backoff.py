"""Backoff strategies: how long to wait before retry number ``n``.

Every strategy answers ``calculate_backoff(retry_count)`` (``retry_count`` is 0 for the wait
before the first retry) with a delay in seconds, never negative and never above its
``max_backoff``. Randomness comes from ``rng`` (a :class:`random.Random`; pass a seeded one in
tests). A strategy never sleeps itself: the retry loop sleeps through an injectable function.

Per-request state: the retry loop calls :meth:`BackoffStrategy.new_state` once per request and
uses what it returns, so a strategy that remembers its previous delay
(:class:`DecorrelatedJitterBackoff`) keeps that memory per request, never across concurrent
requests. :class:`AdaptiveBackoff` is deliberately shared: it reacts to how often errors
happen across all requests that use it.
"""

from __future__ import annotations

import abc
import collections
import copy
import math
import random
import time
from collections.abc import Callable

__all__ = [
    "AdaptiveBackoff",
    "BackoffStrategy",
    "ConstantBackoff",
    "DecorrelatedJitterBackoff",
    "ExponentialBackoff",
]


def _check_non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _power(base: float, factor: float, exponent: int, cap: float) -> float:
    """``base * factor ** exponent`` clamped to ``cap``, without OverflowError."""
    try:
        value = base * factor**exponent
    except OverflowError:
        return cap
    return min(value, cap)


class BackoffStrategy(abc.ABC):
    """Base class: subclass and implement :meth:`calculate_backoff`."""

    max_backoff: float = 60.0

    @abc.abstractmethod
    def calculate_backoff(self, retry_count: int) -> float:
        """Seconds to wait before retry ``retry_count + 1`` (``retry_count`` starts at 0)."""

    def new_state(self) -> BackoffStrategy:
        """The object to use for one request. Stateless strategies return ``self``."""
        return self

    def record_success(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Called by the retry loop when a request ends well. Does nothing by default."""


class ConstantBackoff(BackoffStrategy):
    """The same delay before every retry."""

    def __init__(self, delay: float = 0.5) -> None:
        self.delay = _check_non_negative("delay", delay)
        self.max_backoff = self.delay

    def calculate_backoff(self, retry_count: int) -> float:
        """``delay``."""
        return self.delay

    def __repr__(self) -> str:
        return f"ConstantBackoff(delay={self.delay!r})"


class ExponentialBackoff(BackoffStrategy):
    """``min(max_backoff, base * factor ** retry_count)``.

    With ``jitter=True`` the delay is drawn uniformly from ``[d/2, d]`` where ``d`` is that
    value, so concurrent clients spread out while the wait stays bounded on both sides.
    """

    def __init__(
        self,
        base: float = 0.5,
        factor: float = 2.0,
        max_backoff: float = 60.0,
        jitter: bool = True,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.base = _check_non_negative("base", base)
        self.factor = _check_non_negative("factor", factor)
        self.max_backoff = _check_non_negative("max_backoff", max_backoff)
        self.jitter = bool(jitter)
        self._rng = rng if rng is not None else random.Random()

    def calculate_backoff(self, retry_count: int) -> float:
        """See the class docstring."""
        delay = _power(self.base, self.factor, max(0, retry_count), self.max_backoff)
        if self.jitter and delay > 0:
            delay = self._rng.uniform(delay / 2, delay)
        return min(delay, self.max_backoff)

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoff(base={self.base!r}, factor={self.factor!r}, "
            f"max_backoff={self.max_backoff!r}, jitter={self.jitter!r})"
        )


class DecorrelatedJitterBackoff(BackoffStrategy):
    """ "Decorrelated jitter": each delay is drawn from ``[base, 3 * previous]``.

    The first delay of a request is drawn from ``[base, 3 * base]``; the upper end of the
    range is limited by ``jitter_cap`` (default ``max_backoff``) and the result by
    ``max_backoff``. The previous delay is per request (see the module docstring):
    ``calculate_backoff(0)`` also starts over, so even a shared instance used for one request
    at a time behaves.
    """

    def __init__(
        self,
        base: float = 0.5,
        max_backoff: float = 60.0,
        jitter_cap: float | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.base = _check_non_negative("base", base)
        self.max_backoff = _check_non_negative("max_backoff", max_backoff)
        cap = self.max_backoff if jitter_cap is None else jitter_cap
        self.jitter_cap = _check_non_negative("jitter_cap", cap)
        self._rng = rng if rng is not None else random.Random()
        self.previous_backoff = self.base

    def calculate_backoff(self, retry_count: int) -> float:
        """See the class docstring."""
        if retry_count <= 0:
            self.previous_backoff = self.base
        high = min(self.jitter_cap, self.previous_backoff * 3)
        low = min(self.base, high)
        delay = min(self.max_backoff, self._rng.uniform(low, high))
        self.previous_backoff = max(delay, self.base)
        return delay

    def new_state(self) -> DecorrelatedJitterBackoff:
        """A copy with its own previous delay (it shares the random generator)."""
        state = copy.copy(self)
        state.previous_backoff = self.base
        return state

    def __repr__(self) -> str:
        return (
            f"DecorrelatedJitterBackoff(base={self.base!r}, max_backoff={self.max_backoff!r}, "
            f"jitter_cap={self.jitter_cap!r})"
        )


class AdaptiveBackoff(BackoffStrategy):
    """Exponential backoff that waits longer while errors are frequent.

    Every call records an error time (``clock``, default :func:`time.monotonic`) in a window of
    the last ``window_size`` errors. The delay is
    ``min(max_backoff, base * 2 ** retry_count * (1 + min(rate, 9)))`` where ``rate`` is the
    observed errors per second in the window: at most 10x the plain exponential delay.
    :meth:`record_success` forgets the oldest error, so the delay relaxes as requests succeed.
    This state is shared on purpose (``new_state()`` returns ``self``).
    """

    MAX_MULTIPLIER = 10.0

    def __init__(
        self,
        base: float = 0.5,
        max_backoff: float = 60.0,
        window_size: int = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = _check_non_negative("base", base)
        self.max_backoff = _check_non_negative("max_backoff", max_backoff)
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 2:
            raise ValueError("window_size must be an int >= 2")
        self.window_size = window_size
        self._clock = clock
        self.error_history: collections.deque[float] = collections.deque(maxlen=window_size)

    def error_rate(self) -> float:
        """Errors per second over the current window (0 with fewer than two errors)."""
        if len(self.error_history) < 2:
            return 0.0
        span = self.error_history[-1] - self.error_history[0]
        if span <= 0:
            return math.inf
        return (len(self.error_history) - 1) / span

    def calculate_backoff(self, retry_count: int) -> float:
        """See the class docstring."""
        self.error_history.append(self._clock())
        multiplier = 1.0 + min(self.error_rate(), self.MAX_MULTIPLIER - 1.0)
        delay = _power(self.base, 2.0, max(0, retry_count), self.max_backoff)
        return min(self.max_backoff, delay * multiplier)

    def record_success(self) -> None:
        """Forget the oldest recorded error."""
        if self.error_history:
            self.error_history.popleft()

    def __repr__(self) -> str:
        return (
            f"AdaptiveBackoff(base={self.base!r}, max_backoff={self.max_backoff!r}, "
            f"window_size={self.window_size!r})"
        )
