"""Content-Encoding decoders (filled in with the compression feature)."""

from __future__ import annotations

__all__ = ["SUPPORTED_ENCODINGS"]

SUPPORTED_ENCODINGS: tuple[str, ...] = ()
