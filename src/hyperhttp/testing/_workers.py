"""A small pool of daemon threads that runs user handlers off the event loop.

``concurrent.futures.ThreadPoolExecutor`` joins its (non-daemon) threads at interpreter exit,
so one handler sleeping forever would keep a test run from exiting. These workers are daemon
threads: ``stop()`` never waits for a handler, and a stuck handler never blocks shutdown.
The pool grows when every worker is busy (up to ``max_workers``) and idle workers exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_IDLE_EXIT_SECONDS = 30.0
_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class WorkerPool:
    """Runs callables on daemon threads and hands back ``concurrent.futures.Future`` objects."""

    def __init__(self, max_workers: int = 64, name: str = "hyperhttp-testing-worker") -> None:
        self._max = max_workers
        self._name = name
        self._jobs: queue.SimpleQueue[
            tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None
        ]
        self._jobs = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Schedule ``fn(*args)``; the returned future completes with its result or error."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is shut down")
            self._jobs.put((future, fn, args))
            if self._idle > 0:
                self._idle -= 1  # an idle worker will take it
            elif self._threads < self._max:
                self._threads += 1
                thread = threading.Thread(
                    target=self._run, name=f"{self._name}-{self._threads}", daemon=True
                )
                thread.start()
        return future

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=_IDLE_EXIT_SECONDS)
            except queue.Empty:
                with self._lock:
                    if not self._jobs.empty():
                        continue  # work arrived while we were timing out: stay
                    self._threads -= 1
                    self._idle -= 1
                return
            if job is None:
                with self._lock:
                    self._threads -= 1
                    self._idle -= 1
                return
            future, fn, args = job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Stop accepting work and let idle workers exit; running handlers are not waited for."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in range(self._threads):
                self._jobs.put(None)
