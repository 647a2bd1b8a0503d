"""`make demo`: start hyperhttp's own test server, then drive the client against it.

Everything runs on 127.0.0.1 with an ephemeral port; nothing leaves the machine. The server
is ``hyperhttp.testing.HTTPServer`` (the pytest-httpserver-compatible one), with the
endpoints of ``examples/testserver_demo.py``.
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


if __name__ == "__main__":
    asyncio.run(main())
