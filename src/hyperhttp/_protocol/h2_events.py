"""Events both sides of our HTTP/2 code report for a stream: body bytes, its end, credit.

Shared by the client codec (``h2_client``) and the test server's protocol (``h2_server``):
the shapes are the same whichever side receives them.
"""

from __future__ import annotations

__all__ = ["DataReceived", "StreamEnded", "WindowOpened"]


class DataReceived:
    """Body bytes on a stream; ``flow_length`` (with padding) is what must be credited back."""

    __slots__ = ("data", "end_stream", "flow_length", "stream_id")

    def __init__(self, stream_id: int, data: bytes, flow_length: int, end_stream: bool) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_length = flow_length
        self.end_stream = end_stream


class StreamEnded:
    """The peer finished sending on the stream (END_STREAM, possibly after trailers)."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class WindowOpened:
    """Send credit grew (``stream_id`` 0: the connection, or every stream after a SETTINGS
    change of the initial window)."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
