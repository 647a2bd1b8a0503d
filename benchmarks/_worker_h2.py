"""One HTTP/2 benchmark measurement: one client, one event loop, one scenario, one process.

Run by ``run_h2.py``; uses only the standard library plus the client under test, so the
same file runs in the project venv (hyperhttp) and in the peer venvs.  Prints exactly one
JSON line on stdout.

    python _worker_h2.py --client httpx --loop uvloop --scenario S5 \
        --url https://127.0.0.1:PORT --ca CA.pem --n 10000 --concurrency 100

Scenarios (TLS to a local nginx; every client object is held to ONE connection):
  S5  ``--n`` GETs of ``/`` (13-byte body) from ``--concurrency`` tasks sharing the client
  L1  ``--n`` GETs of ``/1m`` (1 MiB body) from ``--concurrency`` tasks (default 1)

Every response is checked (status 200, body == the expected bytes).  Exceptions are
counted as ``errors`` (the first one is reported); a wrong body makes the run ``invalid``
and the process exit with status 3.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import ssl
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

SMALL_BODY = b"Hello, World!"
# The 1 MiB file run_h2.py writes for nginx: deterministic, so the worker can compare it.
BIG_BODY = bytes(range(256)) * 4096
PATHS = {"S5": "/", "L1": "/1m"}
EXPECTED = {"S5": SMALL_BODY, "L1": BIG_BODY}

# fetch(url) -> (status, body, protocol seen)
Fetch = Callable[[str], Awaitable[tuple[int, bytes, str]]]


class Unavailable(Exception):
    """The client under test cannot be imported or constructed."""


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc


def ssl_context(ca: str, alpn: list[str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(alpn)
    return ctx


class Adapter:
    """One client object, held to one connection, reused for the whole run."""

    name = ""
    # Where the client cannot be held to one connection, say so (shown in the table).
    note = ""

    def __init__(self, ca: str) -> None:
        self.ca = ca

    async def __aenter__(self) -> Fetch:
        raise NotImplementedError

    async def __aexit__(self, *exc: object) -> None:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def module_file(self) -> str:
        return ""

    def connections(self) -> int | None:
        """Connections the client holds open now, from its own pool (None: unknown)."""
        return None


class HyperhttpAdapter(Adapter):
    """This project's client: ``await client.get(url)`` returns a response already read."""

    name = "hyperhttp"
    http2: bool | str = True

    def __init__(self, ca: str) -> None:
        super().__init__(ca)
        self._mod: Any = _import("hyperhttp")
        if not hasattr(self._mod, "Client"):
            raise Unavailable(f"hyperhttp {self.version()} has no Client")
        self._client: Any = None

    async def __aenter__(self) -> Fetch:
        self._client = client = self._mod.Client(
            http2=self.http2, verify=self.ca, max_connections=1, max_keepalive_connections=1
        )

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await client.get(url)
            return resp.status_code, resp.content, resp.http_version

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def version(self) -> str:
        return str(getattr(self._mod, "__version__", "?"))

    def module_file(self) -> str:
        return str(getattr(self._mod, "__file__", ""))

    def connections(self) -> int | None:
        stats = getattr(self._client, "get_pool_stats", None)
        return int(stats().get("open", -1)) if callable(stats) else None


class HyperhttpH1Adapter(HyperhttpAdapter):
    """The same client with ``http2=False``: our HTTP/1.1 over the same TLS, for L1."""

    name = "hyperhttp-h1"
    http2 = False


class Hyperhttp21Adapter(HyperhttpAdapter):
    """hyperhttp 2.1.0 from PyPI: same import name, lazy body, so ``await resp.aread()``."""

    name = "hyperhttp21"

    def __init__(self, ca: str) -> None:
        super().__init__(ca)
        if self.version() != "2.1.0":
            raise Unavailable(f"expected hyperhttp 2.1.0, imported {self.version()}")

    async def __aenter__(self) -> Fetch:
        self._client = client = self._mod.Client(
            http2=True, verify=self.ca, max_connections=1, max_keepalive_connections=1
        )

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await client.get(url)
            body = await resp.aread()
            return resp.status_code, body, str(resp.http_version)

        return fetch

    def connections(self) -> int | None:
        return None


class HttpxAdapter(Adapter):
    name = "httpx"

    def __init__(self, ca: str) -> None:
        super().__init__(ca)
        self._httpx: Any = _import("httpx")
        _import("h2")  # httpx[http2]
        self._client: Any = None

    async def __aenter__(self) -> Fetch:
        httpx = self._httpx
        self._client = client = httpx.AsyncClient(
            http2=True,
            verify=ssl_context(self.ca, ["h2", "http/1.1"]),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await client.get(url)
            return resp.status_code, resp.content, resp.http_version

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def version(self) -> str:
        return str(self._httpx.__version__)

    def connections(self) -> int | None:
        try:
            return len(self._client._transport._pool.connections)
        except AttributeError:
            return None


class AiosonicAdapter(Adapter):
    """aiosonic with ``http2=True``: its Http2MultiplexPool keeps one connection per host."""

    name = "aiosonic"

    def __init__(self, ca: str) -> None:
        super().__init__(ca)
        self._mod: Any = _import("aiosonic")
        self._client: Any = None

    async def __aenter__(self) -> Fetch:
        # Its default PoolConfig recycles a connection after 1,000 requests, which under h2
        # fails the streams still in flight ("Not connection writer or reader"): keep it.
        pools = importlib.import_module("aiosonic.pools")
        connector = self._mod.TCPConnector(
            http2=True, pool_configs={":default": pools.PoolConfig(max_conn_requests=None)}
        )
        self._client = client = self._mod.HTTPClient(connector=connector, http2=True)
        ctx = ssl_context(self.ca, ["h2", "http/1.1"])

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await client.get(url, ssl=ctx, http2=True)
            body = await resp.content()
            return resp.status_code, body, self._protocol()

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def _protocol(self) -> str:
        """aiosonic's response has no version: look at its (one) connection."""
        try:
            pools = self._client.connector.pools.values()
            conns = [c for p in pools for c in p.connections.values()]
        except (AttributeError, TypeError):
            return "?"
        return "HTTP/2" if conns and getattr(conns[0], "h2conn", None) is not None else "?"

    def version(self) -> str:
        from importlib.metadata import version

        return version("aiosonic")

    def connections(self) -> int | None:
        try:
            return sum(len(p.connections) for p in self._client.connector.pools.values())
        except (AttributeError, TypeError):
            return None


class NiquestsAdapter(Adapter):
    """niquests' AsyncSession, multiplexed (lazy responses gathered per request), one conn."""

    name = "niquests"

    def __init__(self, ca: str) -> None:
        super().__init__(ca)
        self._mod: Any = _import("niquests")
        self._session: Any = None

    async def __aenter__(self) -> Fetch:
        self._session = session = self._mod.AsyncSession(
            multiplexed=True,
            disable_http3=True,
            pool_connections=1,
            pool_maxsize=1,
            verify=self.ca,
        )
        session.trust_env = False  # else REQUESTS_CA_BUNDLE & co. replace verify=

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await session.get(url)
            await session.gather(resp)
            proto = {20: "HTTP/2", 11: "HTTP/1.1", 30: "HTTP/3"}.get(resp.http_version, "?")
            return resp.status_code, resp.content or b"", proto

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    def version(self) -> str:
        return str(self._mod.__version__)


ADAPTERS: dict[str, type[Adapter]] = {
    a.name: a
    for a in (
        HyperhttpAdapter,
        HyperhttpH1Adapter,
        Hyperhttp21Adapter,
        HttpxAdapter,
        AiosonicAdapter,
        NiquestsAdapter,
    )
}


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
    """``total`` GETs from ``concurrency`` tasks sharing one counter (bounded whatever the
    client does)."""
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
                    c.first_invalid = f"status={status} body={body[:40]!r} len={len(body)}"

    await asyncio.gather(*(one_task() for _ in range(max(1, concurrency))))


async def bench(args: argparse.Namespace, adapter: Adapter) -> dict[str, Any]:
    url = args.url.rstrip("/") + PATHS[args.scenario]
    expected = EXPECTED[args.scenario]
    async with adapter as fetch:
        # Warm-up (not timed): opens the connection, gets the server's SETTINGS, warms
        # caches; with the same concurrency, so the stream limit is known before timing.
        warm = Counters()
        warm_n = args.warmup if args.concurrency <= 1 else max(args.warmup, 2 * args.concurrency)
        try:
            await asyncio.wait_for(
                run_requests(fetch, url, expected, warm_n, args.concurrency, warm),
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
                run_requests(fetch, url, expected, args.n, args.concurrency, c), args.timeout
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
        held = adapter.connections()

    result: dict[str, Any] = {
        "status": "ok" if not c.invalid else "invalid",
        "n": args.n,
        "ok": c.ok,
        "errors": c.errors,
        "invalid": c.invalid,
        "wall_s": wall,
        "cpu_s": cpu,
        "req_per_s": c.ok / wall if wall > 0 else 0.0,
        "mb_per_s": c.ok * len(expected) / wall / 1e6 if wall > 0 else 0.0,
        "cpu_us_per_req": cpu / args.n * 1e6,
        "warmup_n": warm_n,
        "warmup_errors": warm.errors,
        "protocol": c.protocol or warm.protocol,
        "client_connections": held,
        "note": adapter.note,
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
    p.add_argument("--scenario", choices=sorted(PATHS), required=True)
    p.add_argument("--url", required=True, help="https://127.0.0.1:PORT")
    p.add_argument("--ca", required=True, help="PEM file of the CA that signed nginx's cert")
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
        adapter = ADAPTERS[args.client](args.ca)
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
