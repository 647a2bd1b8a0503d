"""What the server thread and its connections exchange with the application layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from .._protocol.h1_server import (
    MAX_BODY_SIZE,
    MAX_HEADER_BLOCK_SIZE,
    MAX_HEADER_COUNT,
    MAX_REQUEST_LINE_SIZE,
)
from .._protocol.h2_server import (
    CONTROL_FRAME_BURST,
    CONTROL_FRAME_RATE,
    MAX_CONCURRENT_STREAMS,
    MAX_HEADER_LIST_SIZE,
    RESET_BURST,
    RESET_RATE,
    STREAM_WINDOW,
)
from ._faults import Fault

__all__ = [
    "BODY_TIMEOUT",
    "H2_MAX_WRITE_BUFFER",
    "HEADER_TIMEOUT",
    "MIN_BODY_RATE",
    "WRITE_BUFFER_HIGH",
    "App",
    "RawRequest",
    "Reply",
    "ServerLimits",
]

#: Seconds from the first byte of a request head until it must be complete (slowloris). On
#: HTTP/2: a header block (HEADERS + CONTINUATION) or any partial non-DATA frame.
HEADER_TIMEOUT: Final = 10.0
#: Seconds a request body may go without a byte (HTTP/2: without a complete DATA frame on
#: that stream); long enough for a 16 KiB frame at MIN_BODY_RATE.
BODY_TIMEOUT: Final = 30.0
#: Bytes/s a body must average once it took longer than BODY_TIMEOUT (slow POST, RUDY).
MIN_BODY_RATE: Final = 1024.0
#: Write-buffer size past which a connection stops reading (asyncio's pause_writing mark):
#: a client that does not read cannot make us queue answers to what it keeps sending.
WRITE_BUFFER_HIGH: Final = 256 * 1024
#: HTTP/2 hard cap on one connection's write buffer (CVE-2019-9517). Reading stops at
#: WRITE_BUFFER_HIGH, so only our own writers can push past it (a DATA frame per stream, the
#: ACKs for the last read); past this cap the connection is dropped without GOAWAY, which a
#: peer that does not read would never see.
H2_MAX_WRITE_BUFFER: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class ServerLimits:
    """Caps and deadlines that keep a hostile or stuck client from hurting the server."""

    max_request_line: int = MAX_REQUEST_LINE_SIZE
    max_header_block: int = MAX_HEADER_BLOCK_SIZE
    max_header_count: int = MAX_HEADER_COUNT
    max_body_size: int = MAX_BODY_SIZE
    #: seconds from the first byte of a request head until the head must be complete (HTTP/2:
    #: a header block or any other non-DATA frame; past it GOAWAY(ENHANCE_YOUR_CALM))
    header_timeout: float = HEADER_TIMEOUT
    #: seconds a request body may go without receiving a byte (HTTP/2: per stream, without a
    #: DATA frame; past it a 408 response and RST_STREAM(NO_ERROR) on that stream)
    body_timeout: float = BODY_TIMEOUT
    #: bytes/s a request body must average once it has taken longer than ``body_timeout``
    min_body_rate: float = MIN_BODY_RATE
    #: seconds an idle keep-alive connection is kept open
    idle_timeout: float = 60.0
    #: seconds a TLS handshake may take
    tls_handshake_timeout: float = 10.0
    #: seconds a write may stay blocked by a client that does not read
    write_timeout: float = 30.0
    #: requests queued on one connection (pipelining) before reading pauses
    max_pipelined: int = 64
    #: open connections beyond this are closed at once
    max_connections: int = 1024
    #: HTTP/2: streams a client may have open (advertised and enforced); also the cap on
    #: handlers running for one connection, counting streams the client already reset
    h2_max_concurrent_streams: int = MAX_CONCURRENT_STREAMS
    #: HTTP/2: decoded size of one header block (HPACK bombs); advertised and enforced
    h2_max_header_list_size: int = MAX_HEADER_LIST_SIZE
    #: HTTP/2: SETTINGS_INITIAL_WINDOW_SIZE we advertise (what a client may send per stream)
    h2_initial_window_size: int = STREAM_WINDOW
    #: HTTP/2 rapid reset: resets allowed in a burst, refilled per second; then GOAWAY
    h2_reset_burst: int = RESET_BURST
    h2_reset_rate: float = RESET_RATE
    #: HTTP/2 floods: PING/SETTINGS/PRIORITY/empty frames allowed in a burst, per second
    h2_control_frame_burst: int = CONTROL_FRAME_BURST
    h2_control_frame_rate: float = CONTROL_FRAME_RATE
    #: write-buffer size at which a connection stops reading until the client catches up
    write_buffer_high: int = WRITE_BUFFER_HIGH
    #: HTTP/2: write-buffer size past which the connection is dropped (client not reading)
    h2_max_write_buffer: int = H2_MAX_WRITE_BUFFER


@dataclass
class RawRequest:
    """One complete request, as the worker thread sees it."""

    method: str
    target: bytes
    http_version: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    client: tuple[str, int]
    server: tuple[str, int]
    scheme: str
    keep_alive: bool = True


@dataclass
class Reply:
    """What to send back: status, headers and a body (bytes, or an iterator of chunks)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes | Iterator[bytes] = b""
    fault: Fault | None = None
    close: bool = False
    on_close: Callable[[], None] | None = field(default=None)


#: Called on the loop; returns the reply, or a function to run on a worker thread for it.
App = Callable[[RawRequest], "Reply | Callable[[], Reply]"]
