"""Content-Encoding decoders: streaming, bounded, stacked at most ``MAX_CODING_CHAIN`` deep.

Each decoder turns one compressed chunk into a lazy iterator of output pieces of at most
``DECODE_PIECE`` bytes, each step of work bounded in input and output (gzip, deflate and br
are asked for bounded output, zstd is fed a few bytes at a time), so a decompression bomb is
never materialised: the caller counts each piece against ``max_decompressed_size`` and
stops. Only encodings we can decode are ever advertised in ``Accept-Encoding``; an unknown
one in a response is a :class:`DecodingError`.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterator
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
# Compressed input given to zlib per call: bounds what it copies into unconsumed_tail and
# unused_data, so 100 000 empty gzip members cost linear time (checklist DC-05).
ZLIB_INPUT_STEP: Final = 16 * 1024
# ... starting from this much for each gzip member, doubling while the member goes on.
ZLIB_FIRST_STEP: Final = 256
# Compressed input given to zstandard per call (its decompressobj has no output limit): a
# zstd block costs at least 4 bytes and yields at most 128 KiB, so one step yields at most
# (ZSTD_INPUT_STEP // 4 + 1) * 128 KiB, about 1 MiB.
ZSTD_INPUT_STEP: Final = 28
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
    """Decodes one content coding, chunk by chunk.

    ``decode`` and ``flush`` are lazy: each output piece is produced only when the caller asks
    for it, so a caller that stops (``max_decompressed_size``) never makes the rest.
    """

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Output pieces for ``data`` (each at most ``DECODE_PIECE`` bytes); iterate to the
        end before the next call."""
        raise NotImplementedError  # pragma: no cover

    def flush(self) -> Iterator[bytes]:
        """Output left at the end (lazily, like ``decode``); ``DecompressionError`` if the
        stream was cut short."""
        yield from ()


class _ZlibDecoder(ContentDecoder):
    def __init__(self, wbits: int, name: str) -> None:
        self._wbits = wbits
        self._name = name
        self._obj = zlib.decompressobj(wbits)
        self._fed = False
        self._step = ZLIB_FIRST_STEP

    def _steps(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        obj = self._obj
        piece = b""
        step = self._step
        while view:
            # At most ZLIB_INPUT_STEP bytes go in per call, so what zlib copies into
            # unconsumed_tail / unused_data is bounded and many gzip members cost linear time.
            chunk = view[:step]
            piece = obj.decompress(chunk, DECODE_PIECE)
            if piece:
                yield piece
            if not obj.eof:
                view = view[len(chunk) - len(obj.unconsumed_tail) :]
                self._step = step = min(step * 2, ZLIB_INPUT_STEP)
                continue
            view = view[len(chunk) - len(obj.unused_data) :]
            if view and self._wbits > zlib.MAX_WBITS:
                # Another gzip member follows (RFC 1952 allows several): a fresh object,
                # fed small steps at first, as tiny (even empty) members are cheap to send.
                self._obj = obj = zlib.decompressobj(self._wbits)
                self._step = step = ZLIB_FIRST_STEP
            elif view:
                raise zlib.error("data after the end of the stream")
        # All input is in, but a full piece means zlib may still hold output back.
        while len(piece) == DECODE_PIECE and not obj.eof:
            piece = obj.decompress(b"", DECODE_PIECE)
            if piece:
                yield piece

    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            self._fed = True
        try:
            yield from self._steps(data)
        except zlib.error:
            raise DecompressionError(f"invalid {self._name} data") from None

    def flush(self) -> Iterator[bytes]:
        if self._fed and not self._obj.eof:
            raise DecompressionError(f"the {self._name} stream ended early")
        yield from ()


class GzipDecoder(_ZlibDecoder):
    """``gzip`` (one or more members)."""

    def __init__(self) -> None:
        super().__init__(zlib.MAX_WBITS | 16, "gzip")


class DeflateDecoder(_ZlibDecoder):
    """``deflate``: zlib-wrapped as RFC 9110 says, or raw DEFLATE as some servers send."""

    def __init__(self) -> None:
        super().__init__(zlib.MAX_WBITS, "deflate")
        self._head: bytes | None = b""  # first bytes, kept until the zlib header can be checked

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._head is not None and data:
            data = self._head + data
            if len(data) < 2:  # the zlib header is 2 bytes
                self._head = data
                self._fed = True
                return iter(())
            self._head = None
            try:
                # One byte of output is enough to check the zlib header and first block.
                zlib.decompressobj(zlib.MAX_WBITS).decompress(data[:ZLIB_INPUT_STEP], 1)
            except zlib.error:
                self._wbits = -zlib.MAX_WBITS
                self._obj = zlib.decompressobj(self._wbits)
        return super().decode(data)


class BrotliDecoder(ContentDecoder):
    """``br`` (needs brotli >= 1.2.1: bounded output, no out-of-bounds write)."""

    def __init__(self) -> None:
        assert _brotli is not None
        self._obj: Any = _brotli.Decompressor()
        self._fed = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            self._fed = True
        try:
            # With an output limit, process() keeps output back; it is drained with empty
            # input until it returns nothing. can_accept_more_data() cannot end this loop:
            # brotli 1.2.1 answers True while output is still pending.
            piece = self._obj.process(data, output_buffer_limit=DECODE_PIECE)
            while piece:
                # The limit is where the buffer stops growing, so a piece can pass it a little.
                for start in range(0, len(piece), DECODE_PIECE):
                    yield piece[start : start + DECODE_PIECE]
                piece = self._obj.process(b"", output_buffer_limit=DECODE_PIECE)
        except _brotli.error:
            raise DecompressionError("invalid br data") from None

    def flush(self) -> Iterator[bytes]:
        if self._fed and not self._obj.is_finished():
            raise DecompressionError("the br stream ended early")
        yield from ()


class ZstdDecoder(ContentDecoder):
    """``zstd``: every frame in turn, windows capped at ``ZSTD_MAX_WINDOW``.

    zstandard's ``decompress()`` has no output limit, so input goes in ``ZSTD_INPUT_STEP``
    bytes at a time: a zstd block needs at least 4 bytes and yields at most 128 KiB, which
    bounds what one step can expand into. Small outputs are gathered into pieces of up to
    ``DECODE_PIECE`` bytes.
    """

    def __init__(self) -> None:
        assert _zstd is not None
        self._dctx: Any = _zstd.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._obj: Any = self._dctx.decompressobj(write_size=DECODE_PIECE)
        self._fed = False

    def _steps(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        pending = bytearray()
        while view:
            chunk = view[:ZSTD_INPUT_STEP]
            pending += self._obj.decompress(chunk)
            while len(pending) >= DECODE_PIECE:
                yield bytes(pending[:DECODE_PIECE])
                del pending[:DECODE_PIECE]
            if self._obj.eof:
                # One frame ended; the rest of the input starts the next frame.
                view = view[len(chunk) - len(self._obj.unused_data) :]
                self._obj = self._dctx.decompressobj(write_size=DECODE_PIECE)
                self._fed = bool(view)
            else:
                view = view[len(chunk) :]
        if pending:
            yield bytes(pending)

    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            self._fed = True
        try:
            yield from self._steps(data)
        except _zstd.ZstdError:
            raise DecompressionError("invalid zstd data (or a window over 8 MiB)") from None

    def flush(self) -> Iterator[bytes]:
        if self._fed and not self._obj.eof:
            raise DecompressionError("the zstd stream ended early")
        yield from ()


class _ChainDecoder(ContentDecoder):
    """Several codings: the last one listed was applied last, so it is undone first."""

    def __init__(self, decoders: list[ContentDecoder]) -> None:
        self._decoders = decoders

    def _through(self, pieces: Iterator[bytes], start: int) -> Iterator[bytes]:
        for decoder in self._decoders[start:]:
            pieces = self._decoded(decoder, pieces)
        return pieces

    @staticmethod
    def _decoded(decoder: ContentDecoder, pieces: Iterator[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            yield from decoder.decode(piece)

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(iter((data,)), 0)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            # What one decoder still holds goes through the ones after it, lazily.
            yield from self._through(decoder.flush(), index + 1)


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
