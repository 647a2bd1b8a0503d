"""`make demo`: start hyperhttp's own test server, then drive the client against it.

Everything runs on 127.0.0.1 with an ephemeral port; nothing leaves the machine. The server
is ``hyperhttp.testing.HTTPServer`` (the pytest-httpserver-compatible one), with the
endpoints of ``examples/testserver_demo.py``; then the same client speaks HTTP/2 to the
server's TLS side (ALPN), 200 requests multiplexed on one connection.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from testserver_demo import PASSWORD, USER, demo_server
from werkzeug import Response

import hyperhttp
from hyperhttp.testing import HTTPServer


def line(label: str, response: hyperhttp.Response, detail: str) -> None:
    elapsed = response.elapsed.total_seconds() * 1000
    status = f"{response.status_code} {response.reason_phrase}"
    print(f"{label:<28} -> {status:<16} {elapsed:5.1f} ms  {detail}")


async def main() -> None:
    with demo_server() as server:
        server.expect_request("/echo", method="POST").respond_with_handler(
            lambda request: Response(request.get_data(), content_type="application/json")
        )
        base = server.url_for("/").rstrip("/")
        print(f"hyperhttp {hyperhttp.__version__} against hyperhttp.testing.HTTPServer at {base}\n")

        async with hyperhttp.Client(base_url=base, timeout=2.0) as client:
            r = await client.get("/json")
            line("GET  /json", r, str(r.json()))

            r = await client.post("/echo", json={"name": "Alice", "tags": ["a", "b"]})
            line("POST /echo (json=)", r, str(r.json()))

            r = await client.get("/redirect", follow_redirects=True)
            hops = " -> ".join(str(h.status_code) for h in r.history)
            landed = r.url.path if r.url is not None else "?"
            line("GET  /redirect (follow)", r, f"history: {hops}, landed on {landed}")

            r = await client.get("/gzip")
            wire, decoded = r.num_bytes_downloaded, len(r.content)
            line("GET  /gzip", r, f"{wire} bytes on the wire -> {decoded} decoded")

            r = await client.get("/auth")
            line("GET  /auth (no credentials)", r, r.text)
            r = await client.get("/auth", auth=(USER, PASSWORD))
            line("GET  /auth (BasicAuth)", r, r.text)

            print("GET  /stream (streamed)      ->")
            async with client.stream("GET", "/stream") as r:
                async for text in r.aiter_lines():
                    print(f"       {r.elapsed.total_seconds() * 1000:6.1f} ms  {text!r}")

            try:
                await client.get("/slow", timeout=hyperhttp.Timeout(2.0, read=0.1))
            except hyperhttp.ReadTimeout as exc:
                print(f"{'GET  /slow (read=0.1 s)':<28} -> {type(exc).__name__}: {exc}")

            r = await client.get("/jsno")
            print(f"{'GET  /jsno (no expectation)':<28} -> {r.status_code}; the server explains:")
            closest = r.text[r.text.index("Closest expectations") :].strip().splitlines()
            for text in closest[:3]:
                print(f"       {text}")
            server.clear_assertions()

            n, concurrency = 2000, 20
            started = time.perf_counter()

            async def worker(count: int) -> None:
                for _ in range(count):
                    (await client.get("/json")).raise_for_status()

            await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
            rate = n / (time.perf_counter() - started)
            print(
                f"\nthroughput: {n} GETs from {concurrency} tasks: {rate:,.0f} req/s "
                f"(server and client in one process), {len(server.log)} requests logged"
            )


async def http2_part() -> None:
    """The same client over HTTP/2: ALPN on the server's TLS, many streams, one connection."""
    with HTTPServer(http2=True, tls=True) as server:
        server.expect_request("/item").respond_with_json({"ok": True})
        base = server.url_for("/").rstrip("/")
        print(f"\nHTTP/2 (ALPN over TLS) against {base}")
        async with hyperhttp.Client(verify=server.ca_file, timeout=5.0) as client:
            started = time.perf_counter()
            responses = await asyncio.gather(*(client.get(f"{base}/item") for _ in range(200)))
            took = (time.perf_counter() - started) * 1000
            versions = {r.http_version for r in responses}
            stats = client.get_pool_stats()
            print(
                f"200 concurrent GETs          -> {', '.join(sorted(versions))} in {took:.0f} ms "
                f"on {stats['open']} connection(s) (the server allows 100 streams on each)"
            )


if __name__ == "__main__":
    asyncio.run(main())
    asyncio.run(http2_part())
