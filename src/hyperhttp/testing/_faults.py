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
