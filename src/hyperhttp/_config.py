"""Timeout and Limits: the two configuration values every request consults.

Both are immutable and validated at construction: a bad value (negative, NaN, a string, a
bool) raises ``TypeError``/``ValueError`` here rather than misbehaving at request time
(reliability checklist TO-07).
"""

from __future__ import annotations

import math
from typing import Any, Union

__all__ = [
    "DEFAULT_KEEPALIVE_EXPIRY",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_KEEPALIVE_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TIMEOUT_SECONDS",
    "Limits",
    "Timeout",
    "TimeoutTypes",
]

# httpx, aiohttp and urllib3 all default to a few seconds; 5 s matches httpx, whose users
# are the ones most likely to switch.
DEFAULT_TIMEOUT_SECONDS = 5.0
# aiohttp's TCPConnector default limit is 100; httpx's is 100 as well.
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 20
# Shorter than the usual server-side idle timeouts (nginx 75 s, Apache 5 s is the outlier;
# the stale-connection check covers the rest).
DEFAULT_KEEPALIVE_EXPIRY = 5.0

_UNSET: Any = object()


def _check_seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} timeout must be a number of seconds or None, not {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{name} timeout must be >= 0 seconds, not {value!r}")
    return None if math.isinf(seconds) else seconds


class Timeout:
    """Timeouts in seconds; ``None`` means wait forever.

    ``Timeout(5.0)`` sets connect, read, write and pool to 5 s. Keywords override one
    each: ``Timeout(5.0, connect=1.0)``. ``read`` is the longest gap between two received
    bytes (not a whole-response deadline); ``total`` bounds the whole request, across every
    connect, write and read of it.
    """

    __slots__ = ("connect", "pool", "read", "total", "write")

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None
    total: float | None

    def __init__(
        self,
        timeout: Timeout | float | None = _UNSET,
        *,
        connect: float | None = _UNSET,
        read: float | None = _UNSET,
        write: float | None = _UNSET,
        pool: float | None = _UNSET,
        total: float | None = None,
    ) -> None:
        if isinstance(timeout, Timeout):
            base = timeout
            defaults: tuple[Any, ...] = (
                base.connect,
                base.read,
                base.write,
                base.pool,
            )
            total = base.total if total is None else total
        elif timeout is _UNSET:
            defaults = (DEFAULT_TIMEOUT_SECONDS,) * 4
        else:
            defaults = (timeout,) * 4
        values = [
            d if v is _UNSET else v
            for v, d in zip((connect, read, write, pool), defaults, strict=True)
        ]
        object.__setattr__(self, "connect", _check_seconds("connect", values[0]))
        object.__setattr__(self, "read", _check_seconds("read", values[1]))
        object.__setattr__(self, "write", _check_seconds("write", values[2]))
        object.__setattr__(self, "pool", _check_seconds("pool", values[3]))
        object.__setattr__(self, "total", _check_seconds("total", total))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Timeout is immutable; build a new one")

    def as_dict(self) -> dict[str, float | None]:
        """The five values by name."""
        return {
            "connect": self.connect,
            "read": self.read,
            "write": self.write,
            "pool": self.pool,
            "total": self.total,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeout) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().values()))

    def __repr__(self) -> str:
        values = (self.connect, self.read, self.write, self.pool)
        if len(set(values)) == 1 and self.total is None:
            return f"Timeout(timeout={self.connect})"
        fields = ", ".join(f"{k}={v}" for k, v in self.as_dict().items())
        return f"Timeout({fields})"


TimeoutTypes = Union[Timeout, float, None]  # noqa: UP007  (runtime alias; `|` needs 3.10 types)

DEFAULT_TIMEOUT = Timeout(DEFAULT_TIMEOUT_SECONDS)


def _check_count(name: str, value: object, *, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value!r}")
    return value


class Limits:
    """Connection pool limits.

    ``max_connections`` caps open connections over all hosts (``None``: no cap);
    ``max_connections_per_host`` caps them per origin; ``max_keepalive_connections`` caps
    idle ones kept for reuse; ``keepalive_expiry`` is how long an idle connection is kept.
    """

    __slots__ = (
        "keepalive_expiry",
        "max_connections",
        "max_connections_per_host",
        "max_keepalive_connections",
    )

    max_connections: int | None
    max_keepalive_connections: int | None
    max_connections_per_host: int | None
    keepalive_expiry: float | None

    def __init__(
        self,
        *,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_keepalive_connections: int | None = DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
        max_connections_per_host: int | None = None,
        keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY,
    ) -> None:
        object.__setattr__(
            self, "max_connections", _check_count("max_connections", max_connections, minimum=1)
        )
        object.__setattr__(
            self,
            "max_keepalive_connections",
            _check_count("max_keepalive_connections", max_keepalive_connections, minimum=0),
        )
        object.__setattr__(
            self,
            "max_connections_per_host",
            _check_count("max_connections_per_host", max_connections_per_host, minimum=1),
        )
        object.__setattr__(
            self, "keepalive_expiry", _check_seconds("keepalive_expiry", keepalive_expiry)
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Limits is immutable; build a new one")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__
        )

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        return (
            f"Limits(max_connections={self.max_connections}, "
            f"max_keepalive_connections={self.max_keepalive_connections}, "
            f"max_connections_per_host={self.max_connections_per_host}, "
            f"keepalive_expiry={self.keepalive_expiry})"
        )


DEFAULT_LIMITS = Limits()
