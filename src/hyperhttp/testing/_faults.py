"""Wire-level fault injection: what the server does to the bytes of one response.

A :class:`Fault` is attached to an expectation with ``RequestHandler.with_fault(...)``; the
server applies it on the event loop while writing, so a delayed or drip-fed response never
ties up a worker thread, and other connections keep being served.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["Fault"]


@dataclass(frozen=True)
class Fault:
    """How to misbehave when answering a request. Build one with the class methods.

    Faults combine with ``+``: ``Fault.delay(0.2) + Fault.drip(10, 0.01)`` waits, then drips.
    Instances are immutable and may be shared between expectations.
    """

    delay_seconds: float = 0.0
    action: str = "respond"  # respond | close | reset | raw
    raw_bytes: bytes = b""
    close_after_body_bytes: int | None = None
    content_length: int | None = None
    drip_bytes: int = 0
    drip_interval: float = 0.0
    status_line: bytes | None = None
    extra_header_lines: tuple[bytes, ...] = ()
    close_connection: bool = False
    # HTTP/2 frame-level faults (ignored on HTTP/1.1 connections)
    h2_goaway: bool = False
    h2_last_stream_id: int | None = None
    h2_rst_stream: bool = False
    h2_error_code: int = 0
    h2_rst_after_bytes: int | None = None
    h2_settings: tuple[tuple[str, int], ...] = ()

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before sending the response (without blocking the server)."""
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        return cls(delay_seconds=float(seconds))

    @classmethod
    def close(cls) -> Fault:
        """Close the connection (FIN) instead of responding."""
        return cls(action="close")

    @classmethod
    def reset(cls) -> Fault:
        """Reset the connection (TCP RST, via SO_LINGER 0) instead of responding."""
        return cls(action="reset")

    @classmethod
    def close_mid_body(cls, after_bytes: int) -> Fault:
        """Send the head and the first ``after_bytes`` bytes of the body, then close."""
        if after_bytes < 0:
            raise ValueError("after_bytes must be >= 0")
        return cls(close_after_body_bytes=after_bytes, close_connection=True)

    @classmethod
    def wrong_content_length(cls, value: int) -> Fault:
        """Announce ``Content-Length: value`` whatever the body is, then close after the body.

        A value larger than the body leaves the client waiting for bytes that never come
        (it sees the connection close early); a smaller one leaves extra bytes behind.
        """
        if value < 0:
            raise ValueError("value must be >= 0")
        return cls(content_length=value, close_connection=True)

    @classmethod
    def drip(cls, nbytes: int, every: float) -> Fault:
        """Send the whole response ``nbytes`` at a time, sleeping ``every`` seconds between."""
        if nbytes <= 0 or every < 0:
            raise ValueError("nbytes must be > 0 and every >= 0")
        return cls(drip_bytes=nbytes, drip_interval=float(every))

    @classmethod
    def malformed_status_line(cls, line: bytes = b"HTTP/1.1 2x0 NOT OK") -> Fault:
        """Replace the status line with ``line`` (sent as is, CRLF appended)."""
        return cls(status_line=line, close_connection=True)

    @classmethod
    def malformed_headers(cls, *lines: bytes) -> Fault:
        """Add raw header lines (default: one without a colon) to an otherwise valid head."""
        return cls(
            extra_header_lines=tuple(lines) or (b"This is not a header",),
            close_connection=True,
        )

    @classmethod
    def raw(cls, data: bytes, *, close: bool = True) -> Fault:
        """Send exactly ``data`` instead of a response, then close unless ``close=False``."""
        return cls(action="raw", raw_bytes=bytes(data), close_connection=close)

    # -- HTTP/2 frame-level faults ---------------------------------------------------------

    @classmethod
    def goaway(cls, last_stream_id: int | None = None, error_code: int = 0) -> Fault:
        """HTTP/2: send ``GOAWAY(last_stream_id, error_code)`` when this request arrives.

        With ``last_stream_id`` at or above this request's stream (the default: this
        stream), the response is still sent, then the connection closes once its streams
        are done. With a lower one (``0``, say) this request counts as never processed: no
        response, the connection closes, and a client may safely retry it elsewhere.
        """
        if last_stream_id is not None and last_stream_id < 0:
            raise ValueError("last_stream_id must be >= 0")
        if error_code < 0:
            raise ValueError("error_code must be >= 0")
        return cls(h2_goaway=True, h2_last_stream_id=last_stream_id, h2_error_code=error_code)

    @classmethod
    def rst_stream(cls, error_code: int = 2, *, after_bytes: int | None = None) -> Fault:
        """HTTP/2: reset the stream with ``RST_STREAM(error_code)`` (2: INTERNAL_ERROR).

        Without ``after_bytes`` instead of responding; with it, after the response head and
        the first ``after_bytes`` bytes of the body. Other streams are unaffected.
        """
        if error_code < 0 or (after_bytes is not None and after_bytes < 0):
            raise ValueError("error_code and after_bytes must be >= 0")
        return cls(h2_rst_stream=True, h2_error_code=error_code, h2_rst_after_bytes=after_bytes)

    @classmethod
    def h2_settings_change(cls, **settings: int) -> Fault:
        """HTTP/2: send a SETTINGS frame with ``settings`` before responding.

        Names: ``header_table_size``, ``max_concurrent_streams``, ``initial_window_size``,
        ``max_frame_size``, ``max_header_list_size``. They stay in force for the rest of
        the connection (a lowered ``initial_window_size`` shrinks the client's send
        windows on open streams at once, RFC 9113 §6.9.2).
        """
        from .._protocol.h2_server import SETTING_NAMES

        unknown = set(settings) - SETTING_NAMES
        if unknown or not settings:
            raise ValueError(f"unknown or no HTTP/2 settings: {sorted(unknown)}")
        return cls(h2_settings=tuple(sorted(settings.items())))

    @classmethod
    def tiny_window(cls, size: int = 1) -> Fault:
        """HTTP/2: advertise ``SETTINGS_INITIAL_WINDOW_SIZE=size`` before responding.

        The client may then send only ``size`` bytes per stream before each WINDOW_UPDATE:
        later uploads on the connection crawl. (For a tiny window from the first request,
        use ``ServerLimits(h2_initial_window_size=...)``.)
        """
        if not 0 <= size < 2**31:
            raise ValueError("size must be in 0 .. 2**31-1")
        return cls.h2_settings_change(initial_window_size=size)

    def __add__(self, other: Fault) -> Fault:
        if not isinstance(other, Fault):
            return NotImplemented
        default = Fault()
        changes = {
            f.name: getattr(other, f.name)
            for f in dataclasses.fields(other)
            if getattr(other, f.name) != getattr(default, f.name)
        }
        return dataclasses.replace(self, **changes)

    @property
    def needs_response(self) -> bool:
        """False for faults that never send a response (close, reset, raw)."""
        return self.action == "respond"
