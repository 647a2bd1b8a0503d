"""Splitting and mutating byte streams, for the property tests of our protocol parsers."""

from __future__ import annotations

from hypothesis import strategies as st

# Where a stream is cut into reads, and how a valid stream is damaged.
cuts_st = st.lists(st.integers(0, 1 << 16), max_size=30)
edits_st = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8)
how_st = st.sampled_from(["flip", "insert", "delete", "truncate"])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length), without empty pieces."""
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, last = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return [piece for piece in pieces if piece]


def mutate(data: bytes, edits: list[tuple[int, int]], how: str) -> bytes:
    """``data`` with bytes flipped, inserted or deleted at the ``edits`` positions, or cut."""
    out = bytearray(data)
    for position, value in edits:
        at = position % len(out)
        if how == "flip":
            out[at] ^= value or 1
        elif how == "insert":
            out[at:at] = bytes([value])
        elif how == "delete":
            del out[at]
        else:
            del out[at:]
            break
    return bytes(out)
