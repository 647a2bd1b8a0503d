"""Retries: hyperhttp.errors.retry.RetryPolicy applied by send_with_resilience (RT-01..RT-05)."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import os
import time
from collections.abc import AsyncIterator, Iterator

import pytest

import hyperhttp
from hyperhttp import (
    CircuitBreakerOpen,
    ConnectError,
    ConnectTimeout,
    DecompressionError,
    DNSError,
    HTTPStatusError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Response,
    RetryError,
    TimeoutException,
    TLSError,
    WriteError,
    WriteTimeout,
)
from hyperhttp.errors import send_with_resilience
from hyperhttp.errors.circuit_breaker import DomainCircuitBreakerManager
from hyperhttp.errors.retry import (
    DEFAULT_ALLOWED_METHODS,
    AttemptRecord,
    RetryPolicy,
    coerce_retry,
    parse_http_date,
    parse_retry_after,
)
from hyperhttp.utils.backoff import (
    ConstantBackoff,
    DecorrelatedJitterBackoff,
    ExponentialBackoff,
)

from .resilience_helpers import Clock, Script, Sleeps, raiser, request

NO_JITTER = ExponentialBackoff(base=0.5, factor=2.0, max_backoff=60.0, jitter=False)


def policy(**kwargs: object) -> RetryPolicy:
    kwargs.setdefault("backoff_strategy", NO_JITTER)
    return RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def run(
    req: hyperhttp.Request,
    script: Script,
    retry: RetryPolicy | None = None,
    sleeps: Sleeps | None = None,
    **kwargs: object,
) -> Response:
    return await send_with_resilience(
        req,
        script,
        retry=retry if retry is not None else policy(),
        breaker=kwargs.pop("breaker", None),  # type: ignore[arg-type]
        telemetry=None,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,  # type: ignore[arg-type]
    )


# -- the basics --------------------------------------------------------------------------------


async def test_success_first_time_no_sleep() -> None:
    script, sleeps = Script(200), Sleeps()
    response = await run(request(), script, sleeps=sleeps)
    assert response.status_code == 200
    assert script.calls == 1 and sleeps.delays == []
    (record,) = response.extensions["retry_history"]
    assert record == AttemptRecord(1, "GET", "https://example.com/x", status_code=200)


async def test_connect_error_is_retried_by_default() -> None:
    script, sleeps = Script(ConnectError("refused"), 200), Sleeps()
    response = await run(request(), script, RetryPolicy(backoff_strategy=NO_JITTER), sleeps)
    assert response.status_code == 200
    assert script.calls == 2
    assert sleeps.delays == [0.5]
    history = response.extensions["retry_history"]
    assert isinstance(history, tuple) and len(history) == 2
    assert isinstance(history[0].exception, ConnectError)
    assert history[0].category == "CONNECTION" and history[0].delay == 0.5
    assert history[1].status_code == 200 and history[1].delay is None


async def test_no_retry_when_policy_is_none_and_error_unwrapped() -> None:
    script = Script(ConnectError("refused"))
    with pytest.raises(ConnectError):
        await send_with_resilience(
            request(), script, retry=None, breaker=None, telemetry=None, sleep=Sleeps()
        )
    assert script.calls == 1


async def test_max_retries_zero_raises_first_error_unwrapped() -> None:
    script = Script(ReadTimeout("slow"))
    with pytest.raises(ReadTimeout):
        await run(request(), script, policy(max_retries=0))
    assert script.calls == 1


# -- RT-01: which methods, which phase -----------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize(
    "error", [ReadTimeout("t"), ReadError("reset"), WriteError("w"), RemoteProtocolError("p")]
)
async def test_rt01_non_idempotent_not_retried_after_sending(method: str, error: Exception) -> None:
    script = Script(error, 200)
    with pytest.raises(type(error)) as info:
        await run(request(method, content=b"x"), script)
    assert info.value is error  # unwrapped
    assert script.calls == 1


@pytest.mark.parametrize("method", sorted(DEFAULT_ALLOWED_METHODS))
async def test_rt01_idempotent_methods_retried_after_sending(method: str) -> None:
    script = Script(ReadTimeout("t"), 200)
    response = await run(request(method), script)
    assert response.status_code == 200 and script.calls == 2


@pytest.mark.parametrize(
    "error", [ConnectError("c"), DNSError("d"), ConnectTimeout("ct"), PoolTimeout("pt")]
)
async def test_rt01_connect_phase_errors_retried_for_any_method(error: Exception) -> None:
    script = Script(error, 200)
    response = await run(request("POST", content=b"payload"), script)
    assert response.status_code == 200 and script.calls == 2
    assert script.bodies == [b"payload", b"payload"]


async def test_rt01_allowed_methods_none_retries_post() -> None:
    script = Script(ReadTimeout("t"), 200)
    response = await run(request("POST", content=b"x"), script, policy(allowed_methods=None))
    assert response.status_code == 200 and script.calls == 2


async def test_rt01_allowed_methods_custom() -> None:
    script = Script(ReadTimeout("t"), 200)
    with pytest.raises(ReadTimeout):
        await run(request("DELETE"), script, policy(allowed_methods=["get"]))
    assert script.calls == 1


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Idempotency-Key"])
async def test_rt01_idempotency_key_makes_post_retryable(header: str) -> None:
    script = Script(ReadTimeout("t"), 200)
    req = request("POST", content=b"x", headers={header: "abc"})
    assert (await run(req, script)).status_code == 200
    assert script.calls == 2


async def test_idempotency_key_headers_can_be_disabled() -> None:
    script = Script(ReadTimeout("t"), 200)
    req = request("POST", content=b"x", headers={"Idempotency-Key": "abc"})
    with pytest.raises(ReadTimeout):
        await run(req, script, policy(idempotency_key_headers=()))


# -- categories -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "category", "retried"),
    [
        (ConnectError("x"), "CONNECTION", True),
        (hyperhttp.ProxyError("x"), "CONNECTION", True),
        (DNSError("x"), "DNS", True),
        (TLSError("x"), "TLS", False),
        (ConnectTimeout("x"), "TIMEOUT", True),
        (ReadTimeout("x"), "TIMEOUT", True),
        (WriteTimeout("x"), "TIMEOUT", True),
        (PoolTimeout("x"), "TIMEOUT", True),
        (ReadError("x"), "TRANSIENT", True),
        (WriteError("x"), "TRANSIENT", True),
        (RemoteProtocolError("x"), "PROTOCOL", True),
        (hyperhttp.LocalProtocolError("x"), "FATAL", False),
        (DecompressionError("x"), "FATAL", False),
        (hyperhttp.ResponseTooLarge("x"), "FATAL", False),
    ],
)
async def test_default_categories(error: Exception, category: str, retried: bool) -> None:
    script = Script(error, 200)
    if retried:
        response = await run(request(), script)
        assert response.extensions["retry_history"][0].category == category
        assert script.calls == 2
    else:
        with pytest.raises(type(error)):
            await run(request(), script)
        assert script.calls == 1


async def test_retry_categories_restrict_and_extend() -> None:
    script = Script(ConnectError("x"), 200)
    with pytest.raises(ConnectError):
        await run(request(), script, policy(retry_categories=["TIMEOUT"]))
    script = Script(TLSError("handshake"), 200)
    response = await run(request(), script, policy(retry_categories=["tls"]))
    assert response.status_code == 200


@pytest.mark.parametrize(("status", "category"), [(503, "SERVER"), (429, "RATE_LIMIT")])
async def test_http_status_error_from_send_once_uses_status_category(
    status: int, category: str
) -> None:
    def fail(req: hyperhttp.Request) -> Exception:
        return HTTPStatusError("bad", request=req, response=Response(status, request=req))

    script = Script(fail, 200)
    response = await run(request(), script)
    assert response.extensions["retry_history"][0].category == category
    assert script.calls == 2


async def test_http_status_error_4xx_is_client_not_retried() -> None:
    def fail(req: hyperhttp.Request) -> Exception:
        return HTTPStatusError("bad", request=req, response=Response(404, request=req))

    with pytest.raises(HTTPStatusError):
        await run(request(), Script(fail, 200))


# -- RT-02: bounded attempts, RetryError ------------------------------------------------------


async def test_rt02_exhausted_raises_retry_error_with_history() -> None:
    script, sleeps = Script(raiser(lambda: ReadTimeout("slow"))), Sleeps()
    with pytest.raises(RetryError) as info:
        await run(request(), script, policy(max_retries=3), sleeps)
    error = info.value
    assert isinstance(error, hyperhttp.HyperHTTPError)
    assert script.calls == 4
    assert sleeps.delays == [0.5, 1.0, 2.0]
    assert isinstance(error.last_exception, ReadTimeout)
    assert error.original_exception is error.last_exception
    assert error.__cause__ is error.last_exception
    assert error.request is not None and error.request.method == "GET"
    assert isinstance(error.history, tuple) and len(error.history) == 4
    assert [r.attempt for r in error.history] == [1, 2, 3, 4]
    assert [r.delay for r in error.history] == [0.5, 1.0, 2.0, None]
    assert error.history[-1].exception is error.last_exception
    assert "max_retries=3" in error.history[-1].note
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.history[0].delay = 9  # type: ignore[misc]


async def test_rt02_a_retry_is_never_retried_beyond_the_budget() -> None:
    script = Script(raiser(lambda: ConnectError("x")))
    with pytest.raises(RetryError):
        await run(request(), script, policy(max_retries=1))
    assert script.calls == 2


async def test_fatal_error_after_a_retry_is_wrapped() -> None:
    fatal = DecompressionError("bad gzip")
    script = Script(ConnectError("x"), fatal)
    with pytest.raises(RetryError) as info:
        await run(request(), script)
    assert info.value.last_exception is fatal
    assert "FATAL" in info.value.history[-1].note
    assert script.calls == 2


async def test_non_hyperhttp_errors_propagate_untouched() -> None:
    bug = ValueError("hook bug")
    with pytest.raises(ValueError) as info:
        await run(request(), Script(bug, 200))
    assert info.value is bug
    script = Script(ConnectError("x"), bug)
    with pytest.raises(ValueError):
        await run(request(), script)
    assert script.calls == 2


async def test_retry_error_message_has_no_credentials() -> None:
    req = request(url="https://user:secret@example.com/x")
    with pytest.raises(RetryError) as info:
        await run(req, Script(raiser(lambda: ConnectError("x"))), policy(max_retries=1))
    assert "secret" not in str(info.value) and "secret" not in repr(info.value)
    assert all("secret" not in r.url for r in info.value.history)


# -- cancellation ------------------------------------------------------------------------------


async def test_cancelled_error_from_send_propagates_untouched() -> None:
    cancel = asyncio.CancelledError()
    script = Script(cancel, 200)
    with pytest.raises(asyncio.CancelledError) as info:
        await run(request(), script)
    assert info.value is cancel
    assert script.calls == 1


async def test_cancelled_during_backoff_sleep_propagates() -> None:
    async def cancelled_sleep(delay: float) -> None:
        raise asyncio.CancelledError

    script = Script(ConnectError("x"), 200)
    with pytest.raises(asyncio.CancelledError):
        await send_with_resilience(
            request(), script, retry=policy(), breaker=None, telemetry=None, sleep=cancelled_sleep
        )
    assert script.calls == 1


async def test_task_cancel_while_sleeping_for_real() -> None:
    started = asyncio.Event()

    async def send_once(req: hyperhttp.Request) -> Response:
        started.set()
        raise ConnectError("x")

    task = asyncio.ensure_future(
        send_with_resilience(
            request(),
            send_once,
            retry=RetryPolicy(backoff_strategy=ConstantBackoff(30.0)),
            breaker=None,
            telemetry=None,
        )
    )
    await started.wait()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


# -- status codes --------------------------------------------------------------------------------


async def test_status_retry_closes_the_discarded_response() -> None:
    script, sleeps = Script(503, 502, 200, stream_bodies=True), Sleeps()
    response = await run(request(), script, sleeps=sleeps)
    assert response.status_code == 200 and script.calls == 3
    first, second, last = script.responses
    assert first.is_closed and first.stream.closed  # type: ignore[attr-defined]
    assert second.is_closed
    assert not last.is_closed  # handed to the caller unread
    assert sleeps.delays == [0.5, 1.0]
    assert [r.status_code for r in response.extensions["retry_history"]] == [503, 502, 200]


async def test_status_retries_exhausted_return_last_response_unread() -> None:
    script = Script(500, stream_bodies=True)
    response = await run(request(), script, policy(max_retries=2))
    assert response.status_code == 500 and script.calls == 3
    assert response is script.responses[-1] and not response.is_closed
    assert [r.delay for r in response.extensions["retry_history"]] == [0.5, 1.0, None]


async def test_raise_on_status_raises_retry_error_with_read_response() -> None:
    script = Script(503, stream_bodies=True)
    with pytest.raises(RetryError) as info:
        await run(request(), script, policy(max_retries=1, raise_on_status=True))
    error = info.value
    assert error.response is script.responses[-1]
    assert error.response is not None and error.response.content == b"body"
    assert error.last_exception is None and len(error.history) == 2


@pytest.mark.parametrize("status", [200, 301, 404, 501])
async def test_status_not_in_force_list_returned(status: int) -> None:
    script = Script(status, 200)
    assert (await run(request(), script)).status_code == status
    assert script.calls == 1


async def test_custom_status_force_list() -> None:
    script = Script(409, 200)
    assert (await run(request(), script, policy(status_force_list=[409]))).status_code == 200
    script = Script(503, 200)
    assert (await run(request(), script, policy(status_force_list=[409]))).status_code == 503


async def test_status_retry_needs_an_allowed_method() -> None:
    script = Script(503, 200)
    response = await run(request("POST", content=b"x"), script)
    assert response.status_code == 503 and script.calls == 1
    assert "allowed_methods" in response.extensions["retry_history"][0].note


# -- RT-03: Retry-After --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        ("\t42 ", 42.0),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("\u00b2", None),
        ("1e3", None),
        ("99999999999", 99999999999.0),
        ("", None),
        ("garbage", None),
        ("4 2", None),
        ("\u0663", None),
        ("Mon, 03 Jun 2019 11:30:12 UTC", None),
    ],
)
def test_rt03_parse_retry_after_seconds(value: str, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_rt03_parse_retry_after_huge_numbers_never_overflow() -> None:
    assert parse_retry_after("9" * 5000) == float("inf")
    assert parse_retry_after("1" + "0" * 400) == float("inf")


DATE_NOW = 1559561400.0  # Mon, 03 Jun 2019 11:30:00 GMT


@pytest.fixture(params=["UTC", "America/Los_Angeles", "Asia/Tokyo"])
def local_timezone(request: pytest.FixtureRequest) -> Iterator[str]:
    if not hasattr(time, "tzset"):  # pragma: no cover
        pytest.skip("no time.tzset")
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 03 Jun 2019 11:30:12 GMT",
        "Monday, 03-Jun-19 11:30:12 GMT",
        "Mon Jun  3 11:30:12 2019",
    ],
)
def test_rt03_http_dates_in_every_timezone(value: str, local_timezone: str) -> None:
    assert parse_http_date(value) == DATE_NOW + 12
    assert parse_retry_after(value, now=DATE_NOW) == 12.0


def test_rt03_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Mon, 03 Jun 2019 11:30:12 GMT", now=DATE_NOW + 3600) == 0.0


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 32 Jun 2019 11:30:12 GMT",
        "Mon, 03 Foo 2019 11:30:12 GMT",
        "Mon, 03 Jun 2019 25:30:12 GMT",
        "Mon 03 Jun 2019 11:30:12 GMT",
        "mon, 03 jun 2019 11:30:12 gmt",
        "Mon, 03 Jun 2019 11:30:12 GMT trailing",
    ],
)
def test_rt03_invalid_dates_ignored(value: str) -> None:
    assert parse_retry_after(value, now=DATE_NOW) is None


def test_rfc850_two_digit_year_uses_the_fifty_year_rule() -> None:
    now = parse_http_date("Mon, 03 Jun 2019 11:30:12 GMT")
    assert now is not None
    assert parse_http_date("Sunday, 03-Jun-68 11:30:12 GMT", now=now) == parse_http_date(
        "Sun, 03 Jun 2068 11:30:12 GMT"
    )
    assert parse_http_date("Thursday, 03-Jun-70 11:30:12 GMT", now=now) == parse_http_date(
        "Thu, 03 Jun 1970 11:30:12 GMT"
    )


@pytest.mark.parametrize("status", [413, 429, 503])
async def test_rt03_retry_after_honoured_on_413_429_503(status: int) -> None:
    script, sleeps = Script((status, {"Retry-After": "7"}), 200), Sleeps()
    force = [413, 429, 503]
    response = await run(request(), script, policy(status_force_list=force), sleeps)
    assert response.status_code == 200
    assert sleeps.delays == [7.0]


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_rt03_retry_after_not_honoured_on_other_statuses(status: int) -> None:
    script, sleeps = Script((status, {"Retry-After": "7"}), 200), Sleeps()
    await run(request(), script, sleeps=sleeps)
    assert sleeps.delays == [0.5]


async def test_rt03_retry_after_status_codes_configurable() -> None:
    script, sleeps = Script((500, {"Retry-After": "7"}), 200), Sleeps()
    await run(request(), script, policy(retry_after_status_codes=[500]), sleeps)
    assert sleeps.delays == [7.0]


async def test_rt03_respect_retry_after_false_uses_backoff() -> None:
    script, sleeps = Script((503, {"Retry-After": "7"}), 200), Sleeps()
    await run(request(), script, policy(respect_retry_after=False), sleeps)
    assert sleeps.delays == [0.5]


@pytest.mark.parametrize("value", ["-1", "+1", "1.0", "\u00b2", "1e3", "garbage"])
async def test_rt03_invalid_retry_after_falls_back_to_backoff(value: str) -> None:
    script, sleeps = Script((503, {"Retry-After": value}), 200), Sleeps()
    await run(request(), script, sleeps=sleeps)
    assert sleeps.delays == [0.5]


async def test_rt03_huge_retry_after_capped_at_six_hours() -> None:
    script, sleeps = Script((429, {"Retry-After": "99999999999"}), 200), Sleeps()
    await run(request(), script, sleeps=sleeps)
    assert sleeps.delays == [6 * 3600.0]


async def test_rt03_retry_after_max_configurable() -> None:
    script, sleeps = Script((429, {"Retry-After": "120"}), 200), Sleeps()
    await run(request(), script, policy(retry_after_max=10), sleeps)
    assert sleeps.delays == [10.0]


async def test_rt03_retry_after_http_date() -> None:
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    script, sleeps = (
        Script((503, {"Retry-After": future}), (503, {"Retry-After": past}), 200),
        Sleeps(),
    )
    await run(request(), script, sleeps=sleeps)
    assert 27 <= sleeps.delays[0] <= 30
    assert sleeps.delays[1] == 0.0


# -- RT-05: bodies ------------------------------------------------------------------------------


async def test_rt05_bytes_body_replayed_identically() -> None:
    script = Script(ReadError("reset"), 503, 200)
    req = request("PUT", content=b"\x00payload\xff")
    assert (await run(req, script)).status_code == 200
    assert script.bodies == [b"\x00payload\xff"] * 3


async def test_rt05_replayable_iterable_body_replayed() -> None:
    script = Script(ReadError("reset"), 200)
    req = request("PUT", content=[b"a", b"b"])
    assert (await run(req, script)).status_code == 200
    assert script.bodies == [b"ab", b"ab"]


async def _one_shot() -> AsyncIterator[bytes]:
    yield b"chunk1"
    yield b"chunk2"


@pytest.mark.parametrize(
    "error", [ReadError("connection reset"), ConnectError("refused"), ReadTimeout("slow")]
)
async def test_rt05_one_shot_stream_not_retried_with_a_note(error: Exception) -> None:
    script = Script(error, 200)
    req = request("PUT", content=_one_shot())
    with pytest.raises(type(error)) as info:
        await run(req, script)
    assert info.value is error
    assert script.calls == 1
    assert script.bodies == [b"chunk1chunk2"]
    assert "one-shot stream" in str(info.value)
    assert "replayable" in str(info.value)


async def test_rt05_one_shot_stream_status_not_retried() -> None:
    script = Script(503, 200)
    response = await run(request("PUT", content=_one_shot()), script)
    assert response.status_code == 503 and script.calls == 1
    assert "one-shot" in response.extensions["retry_history"][0].note


async def test_rt05_one_shot_stream_made_replayable_by_aread() -> None:
    req = request("PUT", content=_one_shot())
    await req.aread()
    script = Script(ReadError("reset"), 200)
    assert (await run(req, script)).status_code == 200
    assert script.bodies == [b"chunk1chunk2"] * 2


# -- deadline ------------------------------------------------------------------------------------


async def test_deadline_stops_a_sleep_that_would_cross_it() -> None:
    clock = Clock(100.0)
    sleeps = Sleeps(clock)
    script = Script(raiser(lambda: ReadTimeout("slow")))
    with pytest.raises(TimeoutException) as info:
        await run(request(), script, sleeps=sleeps, deadline=101.0, clock=clock)
    assert type(info.value) is TimeoutException
    assert isinstance(info.value.__cause__, ReadTimeout)
    assert "total timeout" in str(info.value)
    assert info.value.request is not None
    # 0.5 s fits before the deadline, the next 1.0 s does not.
    assert sleeps.delays == [0.5] and script.calls == 2


async def test_deadline_with_status_returns_last_response() -> None:
    clock, sleeps = Clock(100.0), Sleeps()
    script = Script((503, {"Retry-After": "30"}), 200, stream_bodies=True)
    response = await run(request(), script, sleeps=sleeps, deadline=110.0, clock=clock)
    assert response.status_code == 503 and not response.is_closed
    assert sleeps.delays == [] and script.calls == 1


async def test_deadline_uses_loop_time_by_default() -> None:
    deadline = asyncio.get_running_loop().time() + 0.75
    with pytest.raises(TimeoutException):
        await run(request(), Script(raiser(lambda: ConnectError("x"))), deadline=deadline)


# -- backoff state -------------------------------------------------------------------------------


async def test_backoff_uses_retry_interval_factor() -> None:
    sleeps = Sleeps()
    with pytest.raises(RetryError):
        await run(
            request(),
            Script(raiser(lambda: ConnectError("x"))),
            policy(retry_interval_factor=2.0),
            sleeps,
        )
    assert sleeps.delays == [1.0, 2.0, 4.0]


async def test_decorrelated_jitter_state_is_per_request() -> None:
    strategy = DecorrelatedJitterBackoff(base=1.0, max_backoff=1000.0)
    shared = RetryPolicy(max_retries=6, backoff_strategy=strategy)
    gate = asyncio.Event()
    slow_sleeps: list[float] = []

    async def fast_sleep(delay: float) -> None:
        await asyncio.sleep(0)

    async def slow_sleep(delay: float) -> None:
        slow_sleeps.append(delay)
        await gate.wait()

    slow = asyncio.ensure_future(
        send_with_resilience(
            request(),
            Script(ConnectError("x"), 200),
            retry=shared,
            breaker=None,
            telemetry=None,
            sleep=slow_sleep,
        )
    )
    fast_sleeps = Sleeps()
    with pytest.raises(RetryError):
        await send_with_resilience(
            request(),
            Script(raiser(lambda: ConnectError("x"))),
            retry=shared,
            breaker=None,
            telemetry=None,
            sleep=fast_sleeps,
        )
    gate.set()
    assert (await slow).status_code == 200
    # each request's first delay is drawn from [base, 3 * base], whatever the other did
    assert 1.0 <= slow_sleeps[0] <= 3.0
    assert 1.0 <= fast_sleeps.delays[0] <= 3.0
    assert strategy.previous_backoff == 1.0  # the shared instance itself was never used


# -- breaker interplay and coerce_retry ------------------------------------------------------------


async def test_open_breaker_during_retries_raises_circuit_breaker_open() -> None:
    breaker = DomainCircuitBreakerManager(failure_threshold=2, clock=Clock())
    script = Script(raiser(lambda: ConnectError("x")))
    with pytest.raises(CircuitBreakerOpen) as info:
        await run(request(), script, policy(max_retries=5), breaker=breaker)
    assert script.calls == 2
    assert info.value.host == "example.com:443"


def test_coerce_retry() -> None:
    assert coerce_retry(None) is None
    assert coerce_retry(False) is None
    default = coerce_retry(True)
    assert isinstance(default, RetryPolicy) and default.max_retries == 3
    custom = RetryPolicy(max_retries=1)
    assert coerce_retry(custom) is custom
    five = coerce_retry(5)
    assert five is not None and five.max_retries == 5
    with pytest.raises(TypeError):
        coerce_retry("yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        coerce_retry(-1)


def test_retry_policy_defaults() -> None:
    p = RetryPolicy()
    assert p.max_retries == 3
    assert p.status_force_list == frozenset({429, 500, 502, 503, 504})
    assert p.allowed_methods == frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
    assert p.retry_categories == frozenset(
        {"CONNECTION", "DNS", "TIMEOUT", "TRANSIENT", "PROTOCOL", "SERVER", "RATE_LIMIT"}
    )
    assert p.retry_after_status_codes == frozenset({413, 429, 503})
    assert p.retry_after_max == 21600.0
    assert p.respect_retry_after is True and p.raise_on_status is False
    assert isinstance(p.backoff_strategy, ExponentialBackoff)
    assert "RetryPolicy(max_retries=3" in repr(p)


def test_retry_policy_is_immutable_and_replace() -> None:
    p = RetryPolicy()
    with pytest.raises(AttributeError):
        p.max_retries = 9  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.max_retries
    q = p.replace(max_retries=1, allowed_methods=None)
    assert q.max_retries == 1 and q.allowed_methods is None and p.max_retries == 3
    with pytest.raises(TypeError):
        p.replace(nope=1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_retries": -1}, ValueError),
        ({"max_retries": "3"}, TypeError),
        ({"max_retries": True}, TypeError),
        ({"retry_categories": "TIMEOUT"}, TypeError),
        ({"allowed_methods": "GET"}, TypeError),
        ({"backoff_strategy": 1.5}, TypeError),
        ({"retry_after_max": -1}, ValueError),
        ({"retry_after_max": float("nan")}, ValueError),
        ({"retry_interval_factor": "2"}, TypeError),
    ],
)
def test_retry_policy_validation(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_should_retry_compat_helper() -> None:
    p = policy()
    assert p.should_retry(ReadTimeout("x")) == (True, 0.5)
    assert p.should_retry(TLSError("x")) == (False, 0.0)
    assert p.should_retry(ReadTimeout("x"), retry_count=3) == (False, 0.0)
    assert p.should_retry(None, Response(503, headers={"Retry-After": "4"})) == (True, 4.0)
    assert p.should_retry(None, Response(500), retry_count=1) == (True, 1.0)
    assert p.should_retry(None, Response(404)) == (False, 0.0)
    assert p.should_retry(None) == (False, 0.0)


def test_errors_module_reexports_2x_names() -> None:
    from hyperhttp.errors import retry

    assert retry.RetryError is hyperhttp.RetryError
    record = AttemptRecord(1, "GET", "u", delay=1.0)
    assert record.retried and not dataclasses.replace(record, delay=None).retried
