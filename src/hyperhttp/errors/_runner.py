"""The retry / circuit-breaker loop around one request: :func:`send_with_resilience`.

The client calls it with a ``send_once`` function that makes exactly one network attempt and
returns the response with its body unread. Everything about *whether* to retry lives in
:class:`~hyperhttp.errors.retry.RetryPolicy`; this loop applies it, consults the breaker,
reports to telemetry and sleeps through the injected ``sleep``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .._exceptions import HyperHTTPError, RetryError, TimeoutException
from .._models import Request, Response
from .circuit_breaker import DomainCircuitBreakerManager, breaker_key
from .classifier import CLIENT, ErrorClassifier
from .retry import AttemptRecord, RetryPolicy
from .telemetry import ErrorTelemetry

__all__ = ["send_with_resilience"]

SendOnce = Callable[[Request], Awaitable[Response]]


async def send_with_resilience(
    request: Request,
    send_once: SendOnce,
    *,
    retry: RetryPolicy | None,
    breaker: DomainCircuitBreakerManager | None,
    telemetry: ErrorTelemetry | None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
) -> Response:
    """Send ``request`` with retries, circuit breaker and telemetry (each optional).

    - Before every attempt the breaker of the request's ``host:port`` is consulted; an open
      breaker raises :class:`~hyperhttp.CircuitBreakerOpen` and ``send_once`` is not called.
    - An exception is classified, counted by the breaker and telemetry, then retried when
      ``retry`` allows it (see :class:`RetryPolicy`), after the backoff delay.
    - A response counts for the breaker (5xx = failure), and if its status is in
      ``status_force_list`` and may be retried it is closed and the request sent again after
      the ``Retry-After`` delay (capped) or the backoff delay. When status retries run out
      the last response is returned (``raise_on_status=True``: ``RetryError`` with
      ``.response``, its body read).
    - No sleep may pass ``deadline`` (a ``clock()`` value, default the running loop's
      ``time()``): an exception then ends in ``TimeoutException``; a response is returned as
      if the retries had run out.
    - If nothing was retried the error is raised as is; after at least one retry, a
      hyperhttp error is raised as ``RetryError`` (``last_exception``, ``history``).
      ``CircuitBreakerOpen`` and errors that are not hyperhttp errors are never wrapped;
      ``asyncio.CancelledError`` is never caught.
    """
    if retry is None and breaker is None and telemetry is None:
        return await send_once(request)
    policy = retry
    strategy = policy.backoff_strategy.new_state() if policy is not None else None
    max_retries = policy.max_retries if policy is not None else 0
    domain = breaker_key(request.url)
    host_breaker = breaker.get(domain) if breaker is not None else None
    now = clock if clock is not None else asyncio.get_running_loop().time
    method = request.method
    url = request.url.redacted
    history: list[AttemptRecord] = []
    retries = 0

    def crosses_deadline(delay: float) -> bool:
        return deadline is not None and now() + delay > deadline

    while True:
        attempt = retries + 1
        permit = host_breaker.acquire(request) if host_breaker is not None else None
        try:
            response = await send_once(request)
        except Exception as exc:
            if permit is not None:
                permit.record_error(exc)
            category = ErrorClassifier.categorize(exc)
            note = ""
            delay: float | None = None
            deadline_hit = False
            if policy is None:
                note = "retries are off"
            elif retries >= max_retries:
                note = f"no retries left (max_retries={max_retries})"
            else:
                note = policy.retry_note_for_exception(request, exc, category)
                if not note:
                    assert strategy is not None
                    delay = policy.backoff_delay(strategy, retries)
                    if crosses_deadline(delay):
                        note = "the next wait would pass the total timeout"
                        deadline_hit = True
                        delay = None
            record = AttemptRecord(
                attempt, method, url, exception=exc, category=category, delay=delay, note=note
            )
            history.append(record)
            if telemetry is not None:
                await telemetry.record_attempt(domain, record)
                await telemetry.record_error(domain, category, None, record=record)
            if delay is not None:
                await sleep(delay)
                retries += 1
                continue
            if deadline_hit:
                raise TimeoutException(
                    f"total timeout: {method} {url} failed ({type(exc).__name__}) and the next "
                    "retry would start after the deadline",
                    request=request,
                ) from exc
            if not isinstance(exc, HyperHTTPError):
                raise
            if retries == 0:
                if "one-shot stream" in note:
                    _annotate(exc, note)
                raise
            raise RetryError(
                f"{method} {url} failed after {attempt} attempts: {type(exc).__name__}: {exc}",
                request=request,
                last_exception=exc,
                history=tuple(history),
            ) from exc
        except BaseException:
            # Cancellation (or another BaseException) while sending: free a probe slot.
            if permit is not None:
                permit.release()
            raise

        status = response.status_code
        if permit is not None:
            permit.record_status(status)
        status_category = ErrorClassifier.categorize_status(status)
        note = ""
        delay = None
        out_of_retries = False
        if policy is not None and status in policy.status_force_list:
            note = policy.retry_note_for_status(request, status)
            if not note:
                if retries >= max_retries:
                    note = f"no retries left (max_retries={max_retries})"
                    out_of_retries = True
                else:
                    assert strategy is not None
                    honoured = policy.retry_after(response)
                    if honoured is None:
                        delay = policy.backoff_delay(strategy, retries)
                    else:
                        delay = honoured
                    if crosses_deadline(delay):
                        note = "the next wait would pass the total timeout"
                        out_of_retries = True
                        delay = None
        is_error = (
            status >= 500
            or status == 429
            or (policy is not None and status in policy.status_force_list)
        )
        record = AttemptRecord(
            attempt,
            method,
            url,
            status_code=status,
            category=status_category,
            delay=delay,
            note=note,
        )
        history.append(record)
        if telemetry is not None:
            await telemetry.record_attempt(domain, record)
            if is_error:
                await telemetry.record_error(
                    domain, status_category or CLIENT, response, record=record
                )
        if delay is not None:
            await _close_quietly(response)
            await sleep(delay)
            retries += 1
            continue
        if policy is None:
            return response
        if out_of_retries and policy.raise_on_status:
            await _read_quietly(response)
            raise RetryError(
                f"{method} {url} still answered {status} after {attempt} attempts",
                request=request,
                history=tuple(history),
                response=response,
            )
        if not is_error:
            assert strategy is not None
            strategy.record_success()
        response.extensions["retry_history"] = tuple(history)
        return response


def _annotate(exc: HyperHTTPError, note: str) -> None:
    """Append ``note`` to the message (``str(exc)``) of ``exc``."""
    exc.message = f"{exc.message} ({note})" if exc.message else note
    exc.args = (exc.message, *exc.args[1:])


async def _close_quietly(response: Response) -> None:
    try:
        await response.aclose()
    except HyperHTTPError:
        pass


async def _read_quietly(response: Response) -> None:
    try:
        await response.aread()
    except HyperHTTPError:
        await _close_quietly(response)
