"""The per-host token bucket (GCRA): rates, bursts, fairness, hosts apart, bounds."""

from __future__ import annotations

import pytest

import hyperhttp
from hyperhttp import Client, MockResponse, MockTransport, RateLimit
from hyperhttp._ratelimit import MAX_RATE_LIMITED_HOSTS, RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(round(delay, 6))
        self.now += delay


async def test_rate_without_burst_spaces_requests_evenly() -> None:
    time = FakeTime()
    limiter = RateLimiter(RateLimit(10), clock=time.clock, sleep=time.sleep)
    for _ in range(4):
        await limiter.acquire("h:443")
    assert time.sleeps == [0.1, 0.1, 0.1]


async def test_burst_goes_at_once_then_the_rate_applies() -> None:
    time = FakeTime()
    limiter = RateLimiter(RateLimit(10, burst=3), clock=time.clock, sleep=time.sleep)
    delays = [limiter.delay_for("h:443") for _ in range(5)]
    assert delays == pytest.approx([0, 0, 0, 0.1, 0.2])


async def test_bucket_refills_while_idle_up_to_the_burst_only() -> None:
    time = FakeTime()
    limiter = RateLimiter(RateLimit(10, burst=2), clock=time.clock, sleep=time.sleep)
    for _ in range(2):
        limiter.delay_for("h")
    time.now += 60  # a long quiet spell refills two tokens, not six hundred
    assert [limiter.delay_for("h") for _ in range(3)] == pytest.approx([0, 0, 0.1])


async def test_hosts_have_separate_buckets() -> None:
    time = FakeTime()
    limiter = RateLimiter(RateLimit(1), clock=time.clock, sleep=time.sleep)
    assert limiter.delay_for("a:443") == 0
    assert limiter.delay_for("b:443") == 0
    assert limiter.delay_for("a:443") == pytest.approx(1.0)


async def test_waiters_are_served_in_arrival_order() -> None:
    time = FakeTime()
    limiter = RateLimiter(RateLimit(4), clock=time.clock, sleep=time.sleep)
    # Concurrent callers reserve successive slots: 0, .25, .5, .75 s.
    assert [limiter.delay_for("h") for _ in range(4)] == pytest.approx([0, 0.25, 0.5, 0.75])


def test_memory_is_bounded_by_the_host_cap() -> None:
    time = FakeTime()
    limiter = RateLimiter(RateLimit(1), clock=time.clock)
    for i in range(MAX_RATE_LIMITED_HOSTS + 1):
        limiter.delay_for(f"host{i}:80")
    assert len(limiter._tat) == MAX_RATE_LIMITED_HOSTS
    assert limiter.delay_for("host0:80") == 0  # forgotten: its bucket is full again


@pytest.mark.parametrize(
    ("rate", "burst", "error"),
    [
        (0, 1, ValueError),
        (-1, 1, ValueError),
        (float("nan"), 1, ValueError),
        (1, 0, ValueError),
        ("5", 1, TypeError),
        (True, 1, TypeError),
    ],
)
def test_invalid_limits_fail_at_construction(rate: object, burst: int, error: type) -> None:
    with pytest.raises(error):
        RateLimit(rate, burst=burst)  # type: ignore[arg-type]


async def test_client_rate_limit_applies_per_attempt_and_per_host() -> None:
    time = FakeTime()
    mock = MockTransport(MockResponse(200))
    client = Client(transport=mock, rate_limit=RateLimit(2))
    client._sleep = time.sleep
    client._rate_limiter._clock = time.clock  # type: ignore[union-attr]
    async with client:
        for _ in range(3):
            await client.get("https://a.example/")
        await client.get("https://b.example/")
    assert time.sleeps == [0.5, 0.5]
    assert mock.call_count == 4


async def test_client_rate_limit_counts_redirect_hops() -> None:
    time = FakeTime()
    router = (
        hyperhttp.Router()
        .get("/a", lambda _: MockResponse(302, headers={"Location": "/b"}))
        .get("/b", lambda _: MockResponse(200))
    )
    client = Client(transport=MockTransport(router), rate_limit=1.0, follow_redirects=True)
    client._sleep = time.sleep
    client._rate_limiter._clock = time.clock  # type: ignore[union-attr]
    async with client:
        await client.get("https://h/a")
    assert time.sleeps == [1.0]
