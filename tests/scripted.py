"""A tiny scripted asyncio server for client tests: it sends exact bytes, and records what
it received and how many connections it accepted. Loopback only.

A test gives a *script*: an async function run once per accepted connection with a
:class:`ServerConn` that can read one request, send raw bytes, close, or reset.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Script = Callable[["ServerConn"], Awaitable[None]]


@dataclass
class RawRequest:
    """One request as the server received it."""

    head: bytes
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    @property
    def method(self) -> bytes:
        return self.request_line.split(b" ", 1)[0]

    @property
    def target(self) -> bytes:
        return self.request_line.split(b" ")[1]

    def headers(self) -> list[tuple[bytes, bytes]]:
        lines = self.head.split(b"\r\n")[1:]
        out = []
        for line in lines:
            if line:
                name, _, value = line.partition(b":")
                out.append((name, value.strip()))
        return out

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class ServerConn:
    """The server side of one accepted connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    index: int
    server: ScriptedServer

    async def read_request(self) -> RawRequest | None:
        """Read one request (head + Content-Length or chunked body); None at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        request = RawRequest(head=head[:-4], body=b"")
        length = request.header(b"content-length")
        if length is not None:
            request.body = await self.reader.readexactly(int(length))
        elif (request.header(b"transfer-encoding") or b"").lower() == b"chunked":
            chunks = []
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(data[:-2])
            request.body = b"".join(chunks)
        self.server.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        """Write raw bytes and flush them."""
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        """Close with a FIN."""
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass

    def reset(self) -> None:
        """Close with an RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def hang(self) -> None:
        """Read nothing more and answer nothing, until the server shuts down.

        Reading is paused, so a large upload fills the socket buffers and stalls the sender.
        """
        transport = self.writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()
        await self.server.stopping.wait()

    async def wait_for_eof(self) -> None:
        """Discard whatever arrives until the peer closes (or the server shuts down)."""
        while await self.reader.read(65536):
            pass

    async def drip(self, data: bytes, delay: float, size: int = 1) -> None:
        """Send ``data`` in pieces of ``size`` bytes, ``delay`` seconds apart."""
        for i in range(0, len(data), size):
            await self.send(data[i : i + size])
            await asyncio.sleep(delay)

    @property
    def alpn_protocol(self) -> str | None:
        """The protocol ALPN selected on a TLS connection (None on plain TCP)."""
        ssl_object = self.writer.get_extra_info("ssl_object")
        return None if ssl_object is None else ssl_object.selected_alpn_protocol()


@dataclass
class ScriptedServer:
    """Runs ``script`` for every connection; ``accepted`` and ``requests`` record traffic."""

    script: Script
    host: str = "127.0.0.1"
    ssl: ssl.SSLContext | None = None
    accepted: int = 0
    # connections whose script is still running, and the most there ever were at once
    active: int = 0
    max_active: int = 0
    requests: list[RawRequest] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._on_connect, self.host, 0, ssl=self.ssl)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "http" if self.ssl is None else "https"
        return f"{scheme}://{host}:{self.port}"

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ServerConn(reader, writer, self.accepted, self)
        self.accepted += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.script(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.active -= 1
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def aclose(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.close()
            # Aborting the sockets ends every script at its next read (cancelling the
            # tasks instead makes asyncio's stream callback log a spurious error).
            for writer in self._writers:
                writer.transport.abort()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2)
            await self._server.wait_closed()


def response(
    body: bytes = b"",
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
    *,
    reason: str = "OK",
    length: bool = True,
) -> bytes:
    """A well-formed HTTP/1.1 response with Content-Length."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def keep_alive(reply: Callable[[RawRequest], bytes]) -> Script:
    """A script answering every request on the connection with ``reply(request)``."""

    async def script(conn: ServerConn) -> None:
        while True:
            request = await conn.read_request()
            if request is None:
                return
            await conn.send(reply(request))

    return script


async def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll ``predicate`` every few milliseconds; fail the test if it stays false."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        await asyncio.sleep(0.005)


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port with no listener (bound, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


SECRET = "s3cr3t-pa55"


def with_userinfo(url: str) -> str:
    """``url`` with ``user:SECRET@`` credentials, to check errors never show them."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://user:{SECRET}@{rest}"


def check_error(exc: BaseException) -> None:
    """The promise every error makes: ours, with the request attached, no credentials."""
    from hyperhttp import HyperHTTPError

    assert isinstance(exc, HyperHTTPError), f"not a hyperhttp error: {exc!r}"
    assert exc.request is not None, f"no .request on {exc!r}"
    assert SECRET not in str(exc)
    assert SECRET not in repr(exc)
    assert SECRET not in str(exc.request.url)
    assert SECRET not in repr(exc.request)
