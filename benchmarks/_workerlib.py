"""What the benchmark workers share (``_worker.py``, ``_worker_h2.py``).

Standard library only: the workers run in the project venv and in the peer venvs alike.
Here: the adapter interface, the bounded request loop that checks every response, the
timed measurement (warm-up, then wall and CPU time), the event loop and the command line
that prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

# fetch(url) -> (status, body, protocol seen: "" where the worker does not report it)
Fetch = Callable[[str], Awaitable[tuple[int, bytes, str]]]


class Unavailable(Exception):
    """The client under test cannot be imported or constructed."""


def import_client(name: str) -> Any:
    """Import the client's module; any failure makes it "unavailable"."""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc


class Adapter:
    """One client object reused for the whole run, as users do."""

    name = ""

    async def __aenter__(self) -> Fetch:
        raise NotImplementedError

    async def __aexit__(self, *exc: object) -> None:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def module_file(self) -> str:
        return ""

    def extras(self, c: Counters, warm: Counters, wall: float, expected: bytes) -> dict[str, Any]:
        """More result fields, read after the timed part (the client still open)."""
        return {}


class Counters:
    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.invalid = 0
        self.first_error = ""
        self.first_invalid = ""
        self.protocol = ""


async def run_requests(
    fetch: Fetch, url: str, expected: bytes, total: int, concurrency: int, c: Counters
) -> None:
    """``total`` GETs: one task awaiting them in sequence, or ``concurrency`` tasks sharing
    one counter (the total is fixed, so the run is bounded whatever the client does)."""
    remaining = total

    async def one_task() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                status, body, proto = await fetch(url)
            except Exception as exc:
                c.errors += 1
                if not c.first_error:
                    c.first_error = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                continue
            if status == 200 and body == expected:
                c.ok += 1
                if not c.protocol:
                    c.protocol = proto
            else:
                c.invalid += 1
                if not c.first_invalid:
                    c.first_invalid = f"status={status} body={body[:60]!r} len={len(body)}"

    if concurrency <= 1:
        await one_task()
    else:
        await asyncio.gather(*(one_task() for _ in range(concurrency)))


async def bench(
    args: argparse.Namespace, adapter: Adapter, url: str, expected: bytes, concurrency: int
) -> dict[str, Any]:
    """Warm up (not timed), then time ``args.n`` GETs of ``url``; the result fields."""
    async with adapter as fetch:
        # Warm-up (not timed): opens the connections and warms caches, with the same
        # concurrency, so they all exist (and h2's stream limit is known) before timing.
        warm = Counters()
        warm_n = args.warmup if concurrency <= 1 else max(args.warmup, 2 * concurrency)
        try:
            await asyncio.wait_for(
                run_requests(fetch, url, expected, warm_n, concurrency, warm),
                min(args.timeout, 60),
            )
        except asyncio.TimeoutError:
            return {"status": "timeout", "detail": f"warm-up ({warm_n} requests) hung"}
        if warm.invalid:
            return {"status": "invalid", "detail": warm.first_invalid, "phase": "warmup"}
        if not warm.ok:
            return {
                "status": "failed",
                "detail": f"every warm-up request failed: {warm.first_error}",
            }

        gc.collect()
        c = Counters()
        profiler: Any = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(
                run_requests(fetch, url, expected, args.n, concurrency, c), args.timeout
            )
        except asyncio.TimeoutError:
            return {
                "status": "timeout",
                "detail": f"{args.n} requests not done in {args.timeout} s "
                f"({c.ok} ok, {c.errors} errors)",
            }
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        extras = adapter.extras(c, warm, wall, expected)

    result: dict[str, Any] = {
        "status": "ok" if not c.invalid else "invalid",
        "n": args.n,
        "ok": c.ok,
        "errors": c.errors,
        "invalid": c.invalid,
        "wall_s": wall,
        "cpu_s": cpu,
        "req_per_s": c.ok / wall if wall > 0 else 0.0,
        "cpu_us_per_req": cpu / args.n * 1e6,
        "warmup_n": warm_n,
        "warmup_errors": warm.errors,
        **extras,
    }
    if c.first_error or warm.first_error:
        result["detail"] = c.first_error or warm.first_error
    if c.invalid:
        result["detail"] = c.first_invalid
    return result


def run_loop(
    args: argparse.Namespace, measure: Callable[[], Awaitable[dict[str, Any]]]
) -> tuple[dict[str, Any], str]:
    """``measure()`` on a new asyncio or uvloop loop; its result and uvloop's version."""
    if args.loop == "uvloop":
        uvloop = importlib.import_module("uvloop")
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        loop_version = str(getattr(uvloop, "__version__", "?"))
    else:
        loop = asyncio.new_event_loop()
        loop_version = ""
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(measure()), loop_version
    finally:
        loop.close()


# (args) -> (adapter, url, expected body, concurrency)
Setup = Callable[[argparse.Namespace], tuple[Adapter, str, bytes, int]]


def main(
    description: str,
    clients: list[str],
    scenarios: list[str],
    setup: Setup,
    add_url_options: Callable[[argparse.ArgumentParser], None],
) -> int:
    """Parse the worker's command line, measure, print one JSON line; the exit status
    (3: the client returned wrong data, 1: the worker failed)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--client", choices=sorted(clients), required=True)
    p.add_argument("--loop", choices=["asyncio", "uvloop"], required=True)
    p.add_argument("--scenario", choices=scenarios, required=True)
    add_url_options(p)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds for the timed phase")
    p.add_argument("--cpu", type=int, default=-1, help="pin this process to one CPU")
    p.add_argument("--profile", default="", help="write cProfile stats of the timed part here")
    args = p.parse_args()

    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    out: dict[str, Any] = {
        "client": args.client,
        "loop": args.loop,
        "scenario": args.scenario,
        "python": sys.version.split()[0],
    }
    rc = 0
    try:
        adapter, url, expected, concurrency = setup(args)
        out["version"] = adapter.version()
        out["module_file"] = adapter.module_file()
        result, out["loop_version"] = run_loop(
            args, lambda: bench(args, adapter, url, expected, concurrency)
        )
        out.update(result)
        if out["status"] == "invalid":
            rc = 3
    except Unavailable as exc:
        out.update(status="unavailable", detail=str(exc))
    except Exception as exc:
        out.update(status="failed", detail=f"{type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        rc = 1
    print(json.dumps(out), flush=True)
    return rc
