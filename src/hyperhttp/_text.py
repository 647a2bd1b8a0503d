"""Text from bytes: charset lookup, incremental text decoding and line splitting.

Streaming text must not corrupt a multibyte character split across two chunks (hyperhttp
2.1.0 did), so decoding goes through ``codecs`` incremental decoders; line splitting keeps a
trailing ``\\r`` back until the next chunk shows whether ``\\n`` follows it.
"""

from __future__ import annotations

import codecs
from email.message import Message
from typing import Final

__all__ = ["LineDecoder", "TextDecoder", "charset_from_content_type", "normalize_encoding"]

DEFAULT_ENCODING: Final = "utf-8"


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type value, if it names a known codec."""
    if not content_type or "charset" not in content_type.lower():
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    if not isinstance(charset, str):
        return None
    return normalize_encoding(charset.strip("'\" "))


def normalize_encoding(name: str) -> str | None:
    """The codec name Python knows for ``name``, or None if it knows none."""
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


class TextDecoder:
    """Decodes a byte stream chunk by chunk without splitting characters."""

    __slots__ = ("_decoder",)

    def __init__(self, encoding: str = DEFAULT_ENCODING) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def decode(self, data: bytes) -> str:
        """Text for ``data``; a partial character at the end waits for the next call."""
        return self._decoder.decode(data)

    def flush(self) -> str:
        """Whatever is left at the end of the stream (a truncated character becomes U+FFFD)."""
        return self._decoder.decode(b"", final=True)


class LineDecoder:
    """Splits text into lines on ``\\n``, ``\\r\\n`` or ``\\r`` (terminators removed)."""

    __slots__ = ("_buffer", "_pending_cr")

    def __init__(self) -> None:
        self._buffer: list[str] = []
        self._pending_cr = False

    def decode(self, text: str) -> list[str]:
        """The lines completed by ``text``."""
        if self._pending_cr:
            text = "\r" + text
            self._pending_cr = False
        if text.endswith("\r"):
            self._pending_cr = True
            text = text[:-1]
        if not text:
            return []
        pieces = text.splitlines(keepends=True)
        lines: list[str] = []
        for piece in pieces:
            if piece.endswith(("\r\n", "\n", "\r")) and _is_line_end(piece):
                self._buffer.append(piece.rstrip("\r\n"))
                lines.append("".join(self._buffer))
                self._buffer = []
            else:
                self._buffer.append(piece)
        return lines

    def flush(self) -> list[str]:
        """The last line, if the stream did not end with a terminator."""
        rest = "".join(self._buffer)
        self._buffer = []
        if self._pending_cr:
            self._pending_cr = False
            return [rest]
        return [rest] if rest else []


def _is_line_end(piece: str) -> bool:
    # str.splitlines also splits on \x0b, \x0c, \x1c-\x1e, \x85, \u2028, \u2029; HTTP line
    # protocols (SSE, NDJSON) only know CR and LF, so those stay inside the line.
    return piece[-1] in "\r\n"
