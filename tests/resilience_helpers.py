"""Fakes for driving send_with_resilience without a network or real sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from hyperhttp import Request, Response
from hyperhttp._models import ResponseStream


class TrackingStream(ResponseStream):
    """An unread response body that remembers whether it was closed."""

    def __init__(self, data: bytes = b"body") -> None:
        self.data = data
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        yield self.data

    async def aclose(self) -> None:
        self.closed = True


class Sleeps:
    """An injected sleep that records its delays and returns at once (advancing ``clock``,
    if given, by the delay)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.clock is not None:
            self.clock.advance(delay)


class Clock:
    """A settable clock."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Outcome = Any  # an int status, (status, headers), an exception, or a callable(request)


class Script:
    """A fake ``send_once``: returns or raises the scripted outcomes in order (the last one
    repeats). Records each request and the body bytes it would have sent."""

    def __init__(self, *outcomes: Outcome, stream_bodies: bool = False) -> None:
        assert outcomes
        self.outcomes = list(outcomes)
        self.calls = 0
        self.bodies: list[bytes] = []
        self.responses: list[Response] = []
        self.stream_bodies = stream_bodies

    async def __call__(self, request: Request) -> Response:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if request.stream is not None:
            self.bodies.append(b"".join([chunk async for chunk in request.stream]))
        if callable(outcome) and not isinstance(outcome, type):
            outcome = outcome(request)
        if isinstance(outcome, BaseException):
            raise outcome
        headers: dict[str, str] = {}
        if isinstance(outcome, tuple):
            outcome, headers = outcome
        stream = TrackingStream() if self.stream_bodies else None
        response = Response(outcome, headers=headers, request=request, stream=stream)
        self.responses.append(response)
        return response


def request(method: str = "GET", url: str = "https://example.com/x", **kwargs: Any) -> Request:
    return Request(method, url, **kwargs)


def raiser(exc_factory: Callable[[], BaseException]) -> Callable[[Request], BaseException]:
    """A fresh exception per attempt."""
    return lambda _request: exc_factory()
