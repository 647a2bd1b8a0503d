"""What the server thread and its connections exchange with the application layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

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

__all__ = ["App", "RawRequest", "Reply", "ServerLimits"]


@dataclass(frozen=True)
class ServerLimits:
    """Caps and deadlines that keep a hostile or stuck client from hurting the server."""

    max_request_line: int = MAX_REQUEST_LINE_SIZE
    max_header_block: int = MAX_HEADER_BLOCK_SIZE
    max_header_count: int = MAX_HEADER_COUNT
    max_body_size: int = MAX_BODY_SIZE
    #: seconds from the first byte of a request head until the head must be complete
    header_timeout: float = 10.0
    #: seconds a request body may go without receiving a byte
    body_timeout: float = 30.0
    #: bytes/s a request body must average once it has taken longer than ``body_timeout``
    min_body_rate: float = 1024.0
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
