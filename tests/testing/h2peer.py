"""A scripted raw HTTP/2 client for the server tests: exact frames out, parsed frames back.

Loopback only; every read is bounded by a deadline.
"""

from __future__ import annotations

import socket
import struct
import time

import hpack
from hyperframe.frame import (
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

from hyperhttp._protocol.h2_server import PREFACE

__all__ = ["Peer", "RawPeer", "raw_frame"]


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

    def read_until(
        self, predicate: type[Frame] | tuple[type[Frame], ...], timeout: float = 5.0
    ) -> Frame | None:
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


NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
COMPRESSION_ERROR = 0x9

# frame types, for frames hyperframe will not build malformed
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE = 0x0, 0x1, 0x2, 0x3, 0x4, 0x5
PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x6, 0x7, 0x8, 0x9
END_STREAM, END_HEADERS, PADDED, ACK = 0x1, 0x4, 0x8, 0x1


def raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """One frame, byte for byte: 24-bit length, type, flags, 31-bit stream id, payload."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + struct.pack(">I", stream_id)
        + payload
    )


class Peer(RawPeer):
    """A raw peer that has done the handshake (preface, SETTINGS both ways, ACK)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        settings = self.read_until(SettingsFrame)
        assert isinstance(settings, SettingsFrame) and "ACK" not in settings.flags
        self.send(SettingsFrame(0, flags={"ACK"}))

    def block(self, *extra: tuple[str, str], method: str = "GET", path: str = "/") -> bytes:
        fields = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "x")]
        return self.encoder.encode(fields + list(extra))

    def request(self, sid: int, *, end_stream: bool = True, path: str = "/") -> HeadersFrame:
        flags = {"END_HEADERS"} | ({"END_STREAM"} if end_stream else set())
        method = "GET" if end_stream else "POST"
        return HeadersFrame(sid, self.block(method=method, path=path), flags=flags)

    # -- what the server answered ---------------------------------------------------------

    def connection_error(self, code: int) -> None:
        frame = self.read_until(GoAwayFrame)
        assert isinstance(frame, GoAwayFrame), f"no GOAWAY; saw {self.frames}"
        assert frame.error_code == code, f"GOAWAY {frame.error_code}, expected {code}"

    def stream_error(self, sid: int, code: int) -> None:
        frame = self.read_until((RstStreamFrame, GoAwayFrame))
        assert frame is not None, f"no RST_STREAM or GOAWAY; saw {self.frames}"
        if isinstance(frame, RstStreamFrame):
            assert (frame.stream_id, frame.error_code) == (sid, code), frame
        else:
            assert isinstance(frame, GoAwayFrame) and frame.error_code == code, frame

    def alive(self) -> None:
        """The connection still works: a PING is answered and no GOAWAY came first."""
        self.send(PingFrame(0, b"h2-alive"))
        frame = self.read_until(PingFrame)
        assert isinstance(frame, PingFrame) and "ACK" in frame.flags, self.frames
        assert frame.opaque_data == b"h2-alive"
        assert not any(isinstance(f, (GoAwayFrame, RstStreamFrame)) for f in self.frames)

    def response(self, sid: int) -> list[tuple[str, str]]:
        """The response head on ``sid`` (skipping frames of other streams)."""
        while True:
            frame = self.read_until((HeadersFrame, GoAwayFrame, RstStreamFrame))
            assert isinstance(frame, HeadersFrame), f"no response; saw {self.frames}"
            if frame.stream_id == sid:
                return [(str(n), str(v)) for n, v in self.decoder.decode(frame.data)]
