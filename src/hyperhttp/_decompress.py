"""Content-Encoding decoders: streaming, bounded, stacked at most ``MAX_CODING_CHAIN`` deep.

Each decoder turns one compressed chunk into a list of output pieces of at most
``DECODE_PIECE`` bytes (gzip, deflate and br are asked for bounded output, so a decompression
bomb is never materialised in one allocation), and the caller counts the total against
``max_decompressed_size``. Only encodings we can decode are ever advertised in
``Accept-Encoding``; an unknown one in a response is a :class:`DecodingError`.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, Final

from ._exceptions import DecodingError, DecompressionError

__all__ = [
    "DECODE_PIECE",
    "MAX_CODING_CHAIN",
    "SUPPORTED_ENCODINGS",
    "ContentDecoder",
    "make_decoder",
]

# Output produced per step; bounds the memory one compressed chunk can expand into at once.
DECODE_PIECE: Final = 64 * 1024
# RFC 8878 §3.1.1.1.2 / RFC 9659: HTTP zstd decoders need not accept windows over 8 MiB,
# and a huge declared window is a memory-exhaustion vector (checklist DC-03).
ZSTD_MAX_WINDOW: Final = 8 * 1024 * 1024
# curl's MAX_ENCODE_STACK is 5; nobody stacks more legitimately (checklist P-05).
MAX_CODING_CHAIN: Final = 5


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - optional extra not installed
        return None


_brotli = _optional("brotli")
_zstd = _optional("zstandard")


def _version(text: str) -> tuple[int, ...]:
    """``"1.2.1"`` -> ``(1, 2, 1)``; a part's leading digits count, then the rest is
    ignored (``"1.3rc1"`` -> ``(1, 3)``)."""
    parts = []
    for part in text.split("."):
        digits = part[: len(part) - len(part.lstrip("0123456789"))]
        if not digits:
            break
        parts.append(int(digits))
        if digits != part:
            break
    return tuple(parts)


# brotli 1.2 added the output_buffer_limit that bounded output needs, and 1.2.1 fixed an
# out-of-bounds write (checklist DC-02): an older brotli is not used, nor is br advertised.
BROTLI_MIN_VERSION: Final = (1, 2, 1)
_HAS_BROTLI = (
    _brotli is not None
    and _version(str(getattr(_brotli, "__version__", "0"))) >= BROTLI_MIN_VERSION
)

SUPPORTED_ENCODINGS: Final[tuple[str, ...]] = (
    ("gzip", "deflate") + (("br",) if _HAS_BROTLI else ()) + (("zstd",) if _zstd else ())
)


class ContentDecoder:
    """Decodes one content coding, chunk by chunk."""

    def decode(self, data: bytes) -> list[bytes]:
        """Output pieces for ``data`` (each at most ``DECODE_PIECE`` bytes)."""
        raise NotImplementedError  # pragma: no cover

    def flush(self) -> list[bytes]:
        """Output left at the end; ``DecompressionError`` if the stream was cut short."""
        return []


class _ZlibDecoder(ContentDecoder):
    def __init__(self, wbits: int, name: str) -> None:
        self._wbits = wbits
        self._name = name
        self._obj = zlib.decompressobj(wbits)
        self._fed = False

    def _drain(self, data: bytes) -> list[bytes]:
        pieces = []
        obj = self._obj
        while True:
            piece = obj.decompress(data, DECODE_PIECE)
            if piece:
                pieces.append(piece)
            data = obj.unconsumed_tail
            if obj.eof and obj.unused_data and self._wbits > zlib.MAX_WBITS:
                # Another gzip member follows (RFC 1952 allows several): decode it too,
                # in a fresh object, so many members cost linear time.
                data = obj.unused_data
                self._obj = obj = zlib.decompressobj(self._wbits)
                continue
            if not data:
                return pieces

    def decode(self, data: bytes) -> list[bytes]:
        if data:
            self._fed = True
        try:
            return self._drain(data)
        except zlib.error:
            raise DecompressionError(f"invalid {self._name} data") from None

    def flush(self) -> list[bytes]:
        if self._fed and not self._obj.eof:
            raise DecompressionError(f"the {self._name} stream ended early")
        return []


class GzipDecoder(_ZlibDecoder):
    """``gzip`` (one or more members)."""

    def __init__(self) -> None:
        super().__init__(zlib.MAX_WBITS | 16, "gzip")


class DeflateDecoder(_ZlibDecoder):
    """``deflate``: zlib-wrapped as RFC 9110 says, or raw DEFLATE as some servers send."""

    def __init__(self) -> None:
        super().__init__(zlib.MAX_WBITS, "deflate")
        self._decided = False

    def decode(self, data: bytes) -> list[bytes]:
        if not self._decided and data:
            self._decided = True
            try:
                return super().decode(data)
            except DecompressionError:
                self._wbits = -zlib.MAX_WBITS
                self._obj = zlib.decompressobj(self._wbits)
        return super().decode(data)


class BrotliDecoder(ContentDecoder):
    """``br`` (needs brotli >= 1.2.1: bounded output, no out-of-bounds write)."""

    def __init__(self) -> None:
        assert _brotli is not None
        self._obj: Any = _brotli.Decompressor()
        self._fed = False

    def decode(self, data: bytes) -> list[bytes]:
        if data:
            self._fed = True
        pieces: list[bytes] = []
        try:
            # With an output limit, process() keeps output back; it is drained with empty
            # input until it returns nothing. can_accept_more_data() cannot end this loop:
            # brotli 1.2.1 answers True while output is still pending.
            piece = self._obj.process(data, output_buffer_limit=DECODE_PIECE)
            while piece:
                # The limit is where the buffer stops growing, so a piece can pass it a little.
                pieces += [piece[i : i + DECODE_PIECE] for i in range(0, len(piece), DECODE_PIECE)]
                piece = self._obj.process(b"", output_buffer_limit=DECODE_PIECE)
        except _brotli.error:
            raise DecompressionError("invalid br data") from None
        return pieces

    def flush(self) -> list[bytes]:
        if self._fed and not self._obj.is_finished():
            raise DecompressionError("the br stream ended early")
        return []


class ZstdDecoder(ContentDecoder):
    """``zstd``: every frame in turn, windows capped at ``ZSTD_MAX_WINDOW``."""

    def __init__(self) -> None:
        assert _zstd is not None
        self._dctx: Any = _zstd.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._obj: Any = self._dctx.decompressobj()
        self._fed = False

    def decode(self, data: bytes) -> list[bytes]:
        if data:
            self._fed = True
        pieces: list[bytes] = []
        try:
            while data:
                out = self._obj.decompress(data)
                pieces += [out[i : i + DECODE_PIECE] for i in range(0, len(out), DECODE_PIECE)]
                if not self._obj.eof:
                    break
                # One frame ended; the rest of the input starts the next frame.
                data = self._obj.unused_data
                self._obj = self._dctx.decompressobj()
                self._fed = bool(data)
        except _zstd.ZstdError:
            raise DecompressionError("invalid zstd data (or a window over 8 MiB)") from None
        return pieces

    def flush(self) -> list[bytes]:
        if self._fed and not self._obj.eof:
            raise DecompressionError("the zstd stream ended early")
        return []


class _ChainDecoder(ContentDecoder):
    """Several codings: the last one listed was applied last, so it is undone first."""

    def __init__(self, decoders: list[ContentDecoder]) -> None:
        self._decoders = decoders

    def decode(self, data: bytes) -> list[bytes]:
        pieces = [data]
        for decoder in self._decoders:
            pieces = [out for piece in pieces for out in decoder.decode(piece)]
        return pieces

    def flush(self) -> list[bytes]:
        pieces: list[bytes] = []
        for decoder in self._decoders:
            pieces = [out for piece in pieces for out in decoder.decode(piece)]
            pieces += decoder.flush()
        return pieces


_DECODERS: Final[dict[str, type[ContentDecoder]]] = {
    "gzip": GzipDecoder,
    "x-gzip": GzipDecoder,
    "deflate": DeflateDecoder,
}
if _HAS_BROTLI:
    _DECODERS["br"] = BrotliDecoder
if _zstd is not None:
    _DECODERS["zstd"] = ZstdDecoder


def make_decoder(content_encoding: str | None) -> ContentDecoder | None:
    """The decoder for a Content-Encoding value, or None for identity.

    Raises ``DecodingError`` for a coding we cannot decode and ``DecompressionError`` for a
    chain longer than ``MAX_CODING_CHAIN``.
    """
    if not content_encoding:
        return None
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > MAX_CODING_CHAIN:
        raise DecompressionError(
            f"{len(codings)} stacked content codings (at most {MAX_CODING_CHAIN})"
        )
    decoders = []
    for coding in reversed(codings):
        factory = _DECODERS.get(coding)
        if factory is None:
            raise DecodingError(f"unsupported Content-Encoding {coding[:40]!r}")
        decoders.append(factory())
    return decoders[0] if len(decoders) == 1 else _ChainDecoder(decoders)
