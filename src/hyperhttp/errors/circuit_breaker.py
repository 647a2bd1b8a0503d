"""Circuit breakers: stop calling a host that keeps failing, then probe it carefully.

One :class:`CircuitBreaker` per ``host:port`` (kept by :class:`DomainCircuitBreakerManager`).

- **CLOSED**: requests flow. ``failure_threshold`` consecutive failures open it; any
  success resets the count.
- **OPEN**: requests fail at once with :class:`hyperhttp.CircuitBreakerOpen` (``.host``,
  ``.remaining`` seconds) without touching the network, for ``recovery_timeout`` seconds.
- **HALF_OPEN**: at most ``half_open_max_calls`` probe requests at a time; others are
  rejected. ``success_threshold`` successful probes close it; one failed probe re-opens it.

A *failure* is an error whose category is in ``tracked_categories`` (default: CONNECTION,
DNS, TLS, TIMEOUT, SERVER -- connect errors, timeouts, and 5xx responses; ``PoolTimeout``
never counts, the pool being local) or a 5xx response (429 too if RATE_LIMIT is tracked).
Any other response is a success; other errors are neutral. The breaker never retries
anything: that is :class:`~hyperhttp.errors.retry.RetryPolicy`'s job, and each works without
the other. Time comes from ``clock`` (default :func:`time.monotonic`), injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .._exceptions import CircuitBreakerOpen, HyperHTTPError, PoolTimeout
from .classifier import DEFAULT_BREAKER_CATEGORIES, RATE_LIMIT, SERVER, ErrorClassifier

if TYPE_CHECKING:
    from .._models import Request
    from .._urls import URL

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerOpen",
    "CircuitBreakerOpenError",
    "CircuitBreakerState",
    "DomainCircuitBreakerManager",
    "Permit",
    "breaker_key",
]

_T = TypeVar("_T")

#: hyperhttp 2.x name of :class:`hyperhttp.CircuitBreakerOpen`.
CircuitBreakerOpenError = CircuitBreakerOpen

_CONFIG_KEYS: Final = frozenset(
    {
        "failure_threshold",
        "recovery_timeout",
        "success_threshold",
        "half_open_max_calls",
        "tracked_categories",
    }
)


class CircuitBreakerState:
    """The three states, as strings."""

    CLOSED: Final = "CLOSED"
    OPEN: Final = "OPEN"
    HALF_OPEN: Final = "HALF_OPEN"


def breaker_key(url: URL) -> str:
    """``host:port`` of ``url`` (IPv6 hosts in brackets), the key breakers are kept under."""
    host = url.host
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{url.port_or_default}"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _categories(value: Iterable[str] | None) -> frozenset[str]:
    if value is None:
        return DEFAULT_BREAKER_CATEGORIES
    if isinstance(value, str):
        raise TypeError("tracked_categories must be a collection of category names")
    return frozenset(c.upper() for c in value)


class Permit:
    """Permission to send one request, from :meth:`CircuitBreaker.acquire`.

    Settle it exactly once with :meth:`success`, :meth:`failure` or :meth:`release`
    (neutral); later calls do nothing. A permit from before a state change only updates the
    totals, never the state.
    """

    __slots__ = ("_breaker", "_generation", "_settled", "probe")

    def __init__(self, breaker: CircuitBreaker, generation: int, probe: bool) -> None:
        self._breaker = breaker
        self._generation = generation
        self._settled = False
        self.probe = probe

    def success(self) -> None:
        """The request went well."""
        if not self._settled:
            self._settled = True
            self._breaker._on_success(self._generation, self.probe)

    def failure(self) -> None:
        """The request failed in a way the breaker counts."""
        if not self._settled:
            self._settled = True
            self._breaker._on_failure(self._generation, self.probe)

    def release(self) -> None:
        """The request ended without a verdict (a neutral error, cancellation)."""
        if not self._settled:
            self._settled = True
            self._breaker._on_release(self._generation, self.probe)

    def record_error(self, error: BaseException) -> bool:
        """Settle by an exception: failure if it counts, else neutral. Returns "counted"."""
        if self._breaker.counts_error(error):
            self.failure()
            return True
        self.release()
        return False

    def record_status(self, status_code: int) -> bool:
        """Settle by a response status: failure if it counts, else success."""
        if self._breaker.counts_status(status_code):
            self.failure()
            return True
        self.success()
        return False


class CircuitBreaker:
    """The breaker for one host. See the module docstring for the states."""

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        success_threshold: int = 2,
        tracked_categories: Iterable[str] | None = None,
        *,
        half_open_max_calls: int = 1,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._clock = clock
        self.failure_threshold = 5
        self.recovery_timeout = 30.0
        self.success_threshold = 2
        self.half_open_max_calls = 1
        self.tracked_categories = DEFAULT_BREAKER_CATEGORIES
        self.configure(
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_timeout,
            success_threshold=success_threshold,
            half_open_max_calls=half_open_max_calls,
            tracked_categories=tracked_categories,
        )
        self._state: str = CircuitBreakerState.CLOSED
        self._generation = 0
        self._failures = 0  # consecutive, while CLOSED
        self._successes = 0  # successful probes, while HALF_OPEN
        self._in_flight = 0  # probes, while HALF_OPEN
        self._opened_at = 0.0
        self.total_successes = 0
        self.total_failures = 0
        self.rejected = 0
        self.times_opened = 0

    def configure(self, **config: Any) -> None:
        """Change thresholds (the keys of the constructor); the current state is kept."""
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise TypeError(f"unknown circuit breaker option(s): {', '.join(sorted(unknown))}")
        if "failure_threshold" in config:
            self.failure_threshold = _positive_int("failure_threshold", config["failure_threshold"])
        if "recovery_timeout" in config:
            self.recovery_timeout = _seconds("recovery_timeout", config["recovery_timeout"])
        if "success_threshold" in config:
            self.success_threshold = _positive_int("success_threshold", config["success_threshold"])
        if "half_open_max_calls" in config:
            self.half_open_max_calls = _positive_int(
                "half_open_max_calls", config["half_open_max_calls"]
            )
        if "tracked_categories" in config:
            self.tracked_categories = _categories(config["tracked_categories"])

    # -- state ---------------------------------------------------------------------------------

    def _refresh(self) -> None:
        if (
            self._state == CircuitBreakerState.OPEN
            and self._clock() - self._opened_at >= self.recovery_timeout
        ):
            self._set_state(CircuitBreakerState.HALF_OPEN)

    def _set_state(self, state: str) -> None:
        self._state = state
        self._generation += 1
        self._failures = 0
        self._successes = 0
        self._in_flight = 0
        if state == CircuitBreakerState.OPEN:
            self._opened_at = self._clock()
            self.times_opened += 1

    @property
    def state(self) -> str:
        """CLOSED, OPEN or HALF_OPEN (OPEN turns HALF_OPEN once recovery_timeout passed)."""
        self._refresh()
        return self._state

    @property
    def failure_count(self) -> int:
        """Consecutive failures counted while CLOSED."""
        return self._failures

    @property
    def remaining(self) -> float:
        """Seconds until an OPEN breaker lets a probe through (0 otherwise)."""
        if self.state != CircuitBreakerState.OPEN:
            return 0.0
        return max(0.0, self.recovery_timeout - (self._clock() - self._opened_at))

    # -- decisions -----------------------------------------------------------------------------

    def counts_error(self, error: BaseException) -> bool:
        """Whether ``error`` is a failure for this breaker."""
        if not isinstance(error, HyperHTTPError) or isinstance(error, PoolTimeout):
            return False
        return ErrorClassifier.categorize(error) in self.tracked_categories

    def counts_status(self, status_code: int) -> bool:
        """Whether a response with ``status_code`` is a failure (5xx; 429 if RATE_LIMIT)."""
        if 500 <= status_code <= 599:
            return SERVER in self.tracked_categories
        return status_code == 429 and RATE_LIMIT in self.tracked_categories

    def acquire(self, request: Request | None = None) -> Permit:
        """A :class:`Permit` to send, or :class:`hyperhttp.CircuitBreakerOpen`."""
        self._refresh()
        state = self._state
        if state == CircuitBreakerState.CLOSED:
            return Permit(self, self._generation, False)
        if state == CircuitBreakerState.HALF_OPEN and self._in_flight < self.half_open_max_calls:
            self._in_flight += 1
            return Permit(self, self._generation, True)
        self.rejected += 1
        remaining = self.remaining
        where = self.name or "this host"
        if state == CircuitBreakerState.OPEN:
            message = f"circuit breaker for {where} is open; {remaining:.1f}s left"
        else:
            message = f"circuit breaker for {where} is half-open; probe in progress"
        raise CircuitBreakerOpen(message, host=self.name, remaining=remaining, request=request)

    def _on_success(self, generation: int, probe: bool) -> None:
        self.total_successes += 1
        if generation != self._generation:
            return
        if self._state == CircuitBreakerState.CLOSED:
            self._failures = 0
        elif self._state == CircuitBreakerState.HALF_OPEN:
            if probe:
                self._in_flight -= 1
            self._successes += 1
            if self._successes >= self.success_threshold:
                self._set_state(CircuitBreakerState.CLOSED)

    def _on_failure(self, generation: int, probe: bool) -> None:
        self.total_failures += 1
        if generation != self._generation:
            return
        if self._state == CircuitBreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._set_state(CircuitBreakerState.OPEN)
        elif self._state == CircuitBreakerState.HALF_OPEN:
            self._set_state(CircuitBreakerState.OPEN)

    def _on_release(self, generation: int, probe: bool) -> None:
        if not probe or generation != self._generation:
            return
        if self._state == CircuitBreakerState.HALF_OPEN:
            self._in_flight -= 1

    def record_success(self) -> None:
        """Record a success without a permit (for manual use)."""
        self._refresh()
        self._on_success(self._generation, False)

    def record_failure(self) -> None:
        """Record a failure without a permit (for manual use)."""
        self._refresh()
        self._on_failure(self._generation, False)

    def reset(self) -> None:
        """Back to CLOSED with no failures counted."""
        self._set_state(CircuitBreakerState.CLOSED)

    async def execute(
        self, coro_func: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any
    ) -> _T:
        """Run ``await coro_func(*args, **kwargs)`` through the breaker (hyperhttp 2.x API)."""
        permit = self.acquire()
        try:
            result = await coro_func(*args, **kwargs)
        except BaseException as exc:
            permit.record_error(exc)
            raise
        status = getattr(result, "status_code", None)
        if isinstance(status, int):
            permit.record_status(status)
        else:
            permit.success()
        return result

    def stats(self) -> dict[str, Any]:
        """A snapshot: state, counters and configuration."""
        return {
            "state": self.state,
            "failure_count": self._failures,
            "success_count": self._successes,
            "probes_in_flight": self._in_flight,
            "remaining": self.remaining,
            "total_failures": self.total_failures,
            "total_successes": self.total_successes,
            "rejected": self.rejected,
            "times_opened": self.times_opened,
            "failure_threshold": self.failure_threshold,
            "recovery_timeout": self.recovery_timeout,
            "success_threshold": self.success_threshold,
            "half_open_max_calls": self.half_open_max_calls,
            "tracked_categories": sorted(self.tracked_categories),
        }

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name or '?'} {self.state} failures={self._failures}>"


class _Applied:
    """Returned by ``configure_domain``: already applied, and awaitable for 2.x code."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


class DomainCircuitBreakerManager:
    """One :class:`CircuitBreaker` per ``host:port``, created on first use.

    The keyword arguments are the defaults for every breaker; ``default_config`` (a dict with
    the same keys, the hyperhttp 2.x way) overrides them. :meth:`configure_domain` sets
    options for one ``host:port`` or for every port of a ``host``. At most ``max_domains``
    breakers are kept; beyond that the oldest healthy ones are forgotten first.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        success_threshold: int = 2,
        *,
        half_open_max_calls: int = 1,
        tracked_categories: Iterable[str] | None = None,
        default_config: dict[str, Any] | None = None,
        max_domains: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        config: dict[str, Any] = {
            "failure_threshold": failure_threshold,
            "recovery_timeout": recovery_timeout,
            "success_threshold": success_threshold,
            "half_open_max_calls": half_open_max_calls,
            "tracked_categories": tracked_categories,
        }
        if default_config is not None:
            config.update(default_config)
        CircuitBreaker(clock=clock).configure(**config)  # validates
        self._default_config = config
        self._domain_configs: dict[str, dict[str, Any]] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self.max_domains = _positive_int("max_domains", max_domains)
        self._clock = clock

    @property
    def default_config(self) -> dict[str, Any]:
        """The options new breakers start with (a copy)."""
        return dict(self._default_config)

    def _config_for(self, key: str) -> dict[str, Any]:
        config = dict(self._default_config)
        host = key.rpartition(":")[0] if key.rpartition(":")[2].isdigit() else key
        config.update(self._domain_configs.get(host.strip("[]"), {}))
        config.update(self._domain_configs.get(host, {}))
        config.update(self._domain_configs.get(key, {}))
        return config

    def get(self, key: str) -> CircuitBreaker:
        """The breaker for ``key`` (``host:port``, see :func:`breaker_key`), created if new."""
        breaker = self._breakers.get(key)
        if breaker is None:
            if len(self._breakers) >= self.max_domains:
                self._evict()
            breaker = CircuitBreaker(name=key, clock=self._clock, **self._config_for(key))
            self._breakers[key] = breaker
        return breaker

    def _evict(self) -> None:
        victim = next(iter(self._breakers))
        for key, breaker in self._breakers.items():
            if breaker._state == CircuitBreakerState.CLOSED and breaker._failures == 0:
                victim = key
                break
        del self._breakers[victim]

    def for_request(self, request: Request) -> CircuitBreaker:
        """The breaker for the request's ``host:port``."""
        return self.get(breaker_key(request.url))

    def acquire(self, request: Request) -> Permit:
        """A permit for ``request``, or :class:`hyperhttp.CircuitBreakerOpen`."""
        return self.for_request(request).acquire(request)

    async def get_circuit_breaker(self, domain: str) -> CircuitBreaker:
        """hyperhttp 2.x: the breaker for ``domain`` (use :meth:`get` in new code)."""
        return self.get(domain)

    def configure_domain(self, domain: str, **config: Any) -> _Applied:
        """Options for one ``host:port`` or every port of ``host``; applied at once (existing
        breakers keep their state). The result may be awaited, as in hyperhttp 2.x."""
        CircuitBreaker(clock=self._clock).configure(**config)  # validates
        self._domain_configs.setdefault(domain, {}).update(config)
        for key, breaker in self._breakers.items():
            if key == domain or key.rpartition(":")[0].strip("[]") == domain.strip("[]"):
                breaker.configure(**self._config_for(key))
        return _Applied()

    async def execute(
        self, domain: str, coro_func: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any
    ) -> _T:
        """hyperhttp 2.x: run a coroutine function through ``domain``'s breaker."""
        return await self.get(domain).execute(coro_func, *args, **kwargs)

    def reset(self, domain: str | None = None) -> None:
        """Close one breaker (or all of them)."""
        breakers = self._breakers.values() if domain is None else [self.get(domain)]
        for breaker in breakers:
            breaker.reset()

    def get_stats(self) -> dict[str, dict[str, Any]]:
        """``{host:port: breaker.stats()}`` for every breaker."""
        return {key: breaker.stats() for key, breaker in self._breakers.items()}
