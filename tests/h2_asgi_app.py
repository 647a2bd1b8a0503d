"""The ASGI app hypercorn serves in the HTTP/2 interop tests (run in its own process)."""

from __future__ import annotations

import asyncio
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = 200
    headers = [(b"x-http-version", scope["http_version"].encode())]
    if path.startswith("/bytes/"):
        out = b"b" * int(path.split("/")[2])
    elif path == "/echo":
        out = bytes(body)
    elif path.startswith("/status/"):
        status = int(path.split("/")[2])
        out = b""
    elif path == "/sleep":
        await asyncio.sleep(0.2)
        out = b"slept"
    else:
        out = f"{scope['method']} {path}".encode()
    headers.append((b"content-length", str(len(out)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if status not in (204, 304) and scope["method"] != "HEAD":
        await send({"type": "http.response.body", "body": out})
    else:
        await send({"type": "http.response.body", "body": b""})
