"""One HTTP/2 benchmark measurement: one client, one event loop, one scenario, one process.

Run by ``run_h2.py``; uses only the standard library (and ``_workerlib.py``) plus the
client under test, so the same file runs in the project venv (hyperhttp) and in the peer
venvs.  Prints exactly one JSON line on stdout.

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
import importlib
import ssl
import sys
from typing import Any

from _workerlib import Adapter as BaseAdapter
from _workerlib import Counters, Fetch, Unavailable, import_client, main

SMALL_BODY = b"Hello, World!"
# The 1 MiB file run_h2.py writes for nginx: deterministic, so the worker can compare it.
BIG_BODY = bytes(range(256)) * 4096
PATHS = {"S5": "/", "L1": "/1m"}
EXPECTED = {"S5": SMALL_BODY, "L1": BIG_BODY}


def ssl_context(ca: str, alpn: list[str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(alpn)
    return ctx


class Adapter(BaseAdapter):
    """One client object, held to one connection, reused for the whole run."""

    # Where the client cannot be held to one connection, say so (shown in the table).
    note = ""

    def __init__(self, ca: str) -> None:
        self.ca = ca

    def connections(self) -> int | None:
        """Connections the client holds open now, from its own pool (None: unknown)."""
        return None

    def extras(self, c: Counters, warm: Counters, wall: float, expected: bytes) -> dict[str, Any]:
        return {
            "mb_per_s": c.ok * len(expected) / wall / 1e6 if wall > 0 else 0.0,
            "protocol": c.protocol or warm.protocol,
            "client_connections": self.connections(),
            "note": self.note,
        }


class HyperhttpAdapter(Adapter):
    """This project's client: ``await client.get(url)`` returns a response already read."""

    name = "hyperhttp"
    http2: bool | str = True

    def __init__(self, ca: str) -> None:
        super().__init__(ca)
        self._mod: Any = import_client("hyperhttp")
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
        self._httpx: Any = import_client("httpx")
        import_client("h2")  # httpx[http2]
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
        self._mod: Any = import_client("aiosonic")
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
        self._mod: Any = import_client("niquests")
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


def setup(args: argparse.Namespace) -> tuple[BaseAdapter, str, bytes, int]:
    url = args.url.rstrip("/") + PATHS[args.scenario]
    return ADAPTERS[args.client](args.ca), url, EXPECTED[args.scenario], args.concurrency


def add_url_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True, help="https://127.0.0.1:PORT")
    p.add_argument("--ca", required=True, help="PEM file of the CA that signed nginx's cert")


if __name__ == "__main__":
    sys.exit(main(__doc__.split("\n\n")[0], list(ADAPTERS), sorted(PATHS), setup, add_url_options))
