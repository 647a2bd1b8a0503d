"""ErrorTelemetry: hooks per attempt and per error, counters, no background work."""

from __future__ import annotations

import asyncio
import logging

import pytest

import hyperhttp
from hyperhttp import ConnectError, ReadTimeout, RetryError
from hyperhttp.errors import send_with_resilience
from hyperhttp.errors.retry import AttemptRecord, RetryPolicy
from hyperhttp.errors.telemetry import ErrorTelemetry
from hyperhttp.utils.backoff import ConstantBackoff

from .resilience_helpers import Clock, Script, Sleeps, raiser, request

POLICY = RetryPolicy(backoff_strategy=ConstantBackoff(1.0))
DOMAIN = "example.com:443"


async def call(
    telemetry: ErrorTelemetry, script: Script, retry: RetryPolicy | None = POLICY
) -> hyperhttp.Response:
    return await send_with_resilience(
        request(), script, retry=retry, breaker=None, telemetry=telemetry, sleep=Sleeps()
    )


async def test_hooks_called_per_attempt_and_per_error() -> None:
    attempts: list[AttemptRecord] = []
    errors: list[AttemptRecord] = []

    async def on_error(record: AttemptRecord) -> None:  # coroutine hooks are awaited
        errors.append(record)

    telemetry = ErrorTelemetry(on_attempt=attempts.append, on_error=on_error)
    response = await call(telemetry, Script(ConnectError("x"), 503, 200))
    assert response.status_code == 200
    assert [r.attempt for r in attempts] == [1, 2, 3]
    assert attempts == list(response.extensions["retry_history"])
    assert [(r.category, r.status_code) for r in errors] == [("CONNECTION", None), ("SERVER", 503)]
    assert isinstance(errors[0].exception, ConnectError)
    assert errors[0].delay == 1.0 and errors[1].delay == 1.0


async def test_success_calls_on_attempt_only() -> None:
    attempts: list[AttemptRecord] = []
    errors: list[AttemptRecord] = []
    telemetry = ErrorTelemetry(on_attempt=attempts.append, on_error=errors.append)
    await call(telemetry, Script(200))
    await call(telemetry, Script(404))
    assert len(attempts) == 2 and errors == []
    report = await telemetry.get_domain_report(DOMAIN)
    assert report is not None and report["attempts"] == 2 and report["total_errors"] == 0


async def test_final_error_is_reported_before_raising() -> None:
    errors: list[AttemptRecord] = []
    telemetry = ErrorTelemetry(on_error=errors.append)
    with pytest.raises(RetryError) as info:
        await call(telemetry, Script(raiser(lambda: ReadTimeout("slow"))))
    assert len(errors) == 4
    assert list(info.value.history) == errors
    assert errors[-1].delay is None


async def test_telemetry_alone_does_not_retry() -> None:
    errors: list[AttemptRecord] = []
    telemetry = ErrorTelemetry(on_error=errors.append)
    script = Script(ConnectError("x"), 200)
    with pytest.raises(ConnectError):
        await call(telemetry, script, retry=None)
    assert script.calls == 1 and len(errors) == 1


async def test_status_in_force_list_counts_as_error() -> None:
    errors: list[AttemptRecord] = []
    telemetry = ErrorTelemetry(on_error=errors.append)
    await call(telemetry, Script(409), retry=RetryPolicy(status_force_list=[409], max_retries=0))
    await call(telemetry, Script(429), retry=None)
    assert [(r.status_code, r.category) for r in errors] == [(409, "CLIENT"), (429, "RATE_LIMIT")]


async def test_counters_and_reports() -> None:
    clock = Clock()
    telemetry = ErrorTelemetry(clock=clock)
    await call(telemetry, Script(ConnectError("x"), 503, 200))
    report = await telemetry.get_domain_report(DOMAIN)
    assert report is not None
    assert report["domain"] == DOMAIN
    assert report["attempts"] == 3 and report["total_errors"] == 2
    assert report["categories"] == {"CONNECTION": 1, "SERVER": 1}
    assert report["status_codes"] == {503: 1}
    assert [e["exception"] for e in report["recent_errors"]] == ["ConnectError", None]
    assert report["error_rate"] == pytest.approx(2 / 60)
    assert await telemetry.get_all_domains() == [DOMAIN]
    assert await telemetry.get_domain_report("nowhere:80") is None
    stats = await telemetry.get_global_stats()
    assert stats == {
        "domains": 1,
        "attempts": 3,
        "total_errors": 2,
        "categories": {"CONNECTION": 1, "SERVER": 1},
    }


async def test_error_rate_window_and_retention() -> None:
    clock = Clock()
    telemetry = ErrorTelemetry(retention=100.0, clock=clock)
    for _ in range(6):
        await telemetry.record_error(DOMAIN, "TIMEOUT")
    assert await telemetry.get_error_rate(DOMAIN, window_seconds=60) == pytest.approx(0.1)
    clock.advance(61)
    assert await telemetry.get_error_rate(DOMAIN, window_seconds=60) == 0.0
    assert await telemetry.get_error_rate(DOMAIN, window_seconds=120) == pytest.approx(0.05)
    clock.advance(100)
    await telemetry.record_error(DOMAIN, "TIMEOUT")
    assert await telemetry.get_error_rate(DOMAIN, window_seconds=1000) == pytest.approx(0.001)
    assert await telemetry.get_error_rate(DOMAIN, window_seconds=0) == 0.0
    assert await telemetry.get_error_rate("unknown:1") == 0.0


async def test_record_error_2x_signature() -> None:
    telemetry = ErrorTelemetry()
    await telemetry.record_error("api", "SERVER", hyperhttp.Response(502))
    report = await telemetry.get_domain_report("api")
    assert report is not None and report["status_codes"] == {502: 1}


async def test_failing_hook_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    def broken(record: AttemptRecord) -> None:
        raise RuntimeError("hook bug")

    telemetry = ErrorTelemetry(on_attempt=broken, on_error=broken)
    with caplog.at_level(logging.ERROR, logger="hyperhttp.errors.telemetry"):
        response = await call(telemetry, Script(503, 200))
    assert response.status_code == 200
    assert "telemetry hook" in caplog.text


async def test_cancellation_in_a_hook_propagates() -> None:
    async def cancelled(record: AttemptRecord) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await call(ErrorTelemetry(on_attempt=cancelled), Script(200))


async def test_no_background_tasks_and_aclose() -> None:
    calls: list[AttemptRecord] = []
    telemetry = ErrorTelemetry(on_attempt=calls.append, on_error=calls.append)
    for _ in range(20):
        await call(telemetry, Script(ConnectError("x"), 200))
    assert asyncio.all_tasks() == {asyncio.current_task()}
    await telemetry.aclose()
    await telemetry.aclose()  # idempotent
    assert telemetry.closed
    before = len(calls)
    await call(telemetry, Script(ConnectError("x"), 200))
    assert len(calls) == before  # hooks dropped
    report = await telemetry.get_domain_report(DOMAIN)
    assert report is not None and report["attempts"] == 40  # data readable, no new records
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_max_domains_and_recent_are_bounded() -> None:
    telemetry = ErrorTelemetry(max_domains=2, max_recent=3)
    for host in ("a", "b", "c"):
        for _ in range(5):
            await telemetry.record_error(host, "TIMEOUT")
    assert await telemetry.get_all_domains() == ["b", "c"]
    report = await telemetry.get_domain_report("c")
    assert report is not None and len(report["recent_errors"]) == 3
