"""`make demo`: start a small local HTTP server, then drive hyperhttp against it.

Everything runs on 127.0.0.1 with an ephemeral port; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import time

import hyperhttp

CHUNKS = [b"first chunk\n", b"second chunk\n", b"third chunk\n"]
HANDLERS: set[asyncio.Task[None]] = set()


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A tiny keep-alive HTTP/1.1 server: just enough routes for the transcript."""
    task = asyncio.current_task()
    assert task is not None
    HANDLERS.add(task)
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in header_lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if target == "/stream":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for chunk in CHUNKS:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
                    await asyncio.sleep(0.05)
                writer.write(b"0\r\n\r\n")
                continue
            if target == "/slow":
                await asyncio.sleep(0.6)
            if target == "/echo":
                payload = json.dumps({"you_sent": json.loads(body), "method": method})
            else:
                payload = json.dumps({"path": target, "user_agent": headers.get("user-agent")})
            data = payload.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
            )
            await writer.drain()
    except ConnectionError:
        return
    finally:
        HANDLERS.discard(task)
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    print(f"hyperhttp {hyperhttp.__version__}: demo server on {base}\n")

    async with hyperhttp.Client(base_url=base, timeout=1.0) as client:
        r = await client.get("/hello", params={"lang": "en"})
        print(f"GET  /hello?lang=en   -> {r.status_code} {r.reason_phrase}  {r.json()}")

        r = await client.post("/echo", json={"name": "Alice", "tags": ["a", "b"]})
        print(f"POST /echo (json)     -> {r.status_code}  {r.json()}")

        print("GET  /stream          -> streamed line by line:")
        async with client.stream("GET", "/stream") as r:
            async for line in r.aiter_lines():
                print(f"     {r.elapsed.total_seconds() * 1000:6.1f} ms  {line!r}")

        try:
            await client.get("/slow", timeout=hyperhttp.Timeout(1.0, read=0.3))
        except hyperhttp.ReadTimeout as exc:
            print(f"GET  /slow (read=0.3) -> {type(exc).__name__}: {exc}")

        n, concurrency = 2000, 50
        started = time.perf_counter()

        async def worker(count: int) -> None:
            for _ in range(count):
                (await client.get("/hello")).raise_for_status()

        await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        print(
            f"\nthroughput: {n} GETs from {concurrency} concurrent tasks: "
            f"{n / elapsed:,.0f} req/s over {client.get_pool_stats()['open']} pooled connections"
        )

    server.close()
    # The client closed its connections; let the server's handlers see EOF and finish.
    if HANDLERS:
        await asyncio.wait(list(HANDLERS), timeout=2)
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
