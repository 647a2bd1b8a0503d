"""One benchmark measurement: one client, one event loop, one scenario, in its own process.

Run by ``run_h1.py``; uses only the standard library (and ``_workerlib.py``) plus the
client under test, so the same file runs in the project venv (hyperhttp) and in the peer
venvs (aiohttp, httpx, hyperhttp 2.1.0).  Prints exactly one JSON line on stdout.

    python _worker.py --client aiohttp --loop uvloop --scenario S2 \
        --url http://127.0.0.1:PORT/ --n 20000 --concurrency 100

Every response is checked (status 200, body == the expected bytes).  Exceptions are
counted as ``errors`` (the first one is reported); a response with wrong data makes the
run ``invalid`` and the process exit with status 3, so a client that returns garbage never
posts a fast number.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _workerlib import Adapter, Fetch, Unavailable, import_client, main

EXPECTED_BODY = b"Hello, World!"
POOL_SIZE = 100  # connections every client may open (S2 runs 100 concurrent tasks)


class AiohttpAdapter(Adapter):
    name = "aiohttp"

    def __init__(self) -> None:
        self._aiohttp: Any = import_client("aiohttp")
        self._session: Any = None

    async def __aenter__(self) -> Fetch:
        aiohttp = self._aiohttp
        connector = aiohttp.TCPConnector(limit=POOL_SIZE, limit_per_host=POOL_SIZE)
        self._session = session = aiohttp.ClientSession(connector=connector)

        async def fetch(url: str) -> tuple[int, bytes, str]:
            async with session.get(url) as resp:
                body = await resp.read()
                return resp.status, body, ""

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    def version(self) -> str:
        return str(self._aiohttp.__version__)


class HttpxAdapter(Adapter):
    name = "httpx"

    def __init__(self) -> None:
        self._httpx: Any = import_client("httpx")
        self._client: Any = None

    async def __aenter__(self) -> Fetch:
        httpx = self._httpx
        limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        self._client = client = httpx.AsyncClient(limits=limits)

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await client.get(url)
            return resp.status_code, resp.content, ""

        return fetch

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def version(self) -> str:
        return str(self._httpx.__version__)


class HyperhttpAdapter(Adapter):
    """This project's client: ``await client.get(url)`` returns a response already read."""

    name = "hyperhttp"

    def __init__(self) -> None:
        hyperhttp = import_client("hyperhttp")
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

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await client.get(url)
            return resp.status_code, resp.content, ""

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

        async def fetch(url: str) -> tuple[int, bytes, str]:
            resp = await client.get(url)
            body = await resp.aread()
            return resp.status_code, body, ""

        return fetch


ADAPTERS: dict[str, type[Adapter]] = {
    "hyperhttp": HyperhttpAdapter,
    "aiohttp": AiohttpAdapter,
    "httpx": HttpxAdapter,
    "hyperhttp21": Hyperhttp21Adapter,
}


def setup(args: argparse.Namespace) -> tuple[Adapter, str, bytes, int]:
    """S1: one task; S2: ``--concurrency`` tasks sharing the client."""
    concurrency = 1 if args.scenario == "S1" else args.concurrency
    return ADAPTERS[args.client](), args.url, EXPECTED_BODY, concurrency


def add_url_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True)


if __name__ == "__main__":
    sys.exit(main(__doc__.split("\n\n")[0], list(ADAPTERS), ["S1", "S2"], setup, add_url_options))
