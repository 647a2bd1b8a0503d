"""A tiny asyncio proxy for client tests: HTTP forwarding, CONNECT tunnels and SOCKS5, with
optional authentication and scriptable misbehaviour. Loopback only.

``TestProxy`` records every request head it received (``heads``) and every connection it
accepted (``accepted``; ``open`` counts the ones still open), so tests can assert on the raw
bytes a proxy saw. ``connect_reply`` replaces the answer to CONNECT with raw bytes (a 407,
garbage, a huge header...); ``close_after_head`` closes instead of answering (early EOF);
``delay`` stalls before answering (slow proxy); ``tunnel_reply`` replaces the 2xx line that
opens a tunnel (a 204, or a 200 with framing headers).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass, field
from typing import TypeVar

_Server = TypeVar("_Server", bound="_LoopbackServer")


class _LoopbackServer:
    """Accepting, counting and closing connections; subclasses implement ``_serve``."""

    host: str
    ssl: ssl.SSLContext | None
    accepted: int
    open: int
    _server: asyncio.AbstractServer | None
    _tasks: set[asyncio.Task[None]]
    _writers: list[asyncio.StreamWriter]

    async def start(self: _Server) -> _Server:
        self._server = await asyncio.start_server(self._on_connect, self.host, 0, ssl=self.ssl)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.transport.abort()
            await _finish(self._tasks)
            await self._server.wait_closed()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            self.open -= 1
            self._tasks.discard(task)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


@dataclass
class TestProxy(_LoopbackServer):
    __test__ = False  # not a pytest test class

    host: str = "127.0.0.1"
    ssl: ssl.SSLContext | None = None
    #: "user:password" the proxy requires (Basic), or None for no authentication.
    credentials: str | None = None
    #: Raw bytes sent instead of the normal reply to CONNECT (then the connection closes).
    connect_reply: bytes | None = None
    #: Raw bytes sent instead of the normal "200 Connection established" (then the tunnel).
    tunnel_reply: bytes | None = None
    close_after_head: bool = False
    delay: float = 0.0
    accepted: int = 0
    open: int = 0
    heads: list[bytes] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def url(self, userinfo: str | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "http" if self.ssl is None else "https"
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}{host}:{self.port}"

    async def aclose(self) -> None:
        self.stopping.set()
        await super().aclose()

    # -- serving ---------------------------------------------------------------------------

    def _authorized(self, head: bytes) -> bool:
        if self.credentials is None:
            return True
        expected = b"Basic " + base64.b64encode(self.credentials.encode())
        values = [
            line.partition(b":")[2].strip()
            for line in head.split(b"\r\n")[1:]
            if line.lower().startswith(b"proxy-authorization:")
        ]
        return values == [expected]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            self.heads.append(head)
            method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            self.targets.append(target.decode())
            if self.delay:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.delay)
                if self.stopping.is_set():
                    return
            if self.close_after_head:
                return
            if method == b"CONNECT":
                await self._tunnel(head, target.decode(), reader, writer)
                return
            if not self._authorized(head):
                writer.write(_reply(407, b"proxy auth needed", b"Proxy-Authenticate: Basic\r\n"))
                await writer.drain()
                continue
            await self._forward(head, reader, writer)

    async def _tunnel(
        self, head: bytes, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.connect_reply is not None:
            writer.write(self.connect_reply)
            await writer.drain()
            return
        if not self._authorized(head):
            writer.write(
                _reply(407, b"<h1>proxy auth needed</h1>", b"Proxy-Authenticate: Basic\r\n")
            )
            await writer.drain()
            return
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            writer.write(_reply(502, b"bad gateway"))
            await writer.drain()
            return
        writer.write(self.tunnel_reply or b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _pipe_both(reader, writer, up_reader, up_writer)

    async def _forward(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.split(b" ")
        _, _, after = target.partition(b"://")
        authority, slash, path = after.partition(b"/")
        host, _, port = authority.decode().rpartition(":")
        length = 0
        kept = []
        for line in rest.split(b"\r\n"):
            name = line.partition(b":")[0].strip().lower()
            if name == b"content-length":
                length = int(line.partition(b":")[2])
            if name in (b"proxy-authorization", b"connection"):
                continue
            kept.append(line)
        body = await reader.readexactly(length) if length else b""
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port or 80))
        upstream = b" ".join([method, slash + path, version]) + b"\r\n"
        upstream += b"\r\n".join(line for line in kept if line) + b"\r\nConnection: close\r\n\r\n"
        up_writer.write(upstream + body)
        answer = await up_reader.read(-1)
        up_writer.close()
        # Pass the response on with Content-Length framing and keep the client connection.
        answer_head, _, answer_body = answer.partition(b"\r\n\r\n")
        lines = [
            line
            for line in answer_head.split(b"\r\n")
            if not line.lower().startswith((b"connection:", b"content-length:", b"transfer"))
        ]
        lines.append(b"Content-Length: %d" % len(answer_body))
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + answer_body)
        await writer.drain()


async def _finish(tasks: set[asyncio.Task[None]]) -> None:
    """Let connection tasks end after their sockets were aborted (never cancel them:
    asyncio's stream callback would then log a spurious error)."""
    if tasks:
        await asyncio.wait(list(tasks), timeout=2)


def _reply(status: int, body: bytes = b"", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 %d Proxy says no\r\n" % status
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        up_writer.transport.abort()


@dataclass
class Socks5Proxy(_LoopbackServer):
    """A SOCKS5 server (RFC 1928/1929): no-auth or username/password, CONNECT only.

    ``reply_code`` other than 0 refuses every CONNECT with that code.
    """

    __test__ = False

    host: str = "127.0.0.1"
    credentials: tuple[str, str] | None = None
    reply_code: int = 0
    ssl: ssl.SSLContext | None = None
    accepted: int = 0
    open: int = 0
    targets: list[tuple[str, int]] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def url(self, scheme: str = "socks5h", userinfo: str | None = None) -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}{self.host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        assert version == 5
        if self.credentials is None:
            writer.write(b"\x05\x00")
        elif 2 in methods:
            writer.write(b"\x05\x02")
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            (plen,) = await reader.readexactly(1)
            password = (await reader.readexactly(plen)).decode()
            if (user, password) != self.credentials:
                writer.write(b"\x01\x01")
                await writer.drain()
                return
            writer.write(b"\x01\x00")
        else:
            writer.write(b"\x05\xff")
            await writer.drain()
            return
        _, _, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif kind == 4:
            import ipaddress

            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode()
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.targets.append((host, port))
        if self.reply_code:
            writer.write(bytes([5, self.reply_code, 0, 1, 0, 0, 0, 0, 0, 0]))
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")
        await writer.drain()
        await _pipe_both(reader, writer, up_reader, up_writer)
