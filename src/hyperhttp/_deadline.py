"""``Timeout(total=...)``: one deadline over a whole request (redirects, retries, auth rounds).

The scope cancels the task when the deadline passes and turns that cancellation, and only
that one, into :class:`~hyperhttp.TimeoutException`. A cancellation from outside (the caller's
own ``asyncio.timeout``, ``task.cancel()``) still propagates as ``CancelledError``
(checklist CN-04): on Python 3.11+ this is ``asyncio.timeout``'s own bookkeeping
(``Task.uncancel``); on 3.10 the scope checks whether its timer is what fired.
"""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType

from ._exceptions import TimeoutException

__all__ = ["DeadlineScope"]


class DeadlineScope:
    """``async with DeadlineScope(deadline, total):`` — ``deadline`` is a ``loop.time()``."""

    __slots__ = ("_deadline", "_fired", "_handle", "_inner", "_task", "_total")

    def __init__(self, deadline: float | None, total: float | None) -> None:
        self._deadline = deadline
        self._total = total
        self._inner: asyncio.Timeout | None = None  # type: ignore[name-defined,unused-ignore]
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._fired = False

    async def __aenter__(self) -> DeadlineScope:
        if self._deadline is None:
            return self
        if sys.version_info >= (3, 11):
            self._inner = asyncio.timeout_at(self._deadline)
            await self._inner.__aenter__()
        else:  # pragma: no cover - exercised on 3.10 only
            loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            self._handle = loop.call_at(self._deadline, self._fire)
        return self

    def _fire(self) -> None:  # pragma: no cover - 3.10 only
        self._fired = True
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._deadline is None:
            return
        if self._inner is not None:
            try:
                await self._inner.__aexit__(exc_type, exc, tb)
            except TimeoutError:
                raise TimeoutException(
                    f"the request did not complete within its total timeout of {self._total} s"
                ) from None
            return
        if self._handle is not None:  # pragma: no cover - 3.10 only
            self._handle.cancel()
        if self._fired and exc_type is asyncio.CancelledError:  # pragma: no cover
            raise TimeoutException(
                f"the request did not complete within its total timeout of {self._total} s"
            ) from None
