"""Error telemetry: per-host error counts and rates, plus hooks called on every attempt.

The retry loop (:func:`hyperhttp.errors.send_with_resilience`) calls, for every attempt,
:meth:`ErrorTelemetry.record_attempt`, and for every attempt that failed (an exception, or
a status that is an error: 5xx, 429, or one in the policy's ``status_force_list``)
:meth:`ErrorTelemetry.record_error`. These call the user hooks ``on_attempt(record)`` and
``on_error(record)`` with the :class:`~hyperhttp.errors.retry.AttemptRecord`; hooks may be
plain functions or coroutine functions. A hook that raises is logged (logger
``hyperhttp.errors.telemetry``) and ignored: telemetry never changes a request's outcome.

There is no background task: old data is dropped as new data arrives and when reports are
read, so nothing keeps running after the client closes. :meth:`aclose` (called by the client
on close) stops recording and drops the hooks.
"""

from __future__ import annotations

import collections
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .retry import AttemptRecord

__all__ = ["ErrorTelemetry", "TelemetryHook"]

logger = logging.getLogger("hyperhttp.errors.telemetry")

TelemetryHook = Callable[[AttemptRecord], Awaitable[None] | None]


class _DomainStats:
    __slots__ = ("attempts", "categories", "error_times", "recent", "status_codes", "total_errors")

    def __init__(self, max_recent: int) -> None:
        self.attempts = 0
        self.total_errors = 0
        self.categories: collections.Counter[str] = collections.Counter()
        self.status_codes: collections.Counter[int] = collections.Counter()
        self.error_times: collections.deque[float] = collections.deque()
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_recent)


class ErrorTelemetry:
    """Counts attempts and errors per ``host:port`` and calls the hooks.

    - ``on_attempt``: called after every attempt with its record.
    - ``on_error``: called after every failed attempt with its record.
    - ``retention``: seconds of error timestamps kept for :meth:`get_error_rate`.
    - ``max_domains``: hosts tracked at most (the oldest is dropped first).
    - ``clock``: time source (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        *,
        on_attempt: TelemetryHook | None = None,
        on_error: TelemetryHook | None = None,
        retention: float = 300.0,
        max_recent: int = 10,
        max_domains: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_attempt = on_attempt
        self.on_error = on_error
        self.retention = float(retention)
        self.max_recent = max_recent
        self.max_domains = max_domains
        self._clock = clock
        self._domains: dict[str, _DomainStats] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._closed

    def _stats(self, domain: str) -> _DomainStats:
        stats = self._domains.get(domain)
        if stats is None:
            if len(self._domains) >= self.max_domains:
                del self._domains[next(iter(self._domains))]
            stats = self._domains[domain] = _DomainStats(self.max_recent)
        return stats

    def _expire(self, stats: _DomainStats, now: float) -> None:
        horizon = now - self.retention
        times = stats.error_times
        while times and times[0] < horizon:
            times.popleft()

    async def _call(self, hook: TelemetryHook | None, record: AttemptRecord) -> None:
        if hook is None:
            return
        try:
            result = hook(record)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("telemetry hook %r raised; ignored", hook)

    async def record_attempt(self, domain: str, record: AttemptRecord) -> None:
        """Count one attempt and call ``on_attempt``."""
        if self._closed:
            return
        self._stats(domain).attempts += 1
        await self._call(self.on_attempt, record)

    async def record_error(
        self,
        domain: str,
        error_category: str,
        response: Any = None,
        *,
        record: AttemptRecord | None = None,
    ) -> None:
        """Count one error (hyperhttp 2.x signature) and call ``on_error`` with ``record``."""
        if self._closed:
            return
        now = self._clock()
        stats = self._stats(domain)
        stats.total_errors += 1
        stats.categories[error_category] += 1
        status = getattr(response, "status_code", None)
        if status is None and record is not None:
            status = record.status_code
        if isinstance(status, int):
            stats.status_codes[status] += 1
        stats.error_times.append(now)
        self._expire(stats, now)
        stats.recent.append(
            {
                "time": now,
                "category": error_category,
                "status_code": status,
                "exception": (
                    type(record.exception).__name__
                    if record is not None and record.exception is not None
                    else None
                ),
            }
        )
        if record is not None:
            await self._call(self.on_error, record)

    async def get_error_rate(self, domain: str, window_seconds: float = 60.0) -> float:
        """Errors per second for ``domain`` over the last ``window_seconds``."""
        stats = self._domains.get(domain)
        if stats is None or window_seconds <= 0:
            return 0.0
        now = self._clock()
        self._expire(stats, now)
        horizon = now - window_seconds
        count = sum(1 for t in stats.error_times if t >= horizon)
        return count / window_seconds

    async def get_domain_report(self, domain: str) -> dict[str, Any] | None:
        """Counters for ``domain``, or ``None`` if nothing was recorded for it."""
        stats = self._domains.get(domain)
        if stats is None:
            return None
        return {
            "domain": domain,
            "attempts": stats.attempts,
            "total_errors": stats.total_errors,
            "categories": dict(stats.categories),
            "status_codes": dict(stats.status_codes),
            "error_rate": await self.get_error_rate(domain),
            "recent_errors": list(stats.recent),
        }

    async def get_all_domains(self) -> list[str]:
        """Every ``host:port`` with recorded data."""
        return list(self._domains)

    async def get_global_stats(self) -> dict[str, Any]:
        """Totals over all hosts."""
        categories: collections.Counter[str] = collections.Counter()
        attempts = errors = 0
        for stats in self._domains.values():
            categories.update(stats.categories)
            attempts += stats.attempts
            errors += stats.total_errors
        return {
            "domains": len(self._domains),
            "attempts": attempts,
            "total_errors": errors,
            "categories": dict(categories),
        }

    async def aclose(self) -> None:
        """Stop recording and drop the hooks. Idempotent; the collected data stays readable."""
        self._closed = True
        self.on_attempt = None
        self.on_error = None
