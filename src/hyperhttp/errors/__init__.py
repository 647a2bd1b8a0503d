"""Resilience: retries, circuit breakers, error classification and telemetry.

See ``docs/resilience.md``. The documented module paths are ``hyperhttp.errors.retry``,
``hyperhttp.errors.classifier``, ``hyperhttp.errors.circuit_breaker``,
``hyperhttp.errors.telemetry`` and ``hyperhttp.utils.backoff``.
"""

from ._runner import send_with_resilience
from .circuit_breaker import (
    CircuitBreaker,
    CircuitBreakerOpen,
    CircuitBreakerOpenError,
    CircuitBreakerState,
    DomainCircuitBreakerManager,
)
from .classifier import ErrorClassifier
from .retry import AttemptRecord, RetryError, RetryPolicy, coerce_retry, parse_retry_after
from .telemetry import ErrorTelemetry

__all__ = [
    "AttemptRecord",
    "CircuitBreaker",
    "CircuitBreakerOpen",
    "CircuitBreakerOpenError",
    "CircuitBreakerState",
    "DomainCircuitBreakerManager",
    "ErrorClassifier",
    "ErrorTelemetry",
    "RetryError",
    "RetryPolicy",
    "coerce_retry",
    "parse_retry_after",
    "send_with_resilience",
]
