"""The circuit breaker: hyperhttp.errors.circuit_breaker, driven through send_with_resilience."""

from __future__ import annotations

import asyncio

import pytest

import hyperhttp
from hyperhttp import (
    CircuitBreakerOpen,
    ConnectError,
    ConnectTimeout,
    DNSError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    Response,
    TLSError,
)
from hyperhttp.errors import send_with_resilience
from hyperhttp.errors.circuit_breaker import (
    CircuitBreaker,
    CircuitBreakerOpenError,
    CircuitBreakerState,
    DomainCircuitBreakerManager,
    breaker_key,
)
from hyperhttp.errors.retry import RetryPolicy

from .resilience_helpers import Clock, Script, Sleeps, raiser, request

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


async def call(
    manager: DomainCircuitBreakerManager,
    script: Script,
    url: str = "https://example.com/x",
    retry: RetryPolicy | None = None,
) -> Response:
    return await send_with_resilience(
        request(url=url), script, retry=retry, breaker=manager, telemetry=None, sleep=Sleeps()
    )


async def fail(manager: DomainCircuitBreakerManager, times: int, **kwargs: str) -> None:
    for _ in range(times):
        with pytest.raises(ConnectError):
            await call(manager, Script(ConnectError("refused")), **kwargs)


def test_documented_constructor_and_default_config() -> None:
    manager = DomainCircuitBreakerManager(
        failure_threshold=5, recovery_timeout=30.0, success_threshold=2
    )
    assert manager.default_config["failure_threshold"] == 5
    manager = DomainCircuitBreakerManager(
        default_config={"failure_threshold": 3, "recovery_timeout": 10.0, "success_threshold": 1}
    )
    breaker = manager.get("example.com:443")
    assert (breaker.failure_threshold, breaker.recovery_timeout, breaker.success_threshold) == (
        3,
        10.0,
        1,
    )
    assert DomainCircuitBreakerManager().get("a:80").failure_threshold == 5


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"failure_threshold": 0}, ValueError),
        ({"failure_threshold": "5"}, TypeError),
        ({"recovery_timeout": -1}, ValueError),
        ({"recovery_timeout": float("nan")}, ValueError),
        ({"success_threshold": 0}, ValueError),
        ({"half_open_max_calls": 0}, ValueError),
        ({"default_config": {"bogus": 1}}, TypeError),
        ({"tracked_categories": "SERVER"}, TypeError),
        ({"max_domains": 0}, ValueError),
    ],
)
def test_invalid_configuration(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        DomainCircuitBreakerManager(**kwargs)  # type: ignore[arg-type]


async def test_closed_open_after_threshold_then_fails_fast() -> None:
    clock = Clock()
    manager = DomainCircuitBreakerManager(failure_threshold=3, clock=clock)
    await fail(manager, 3)
    script = Script(200)
    with pytest.raises(CircuitBreakerOpen) as info:
        await call(manager, script)
    assert script.calls == 0  # the network was not touched
    error = info.value
    assert isinstance(error, hyperhttp.HyperHTTPError)
    assert error.host == "example.com:443"
    assert error.remaining == 30.0
    assert error.request is not None and error.request.url.host == "example.com"
    clock.advance(12.5)
    with pytest.raises(CircuitBreakerOpen) as info:
        await call(manager, script)
    assert info.value.remaining == pytest.approx(17.5)
    assert CircuitBreakerOpenError is CircuitBreakerOpen


async def test_success_resets_consecutive_failures() -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=3, clock=Clock())
    await fail(manager, 2)
    await call(manager, Script(200))
    await fail(manager, 2)
    assert manager.get("example.com:443").state == CLOSED
    assert manager.get("example.com:443").failure_count == 2


async def test_half_open_limits_probes_and_closes_after_success_threshold() -> None:
    clock = Clock()
    manager = DomainCircuitBreakerManager(
        failure_threshold=1, recovery_timeout=30.0, success_threshold=2, clock=clock
    )
    await fail(manager, 1)
    breaker = manager.get("example.com:443")
    assert breaker.state == OPEN
    clock.advance(30.0)
    assert breaker.state == HALF_OPEN

    release = asyncio.Event()

    async def slow_ok(req: hyperhttp.Request) -> Response:
        await release.wait()
        return Response(200, request=req)

    probe = asyncio.ensure_future(
        send_with_resilience(
            request(), slow_ok, retry=None, breaker=manager, telemetry=None, sleep=Sleeps()
        )
    )
    await asyncio.sleep(0)
    other = Script(200)
    with pytest.raises(CircuitBreakerOpen) as info:
        await call(manager, other)  # only one probe at a time
    assert other.calls == 0 and info.value.remaining == 0.0
    release.set()
    assert (await probe).status_code == 200
    assert breaker.state == HALF_OPEN  # 1 of 2 successes
    await call(manager, Script(200))
    assert breaker.state == CLOSED
    assert breaker.failure_count == 0


async def test_half_open_max_calls_configurable() -> None:
    clock = Clock()
    manager = DomainCircuitBreakerManager(failure_threshold=1, half_open_max_calls=2, clock=clock)
    await fail(manager, 1)
    clock.advance(30)
    breaker = manager.get("example.com:443")
    first = breaker.acquire()
    second = breaker.acquire()
    with pytest.raises(CircuitBreakerOpen):
        breaker.acquire()
    first.success()
    second.success()
    assert breaker.state == CLOSED


async def test_failed_probe_reopens_with_a_fresh_timer() -> None:
    clock = Clock()
    manager = DomainCircuitBreakerManager(failure_threshold=1, recovery_timeout=10.0, clock=clock)
    await fail(manager, 1)
    clock.advance(10.0)
    await fail(manager, 1)  # the probe fails
    breaker = manager.get("example.com:443")
    assert breaker.state == OPEN
    assert breaker.remaining == 10.0
    assert breaker.times_opened == 2


async def test_cancelled_probe_frees_its_slot() -> None:
    clock = Clock()
    manager = DomainCircuitBreakerManager(failure_threshold=1, clock=clock)
    await fail(manager, 1)
    clock.advance(30)
    with pytest.raises(asyncio.CancelledError):
        await call(manager, Script(asyncio.CancelledError()))
    assert (await call(manager, Script(200))).status_code == 200


async def test_neutral_error_frees_probe_slot_without_verdict() -> None:
    clock = Clock()
    manager = DomainCircuitBreakerManager(failure_threshold=1, success_threshold=1, clock=clock)
    await fail(manager, 1)
    clock.advance(30)
    with pytest.raises(ReadError):
        await call(manager, Script(ReadError("reset")))  # TRANSIENT: not tracked by default
    breaker = manager.get("example.com:443")
    assert breaker.state == HALF_OPEN
    await call(manager, Script(200))
    assert breaker.state == CLOSED


@pytest.mark.parametrize(
    ("outcome", "counts"),
    [
        (ConnectError("x"), True),
        (DNSError("x"), True),
        (TLSError("x"), True),
        (ConnectTimeout("x"), True),
        (ReadTimeout("x"), True),
        (PoolTimeout("x"), False),
        (ReadError("x"), False),
        (hyperhttp.RemoteProtocolError("x"), False),
        (ValueError("x"), False),
        (500, True),
        (503, True),
        (599, True),
        (429, False),
        (404, False),
        (200, False),
    ],
)
async def test_what_counts_as_a_failure(outcome: object, counts: bool) -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=1, clock=Clock())
    try:
        await call(manager, Script(outcome))
    except Exception:
        pass
    assert manager.get("example.com:443").state == (OPEN if counts else CLOSED)


async def test_tracked_categories_configurable() -> None:
    manager = DomainCircuitBreakerManager(
        failure_threshold=1, tracked_categories=["rate_limit"], clock=Clock()
    )
    await call(manager, Script(503))
    assert manager.get("example.com:443").state == CLOSED
    await call(manager, Script(429))
    assert manager.get("example.com:443").state == OPEN


async def test_one_breaker_per_host_and_port() -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=1, clock=Clock())
    await fail(manager, 1, url="https://example.com/a")
    assert (await call(manager, Script(200), url="https://example.com:8443/")).status_code == 200
    assert (await call(manager, Script(200), url="http://example.com/")).status_code == 200
    assert (await call(manager, Script(200), url="https://other.example/")).status_code == 200
    with pytest.raises(CircuitBreakerOpen):
        await call(manager, Script(200), url="https://example.com/b")
    assert set(manager.get_stats()) == {
        "example.com:443",
        "example.com:8443",
        "example.com:80",
        "other.example:443",
    }


def test_breaker_key_brackets_ipv6() -> None:
    assert breaker_key(hyperhttp.URL("http://[::1]:8080/")) == "[::1]:8080"
    assert breaker_key(hyperhttp.URL("https://EXAMPLE.com/")) == "example.com:443"


async def test_get_stats() -> None:
    clock = Clock()
    manager = DomainCircuitBreakerManager(failure_threshold=2, clock=clock)
    await call(manager, Script(200))
    await fail(manager, 2)
    with pytest.raises(CircuitBreakerOpen):
        await call(manager, Script(200))
    clock.advance(5)
    stats = manager.get_stats()["example.com:443"]
    assert stats["state"] == OPEN
    assert stats["total_failures"] == 2 and stats["total_successes"] == 1
    assert stats["rejected"] == 1 and stats["times_opened"] == 1
    assert stats["remaining"] == 25.0
    assert stats["failure_threshold"] == 2 and stats["recovery_timeout"] == 30.0
    assert stats["success_threshold"] == 2 and stats["half_open_max_calls"] == 1
    assert stats["tracked_categories"] == ["CONNECTION", "DNS", "SERVER", "TIMEOUT", "TLS"]


async def test_configure_domain_for_a_host_or_a_host_port() -> None:
    manager = DomainCircuitBreakerManager(clock=Clock())
    existing = manager.get("api.example:443")
    await manager.configure_domain("api.example", failure_threshold=1)  # 2.x: awaited
    assert existing.failure_threshold == 1
    assert manager.get("api.example:8080").failure_threshold == 1
    manager.configure_domain("api.example:8080", recovery_timeout=5.0)  # new code: not awaited
    assert manager.get("api.example:8080").recovery_timeout == 5.0
    assert manager.get("api.example:443").recovery_timeout == 30.0
    assert manager.get("other:443").failure_threshold == 5
    with pytest.raises(TypeError):
        manager.configure_domain("api.example", nonsense=1)
    with pytest.raises(ValueError):
        manager.configure_domain("api.example", failure_threshold=0)


async def test_configure_domain_keeps_state() -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=3, clock=Clock())
    await fail(manager, 2)
    manager.configure_domain("example.com", failure_threshold=10)
    assert manager.get("example.com:443").failure_count == 2


def test_stale_permit_does_not_flip_state() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, success_threshold=1, clock=clock)
    slow = breaker.acquire()  # issued while CLOSED
    breaker.record_failure()
    assert breaker.state == OPEN
    clock.advance(30)
    probe = breaker.acquire()
    slow.failure()  # a late verdict from before the breaker opened
    assert breaker.state == HALF_OPEN
    probe.success()
    assert breaker.state == CLOSED
    probe.failure()  # settled already: ignored
    assert breaker.state == CLOSED


def test_manual_record_and_reset() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == CLOSED
    breaker.record_failure()
    assert breaker.state == OPEN
    breaker.reset()
    assert breaker.state == CLOSED and breaker.failure_count == 0
    assert CircuitBreakerState.HALF_OPEN == HALF_OPEN
    assert "CLOSED" in repr(breaker)


async def test_manager_reset() -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=1, clock=Clock())
    await fail(manager, 1)
    manager.reset("example.com:443")
    assert (await call(manager, Script(200))).status_code == 200
    await fail(manager, 1)
    manager.reset()
    assert manager.get("example.com:443").state == CLOSED


async def test_execute_compat_api() -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=1, clock=Clock())

    async def ok(value: int) -> int:
        return value * 2

    async def boom() -> None:
        raise ConnectError("x")

    assert await manager.execute("h:1", ok, 21) == 42
    with pytest.raises(ConnectError):
        await manager.execute("h:1", boom)
    with pytest.raises(CircuitBreakerOpen):
        await manager.execute("h:1", ok, 1)
    breaker = await manager.get_circuit_breaker("h:1")
    assert breaker.state == OPEN

    async def server_error() -> Response:
        return Response(503)

    manager2 = DomainCircuitBreakerManager(failure_threshold=1, clock=Clock())
    await manager2.execute("h:1", server_error)
    assert manager2.get("h:1").state == OPEN


def test_max_domains_evicts_healthy_breakers_first() -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=5, max_domains=3, clock=Clock())
    manager.get("sick:1").record_failure()
    manager.get("a:1")
    manager.get("b:1")
    manager.get("c:1")
    assert set(manager.get_stats()) == {"sick:1", "b:1", "c:1"}
    assert manager.get("sick:1").failure_count == 1


# -- independence ----------------------------------------------------------------------------------


async def test_breaker_alone_never_retries() -> None:
    manager = DomainCircuitBreakerManager(clock=Clock())
    script = Script(ConnectError("x"), 200)
    with pytest.raises(ConnectError):
        await call(manager, script)
    assert script.calls == 1
    script = Script(503, 200)
    assert (await call(manager, script)).status_code == 503
    assert script.calls == 1


async def test_retry_alone_uses_no_breaker() -> None:
    script = Script(raiser(lambda: ConnectError("x")))
    with pytest.raises(hyperhttp.RetryError):
        await send_with_resilience(
            request(),
            script,
            retry=RetryPolicy(max_retries=10),
            breaker=None,
            telemetry=None,
            sleep=Sleeps(),
        )
    assert script.calls == 11  # no breaker opened after 5 failures


async def test_retry_and_breaker_together_count_each_attempt() -> None:
    manager = DomainCircuitBreakerManager(failure_threshold=5, clock=Clock())
    script = Script(503, 503, 200)
    response = await call(manager, script, retry=RetryPolicy())
    assert response.status_code == 200
    stats = manager.get_stats()["example.com:443"]
    assert stats["total_failures"] == 2 and stats["total_successes"] == 1
    assert stats["failure_count"] == 0
