"""Retry configuration: :class:`RetryPolicy`, the attempt history and ``Retry-After`` parsing.

The loop that applies a policy is :func:`hyperhttp.errors.send_with_resilience`; this module
only decides (which errors and statuses, which methods, how long to wait). See
``docs/resilience.md`` for the full rules.
"""

from __future__ import annotations

import calendar
import datetime
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    HyperHTTPError,
    PoolTimeout,
    RetryError,
)
from ..utils.backoff import BackoffStrategy, ExponentialBackoff
from .classifier import DEFAULT_RETRY_CATEGORIES, ErrorClassifier

if TYPE_CHECKING:
    from .._models import Request, Response

__all__ = [
    "DEFAULT_ALLOWED_METHODS",
    "DEFAULT_RETRY_AFTER_MAX",
    "DEFAULT_RETRY_AFTER_STATUS_CODES",
    "DEFAULT_STATUS_FORCE_LIST",
    "AttemptRecord",
    "RetryError",
    "RetryPolicy",
    "coerce_retry",
    "parse_retry_after",
]

#: RFC 9110 §9.2.2 idempotent methods (POST and PATCH are not retried by default).
DEFAULT_ALLOWED_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
DEFAULT_STATUS_FORCE_LIST: Final = (429, 500, 502, 503, 504)
#: Statuses whose ``Retry-After`` is honoured by default (as urllib3).
DEFAULT_RETRY_AFTER_STATUS_CODES: Final = frozenset({413, 429, 503})
#: The longest ``Retry-After`` wait honoured: 6 hours. Longer values are capped to it.
DEFAULT_RETRY_AFTER_MAX: Final = 6 * 3600.0
#: Requests carrying one of these headers are safe to retry whatever their method.
DEFAULT_IDEMPOTENCY_KEY_HEADERS: Final = ("Idempotency-Key", "X-Idempotency-Key")

# Errors raised before any byte of the request could reach the server.
_CONNECT_PHASE: Final = (ConnectError, ConnectTimeout, PoolTimeout)


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt in a retry history (immutable).

    ``attempt`` counts from 1. Exactly one of ``exception`` / ``status_code`` is set.
    ``delay`` is the wait before the next attempt, ``None`` when no attempt followed.
    ``note`` says why the loop stopped when it stopped early (method not allowed, body not
    replayable, ...), else is empty.
    """

    attempt: int
    method: str
    url: str
    exception: BaseException | None = None
    status_code: int | None = None
    category: str | None = None
    delay: float | None = None
    note: str = ""

    @property
    def retried(self) -> bool:
        """Whether another attempt followed this one."""
        return self.delay is not None


# -- Retry-After --------------------------------------------------------------------------------

_OWS = " \t"
_MAX_SECONDS_DIGITS = 15
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
_MONTH = "(" + "|".join(_MONTHS) + ")"
_IMF_FIXDATE = re.compile(
    r"(" + "|".join(_WEEKDAYS) + r"), ([0-9]{2}) " + _MONTH + r" ([0-9]{4}) " + _TIME + r" GMT",
    re.ASCII,
)
_RFC850 = re.compile(
    r"("
    + "|".join(_LONG_WEEKDAYS)
    + r"), ([0-9]{2})-"
    + _MONTH
    + r"-([0-9]{2}) "
    + _TIME
    + r" GMT",
    re.ASCII,
)
_ASCTIME = re.compile(
    r"(" + "|".join(_WEEKDAYS) + r") " + _MONTH + r" ([0-9 ][0-9]) " + _TIME + r" ([0-9]{4})",
    re.ASCII,
)


def _timestamp(year: int, month: str, day: str, hh: str, mm: str, ss: str) -> float | None:
    try:
        moment = datetime.datetime(
            year, _MONTHS.index(month) + 1, int(day), int(hh), int(mm), int(ss)
        )
    except ValueError:
        return None
    return float(calendar.timegm(moment.timetuple()))


def parse_http_date(value: str, *, now: float | None = None) -> float | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime; RFC 9110 §5.6.7) as a UTC timestamp.

    Time zones never matter: the formats are GMT by definition. RFC 850's two-digit year is
    read as the most recent matching year not more than 50 years ahead of ``now``.
    Returns ``None`` for anything else.
    """
    match = _IMF_FIXDATE.fullmatch(value)
    if match is not None:
        _, day, month, year, hh, mm, ss = match.groups()
        return _timestamp(int(year), month, day, hh, mm, ss)
    match = _RFC850.fullmatch(value)
    if match is not None:
        _, day, month, short_year, hh, mm, ss = match.groups()
        current = time.gmtime(time.time() if now is None else now).tm_year
        year = current - current % 100 + int(short_year)
        if year > current + 50:
            year -= 100
        return _timestamp(year, month, day, hh, mm, ss)
    match = _ASCTIME.fullmatch(value)
    if match is not None:
        _, month, day, hh, mm, ss, year = match.groups()
        if day.startswith(" "):
            day = day[1:]
        return _timestamp(int(year), month, day, hh, mm, ss)
    return None


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or ``None`` if it is invalid.

    Delay-seconds are ASCII digits only, with optional surrounding spaces/tabs (``-1``,
    ``+1``, ``1.0``, ``1e3`` and non-ASCII digits are invalid); absurdly long numbers come
    back as ``inf`` (the caller caps). An HTTP-date gives its distance from ``now``
    (default: the current time), 0 if it is in the past. The result is never negative and
    never raises.
    """
    value = value.strip(_OWS)
    if value.isascii() and value.isdigit():
        if len(value) > _MAX_SECONDS_DIGITS:
            return math.inf
        return float(int(value))
    moment = parse_http_date(value, now=now)
    if moment is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, moment - current)


# -- the policy ---------------------------------------------------------------------------------


def _methods(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError("allowed_methods must be a collection of method names, not a str")
    return frozenset(m.upper() for m in value)


def _int_at_least(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


class RetryPolicy:
    """When and how to retry a request. Immutable; derive variants with :meth:`replace`.

    - ``max_retries``: retries after the first attempt (so at most ``max_retries + 1``
      attempts). 0 means "never retry".
    - ``retry_categories``: exception categories that are retried (see
      :class:`~hyperhttp.errors.classifier.ErrorClassifier`); default
      ``DEFAULT_RETRY_CATEGORIES`` (everything transient; not TLS, CLIENT or FATAL).
    - ``status_force_list``: response statuses that are retried (default 429, 500, 502,
      503, 504).
    - ``backoff_strategy``: a :class:`~hyperhttp.utils.backoff.BackoffStrategy` (default
      ``ExponentialBackoff()``); its delay is multiplied by ``retry_interval_factor``.
    - ``respect_retry_after``: honour ``Retry-After`` on ``retry_after_status_codes``
      (default 413, 429, 503), capped at ``retry_after_max`` seconds (default 6 h).
    - ``allowed_methods``: methods retried after the request may have reached the server
      (default: the idempotent ones; ``None``: every method). Connect-phase errors
      (``ConnectError``, ``DNSError``, ``TLSError``, ``ConnectTimeout``, ``PoolTimeout``) are
      retried for any method, since nothing was sent; so is a request carrying one of
      ``idempotency_key_headers``.
    - ``raise_on_status``: when status retries run out, raise ``RetryError`` (with
      ``.response``) instead of returning the last response.
    """

    __slots__ = (
        "allowed_methods",
        "backoff_strategy",
        "idempotency_key_headers",
        "max_retries",
        "raise_on_status",
        "respect_retry_after",
        "retry_after_max",
        "retry_after_status_codes",
        "retry_categories",
        "retry_interval_factor",
        "status_force_list",
    )

    max_retries: int
    retry_categories: frozenset[str]
    status_force_list: frozenset[int]
    backoff_strategy: BackoffStrategy
    respect_retry_after: bool
    retry_interval_factor: float
    allowed_methods: frozenset[str] | None
    retry_after_status_codes: frozenset[int]
    retry_after_max: float
    raise_on_status: bool
    idempotency_key_headers: tuple[str, ...]

    def __init__(
        self,
        max_retries: int = 3,
        retry_categories: Iterable[str] | None = None,
        status_force_list: Iterable[int] | None = None,
        backoff_strategy: BackoffStrategy | None = None,
        respect_retry_after: bool = True,
        retry_interval_factor: float = 1.0,
        *,
        allowed_methods: Iterable[str] | None = DEFAULT_ALLOWED_METHODS,
        retry_after_status_codes: Iterable[int] = DEFAULT_RETRY_AFTER_STATUS_CODES,
        retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
        raise_on_status: bool = False,
        idempotency_key_headers: Iterable[str] = DEFAULT_IDEMPOTENCY_KEY_HEADERS,
    ) -> None:
        if backoff_strategy is not None and not isinstance(backoff_strategy, BackoffStrategy):
            raise TypeError("backoff_strategy must be a hyperhttp.utils.backoff.BackoffStrategy")
        if isinstance(retry_categories, str):
            raise TypeError("retry_categories must be a collection of category names")
        values: dict[str, Any] = {
            "max_retries": _int_at_least("max_retries", max_retries, 0),
            "retry_categories": (
                DEFAULT_RETRY_CATEGORIES
                if retry_categories is None
                else frozenset(c.upper() for c in retry_categories)
            ),
            "status_force_list": frozenset(
                DEFAULT_STATUS_FORCE_LIST if status_force_list is None else status_force_list
            ),
            "backoff_strategy": (
                ExponentialBackoff() if backoff_strategy is None else backoff_strategy
            ),
            "respect_retry_after": bool(respect_retry_after),
            "retry_interval_factor": _seconds("retry_interval_factor", retry_interval_factor),
            "allowed_methods": _methods(allowed_methods),
            "retry_after_status_codes": frozenset(retry_after_status_codes),
            "retry_after_max": _seconds("retry_after_max", retry_after_max),
            "raise_on_status": bool(raise_on_status),
            "idempotency_key_headers": tuple(idempotency_key_headers),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("RetryPolicy is immutable; use .replace(...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("RetryPolicy is immutable")

    def replace(self, **changes: Any) -> RetryPolicy:
        """A new policy with ``changes`` applied."""
        current: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        unknown = set(changes) - set(current)
        if unknown:
            raise TypeError(f"unknown RetryPolicy option(s): {', '.join(sorted(unknown))}")
        current.update(changes)
        return RetryPolicy(**current)

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_retries={self.max_retries}, "
            f"retry_categories={sorted(self.retry_categories)}, "
            f"status_force_list={sorted(self.status_force_list)}, "
            f"backoff_strategy={self.backoff_strategy!r})"
        )

    # -- decisions ----------------------------------------------------------------------------

    def is_method_retryable(self, request: Request) -> bool:
        """Whether ``request`` may be re-sent after it may have reached the server."""
        if self.allowed_methods is None or request.method in self.allowed_methods:
            return True
        return any(name in request.headers for name in self.idempotency_key_headers)

    def retry_note_for_exception(
        self, request: Request, error: BaseException, category: str
    ) -> str:
        """Why ``error`` must not be retried ("" if it may be, attempts permitting)."""
        if not isinstance(error, HyperHTTPError):
            return "not a hyperhttp error"
        if category not in self.retry_categories:
            return f"category {category} is not in retry_categories"
        if not isinstance(error, _CONNECT_PHASE) and not self.is_method_retryable(request):
            return (
                f"{request.method} is not retried once the request may have reached the server "
                "(allowed_methods)"
            )
        if not _body_replayable(request):
            return (
                "not retried: the request body is a one-shot stream and cannot be sent again "
                "(pass bytes or another replayable body to allow retries)"
            )
        return ""

    def retry_note_for_status(self, request: Request, status_code: int) -> str:
        """Why a response with ``status_code`` must not be retried ("" if it may be)."""
        if status_code not in self.status_force_list:
            return "status not in status_force_list"
        if not self.is_method_retryable(request):
            return f"{request.method} is not retried on status codes (allowed_methods)"
        if not _body_replayable(request):
            return "the request body is a one-shot stream and cannot be sent again"
        return ""

    def backoff_delay(self, strategy: BackoffStrategy, retry_count: int) -> float:
        """The backoff before retry ``retry_count + 1``, scaled by ``retry_interval_factor``."""
        delay = strategy.calculate_backoff(retry_count) * self.retry_interval_factor
        return max(0.0, delay) if math.isfinite(delay) else 0.0

    def retry_after(self, response: Response, *, now: float | None = None) -> float | None:
        """The honoured ``Retry-After`` delay of ``response`` (capped), or ``None``."""
        if not self.respect_retry_after:
            return None
        if response.status_code not in self.retry_after_status_codes:
            return None
        values = response.headers.get_list("retry-after")
        if not values:
            return None
        seconds = parse_retry_after(values[0], now=now)
        if seconds is None:
            return None
        return min(seconds, self.retry_after_max)

    def should_retry(
        self, error: BaseException | None, response: Any = None, retry_count: int = 0
    ) -> tuple[bool, float]:
        """hyperhttp 2.x helper: ``(retry?, delay)`` for an error or response, ignoring the
        method and body (the retry loop checks those too)."""
        if retry_count >= self.max_retries:
            return False, 0.0
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and error is None:
            if status not in self.status_force_list:
                return False, 0.0
            honoured = self.retry_after(response)
            if honoured is not None:
                return True, honoured
            return True, self.backoff_delay(self.backoff_strategy, retry_count)
        if error is None:
            return False, 0.0
        category = ErrorClassifier.categorize(error, response)
        if category not in self.retry_categories:
            return False, 0.0
        return True, self.backoff_delay(self.backoff_strategy, retry_count)


def _body_replayable(request: Request) -> bool:
    stream = request.stream
    return stream is None or bool(getattr(stream, "replayable", False))


def coerce_retry(value: RetryPolicy | bool | int | None) -> RetryPolicy | None:
    """``Client(retry=...)``: a policy as is; ``True`` -> ``RetryPolicy()``; ``False`` and
    ``None`` -> no retries; an int ``n`` -> ``RetryPolicy(max_retries=n)``."""
    if value is None or value is False:
        return None
    if value is True:
        return RetryPolicy()
    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, int):
        return RetryPolicy(max_retries=value)
    raise TypeError(
        f"retry must be a RetryPolicy, True, False, None or an int, not {type(value).__name__}"
    )
