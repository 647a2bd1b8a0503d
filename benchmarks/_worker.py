"""One benchmark measurement: one client, one event loop, one scenario, in its own process.

Run by ``run_h1.py``; uses only the standard library plus the client under test, so the
same file runs in the project venv (hyperhttp) and in the peer venvs (aiohttp, httpx,
hyperhttp 2.1.0).  Prints exactly one JSON line on stdout.

    python _worker.py --client aiohttp --loop uvloop --scenario S2 \
        --url http://127.0.0.1:PORT/ --n 20000 --concurrency 100

Every response is checked (status 200, body == the expected bytes).  Exceptions are
counted as ``errors`` (the first one is reported); a response with wrong data makes the
run ``invalid`` and the process exit with status 3, so a client that returns garbage never
posts a fast number.
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

EXPECTED_BODY = b"Hello, World!"
POOL_SIZE = 100  # connections every client may open (S2 runs 100 concurrent tasks)

Fetch = Callable[[str], Awaitable[tuple[int, bytes]]]


class Unavailable(Exception):
    """The client under test cannot be imported or constructed."""


class Adapter:
    """One client object (one connection pool) reused for the whole run, as users do."""

    name = ""

    async def __aenter__(self) -> Fetch:
        raise NotImplementedError

    async def __aexit__(self, *exc: object) -> None:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def module_file(self) -> str:
        return ""


class AiohttpAdapter(Adapter):
    name = "aiohttp"

    def __init__(self) -> None:
        try:
            aiohttp = importlib.import_module("aiohttp")
        except Exception as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
        self._aiohttp: Any = aiohttp
        self._session: Any = None

    async def __aenter__(self) -> Fetch:
        aiohttp = self._aiohttp
        connector = aiohttp.TCPConnector(limit=POOL_SIZE, limit_per_host=POOL_SIZE)
        self._session = session = aiohttp.ClientSession(connector=connector)

        async def fetch(url: str) -> tuple[int, bytes]:
            async with session.get(url) as resp:
                body = await resp.read()
                return resp.status, body

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    def version(self) -> str:
        return str(self._aiohttp.__version__)


class HttpxAdapter(Adapter):
    name = "httpx"

    def __init__(self) -> None:
        try:
            httpx = importlib.import_module("httpx")
        except Exception as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
        self._httpx: Any = httpx
        self._client: Any = None

    async def __aenter__(self) -> Fetch:
        httpx = self._httpx
        limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        self._client = client = httpx.AsyncClient(limits=limits)

        async def fetch(url: str) -> tuple[int, bytes]:
            resp = await client.get(url)
            return resp.status_code, resp.content

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def version(self) -> str:
        return str(self._httpx.__version__)


class HyperhttpAdapter(Adapter):
    """This project's client: ``await client.get(url)`` returns a response already read."""

    name = "hyperhttp"

    def __init__(self) -> None:
        try:
            hyperhttp = importlib.import_module("hyperhttp")
        except Exception as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
        self._mod: Any = hyperhttp
        if not hasattr(hyperhttp, "Client"):
            raise Unavailable(
                f"hyperhttp {getattr(hyperhttp, '__version__', '?')} has no Client yet"
            )
        self._client: Any = None

    async def __aenter__(self) -> Fetch:
        try:
            self._client = self._mod.Client(
                max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE
            )
            client = await self._client.__aenter__()
        except Exception as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc

        async def fetch(url: str) -> tuple[int, bytes]:
            resp = await client.get(url)
            return resp.status_code, resp.content

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(None, None, None)

    def version(self) -> str:
        return str(getattr(self._mod, "__version__", "?"))

    def module_file(self) -> str:
        return str(getattr(self._mod, "__file__", ""))


class Hyperhttp21Adapter(HyperhttpAdapter):
    """hyperhttp 2.1.0 from PyPI: same import name, lazy body, so ``await resp.aread()``.

    Its ``max_keepalive_connections`` is really its per-host connection cap (default 20),
    so it has to be raised with ``max_connections`` for S2 to use 100 connections.
    """

    name = "hyperhttp21"

    def __init__(self) -> None:
        super().__init__()
        if self.version() != "2.1.0":
            raise Unavailable(f"expected hyperhttp 2.1.0, imported {self.version()}")

    async def __aenter__(self) -> Fetch:
        self._client = client = self._mod.Client(
            max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE
        )

        async def fetch(url: str) -> tuple[int, bytes]:
            resp = await client.get(url)
            body = await resp.aread()
            return resp.status_code, body

        return fetch


ADAPTERS: dict[str, type[Adapter]] = {
    "hyperhttp": HyperhttpAdapter,
    "aiohttp": AiohttpAdapter,
    "httpx": HttpxAdapter,
    "hyperhttp21": Hyperhttp21Adapter,
}


class Counters:
    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.invalid = 0
        self.first_error = ""
        self.first_invalid = ""


async def run_requests(fetch: Fetch, url: str, total: int, concurrency: int, c: Counters) -> None:
    """``total`` GETs: one task awaiting them in sequence, or ``concurrency`` tasks sharing
    one counter (the total is fixed, so the run is bounded whatever the client does)."""
    remaining = total

    async def one_task() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                status, body = await fetch(url)
            except Exception as exc:
                c.errors += 1
                if not c.first_error:
                    c.first_error = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                continue
            if status == 200 and body == EXPECTED_BODY:
                c.ok += 1
            else:
                c.invalid += 1
                if not c.first_invalid:
                    c.first_invalid = f"status={status} body={body[:60]!r} len={len(body)}"

    if concurrency <= 1:
        await one_task()
    else:
        await asyncio.gather(*(one_task() for _ in range(concurrency)))


async def bench(args: argparse.Namespace, adapter: Adapter) -> dict[str, Any]:
    concurrency = 1 if args.scenario == "S1" else args.concurrency
    async with adapter as fetch:
        # Warm-up (not timed): opens the pool's connections and warms caches. For S2 it
        # runs with the same concurrency so all connections exist before timing starts.
        warm = Counters()
        warm_n = args.warmup if concurrency == 1 else max(args.warmup, 2 * concurrency)
        try:
            await asyncio.wait_for(
                run_requests(fetch, args.url, warm_n, concurrency, warm), min(args.timeout, 60)
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
                run_requests(fetch, args.url, args.n, concurrency, c), args.timeout
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
    }
    if c.first_error or warm.first_error:
        result["detail"] = c.first_error or warm.first_error
    if c.invalid:
        result["detail"] = c.first_invalid
    return result


def run_loop(args: argparse.Namespace, adapter: Adapter) -> tuple[dict[str, Any], str]:
    if args.loop == "uvloop":
        uvloop = importlib.import_module("uvloop")
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        loop_version = str(getattr(uvloop, "__version__", "?"))
    else:
        loop = asyncio.new_event_loop()
        loop_version = ""
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(bench(args, adapter)), loop_version
    finally:
        loop.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--client", choices=sorted(ADAPTERS), required=True)
    p.add_argument("--loop", choices=["asyncio", "uvloop"], required=True)
    p.add_argument("--scenario", choices=["S1", "S2"], required=True)
    p.add_argument("--url", required=True)
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
        adapter = ADAPTERS[args.client]()
        out["version"] = adapter.version()
        out["module_file"] = adapter.module_file()
        result, out["loop_version"] = run_loop(args, adapter)
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


if __name__ == "__main__":
    sys.exit(main())
