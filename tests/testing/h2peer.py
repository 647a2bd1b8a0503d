"""A scripted raw HTTP/2 client for the server tests: exact frames out, parsed frames back.

Loopback only; every read is bounded by a deadline.
"""

from __future__ import annotations

import socket
import time

import hpack
from hyperframe.frame import Frame, GoAwayFrame, HeadersFrame, SettingsFrame

from hyperhttp._protocol.h2_server import PREFACE

__all__ = ["RawPeer"]


class RawPeer:
    """A scripted HTTP/2 client on a blocking socket."""

    def __init__(self, port: int, *, preface: bool = True, rcvbuf: int | None = None) -> None:
        if rcvbuf is None:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        else:  # a small receive buffer must be set before connecting to shrink the window
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(5)
            self.sock.connect(("127.0.0.1", port))
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buffer = b""
        self.frames: list[Frame] = []
        if preface:
            self.sock.sendall(PREFACE + SettingsFrame(0).serialize())

    def send(self, *frames: Frame) -> None:
        self.sock.sendall(b"".join(f.serialize() for f in frames))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def headers(
        self,
        stream_id: int,
        path: str = "/",
        *,
        end_stream: bool = True,
        method: str = "GET",
        extra: list[tuple[str, str]] | None = None,
    ) -> HeadersFrame:
        fields = [(":method", method), (":scheme", "http"), (":authority", "x"), (":path", path)]
        block = self.encoder.encode(fields + (extra or []))
        flags = {"END_HEADERS"} | ({"END_STREAM"} if end_stream else set())
        return HeadersFrame(stream_id, block, flags=flags)

    def read_until(self, predicate: type[Frame], timeout: float = 5.0) -> Frame | None:
        """Read frames until one of type ``predicate`` (returned), EOF or the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) < 9 + length:
                    break
                frame, _ = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
                self.buffer = self.buffer[9 + length :]
                self.frames.append(frame)
                if isinstance(frame, predicate):
                    return frame
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ConnectionError):
                return None
            if not data:
                return None
            self.buffer += data
        return None

    def goaway(self) -> GoAwayFrame | None:
        frame = self.read_until(GoAwayFrame)
        return frame if isinstance(frame, GoAwayFrame) else None

    def close(self) -> None:
        self.sock.close()
