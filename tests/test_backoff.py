"""Backoff strategies (hyperhttp.utils.backoff) -- RT-04."""

from __future__ import annotations

import random

import pytest

from hyperhttp.utils.backoff import (
    AdaptiveBackoff,
    BackoffStrategy,
    ConstantBackoff,
    DecorrelatedJitterBackoff,
    ExponentialBackoff,
)

from .resilience_helpers import Clock


def test_exponential_growth_without_jitter() -> None:
    b = ExponentialBackoff(base=0.5, factor=2.0, max_backoff=60.0, jitter=False)
    assert [b.calculate_backoff(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 32, 60]


def test_exponential_cap_and_no_overflow() -> None:
    b = ExponentialBackoff(base=1.0, factor=10.0, max_backoff=5.0, jitter=False)
    assert b.calculate_backoff(10_000) == 5.0
    assert ExponentialBackoff(max_backoff=7.0).calculate_backoff(10**6) <= 7.0


def test_exponential_jitter_is_bounded() -> None:
    b = ExponentialBackoff(base=1.0, factor=2.0, max_backoff=10.0, rng=random.Random(1))
    for n in range(10):
        expected = min(10.0, 2.0**n)
        for _ in range(50):
            assert expected / 2 <= b.calculate_backoff(n) <= expected
    assert len({b.calculate_backoff(3) for _ in range(20)}) > 1


def test_exponential_zero_base() -> None:
    assert ExponentialBackoff(base=0.0).calculate_backoff(5) == 0.0


def test_decorrelated_jitter_bounds() -> None:
    b = DecorrelatedJitterBackoff(base=1.0, max_backoff=20.0, rng=random.Random(7))
    previous = 1.0
    for n in range(30):
        delay = b.calculate_backoff(n)
        assert 1.0 <= delay <= min(20.0, 3 * previous)
        previous = delay


def test_decorrelated_jitter_cap_limits_range() -> None:
    b = DecorrelatedJitterBackoff(base=1.0, max_backoff=100.0, jitter_cap=2.0, rng=random.Random(3))
    assert all(b.calculate_backoff(n) <= 2.0 for n in range(20))


def test_decorrelated_jitter_restarts_at_retry_zero() -> None:
    b = DecorrelatedJitterBackoff(base=1.0, max_backoff=1000.0, rng=random.Random(5))
    for n in range(10):
        b.calculate_backoff(n)
    assert b.previous_backoff > 3.0
    assert 1.0 <= b.calculate_backoff(0) <= 3.0


def test_decorrelated_jitter_new_state_is_independent() -> None:
    shared = DecorrelatedJitterBackoff(base=1.0, max_backoff=1000.0)
    a, b = shared.new_state(), shared.new_state()
    assert a is not shared and a is not b
    for n in range(10):
        a.calculate_backoff(n)
    assert b.previous_backoff == 1.0 and shared.previous_backoff == 1.0
    assert 1.0 <= b.calculate_backoff(1) <= 3.0


def test_stateless_strategies_share_themselves() -> None:
    e = ExponentialBackoff()
    assert e.new_state() is e
    c = ConstantBackoff(0.25)
    assert c.new_state() is c and c.calculate_backoff(9) == 0.25


def test_adaptive_backs_off_harder_when_errors_are_frequent() -> None:
    clock = Clock()
    b = AdaptiveBackoff(base=0.5, max_backoff=60.0, window_size=10, clock=clock)
    assert b.calculate_backoff(0) == 0.5  # one error: no rate yet
    clock.advance(10.0)
    assert b.calculate_backoff(0) == pytest.approx(0.5 * 1.1)  # 0.1 errors/s
    for _ in range(8):
        clock.advance(0.01)
        b.calculate_backoff(0)
    assert b.calculate_backoff(0) == 5.0  # capped at 10x
    assert b.calculate_backoff(20) == 60.0
    assert b.new_state() is b  # shared on purpose


def test_adaptive_relaxes_on_success() -> None:
    clock = Clock()
    b = AdaptiveBackoff(base=1.0, window_size=5, clock=clock)
    for _ in range(5):
        b.calculate_backoff(0)
    assert b.error_rate() == float("inf")
    for _ in range(5):
        b.record_success()
    assert b.error_rate() == 0.0
    b.record_success()  # empty: nothing to forget


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (lambda: ExponentialBackoff(base=-1), ValueError),
        (lambda: ExponentialBackoff(max_backoff=float("nan")), ValueError),
        (lambda: ExponentialBackoff(factor="2"), TypeError),
        (lambda: DecorrelatedJitterBackoff(jitter_cap=-1), ValueError),
        (lambda: AdaptiveBackoff(window_size=1), ValueError),
        (lambda: ConstantBackoff(-0.1), ValueError),
        (lambda: ConstantBackoff(True), TypeError),
    ],
)
def test_validation(factory: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        factory()  # type: ignore[operator]


def test_custom_strategy_subclass() -> None:
    class Fixed(BackoffStrategy):
        def calculate_backoff(self, retry_count: int) -> float:
            return 1.5

    fixed = Fixed()
    assert fixed.calculate_backoff(0) == 1.5 and fixed.new_state() is fixed
    fixed.record_success()


def test_reprs() -> None:
    assert "ExponentialBackoff(base=0.5" in repr(ExponentialBackoff())
    assert "DecorrelatedJitterBackoff(" in repr(DecorrelatedJitterBackoff())
    assert "AdaptiveBackoff(" in repr(AdaptiveBackoff())
    assert "ConstantBackoff(" in repr(ConstantBackoff())
