"""Raw-socket helpers for talking to the test server byte by byte (bounded, loopback only)."""

from __future__ import annotations

import socket
import time


def exchange(port: int, data: bytes, *, timeout: float = 5.0, host: str = "127.0.0.1") -> bytes:
    """Send ``data``, then read until the server closes (or ``timeout`` passes)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_close(sock, timeout)


def read_until_close(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the peer sends until EOF (a reset counts as EOF)."""
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """One response framed by Content-Length (enough for our own test responses)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    """The status code of a raw response (0 when there is none)."""
    if not response.startswith(b"HTTP/1."):
        return 0
    return int(response.split(b" ", 2)[1])
