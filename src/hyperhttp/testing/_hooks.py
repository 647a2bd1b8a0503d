"""Post hooks for ``RequestHandler.with_post_hook``: ``(request, response) -> response``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from werkzeug import Request, Response

__all__ = ["Chain", "Delay", "Garbage"]

Hook = Callable[[Request, Response], Response]


class Chain:
    """Run several hooks in order, each receiving the response the previous one returned."""

    def __init__(self, *args: Hook) -> None:
        self._hooks = args

    def __call__(self, request: Request, response: Response) -> Response:
        for hook in self._hooks:
            response = hook(request, response)
        return response


class Delay:
    """Sleep ``seconds`` before returning the response unchanged.

    The sleep runs on the handler's worker thread, so other connections keep being served;
    for a delay applied on the wire instead, use ``Fault.delay``.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def _sleep(self) -> None:
        time.sleep(self._seconds)

    def __call__(self, _request: Request, response: Response) -> Response:
        self._sleep()
        return response


class _SizeError(ValueError, AssertionError):
    """A negative size: a ValueError, and an AssertionError as pytest-httpserver raises."""


class Garbage:
    """Add random bytes before (``prefix_size``) and after (``suffix_size``) the body."""

    def __init__(self, prefix_size: int = 0, suffix_size: int = 0) -> None:
        if prefix_size < 0:
            raise _SizeError("prefix_size should be positive integer")
        if suffix_size < 0:
            raise _SizeError("suffix_size should be positive integer")
        self._prefix_size = prefix_size
        self._suffix_size = suffix_size

    def _get_garbage_bytes(self, size: int) -> bytes:
        return os.urandom(size)

    def __call__(self, _request: Request, response: Response) -> Response:
        prefix = self._get_garbage_bytes(self._prefix_size)
        suffix = self._get_garbage_bytes(self._suffix_size)
        response.set_data(prefix + response.get_data() + suffix)
        return response
