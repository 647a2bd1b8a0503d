"""HPACK (RFC 7541) for our HTTP/2 client: a small encoder and decoder built for the hot path.

Theory of operation
-------------------
The ``hpack`` package (h2's) is the reference, and we take from it only data and one cold
function: the static table (RFC 7541 Appendix A) and its Huffman decoder. What differs is
where the time goes. A client sends nearly the same header list on every request and a
server answers with nearly the same fields, so:

* The encoder indexes every field it sends (except credentials, see :data:`NEVER_INDEXED`)
  and finds it again with one dict lookup: from the second request on, a field is one or
  two bytes on the wire. Strings go out as plain literals (Huffman would save ~20% of the
  bytes of the *first* request only). A header list encoded without inserting anything
  encodes to the same bytes for as long as nothing is inserted, so those blocks are
  remembered by header list and table generation.
* The decoder keeps, next to the dynamic table, a bounded cache from Huffman-coded bytes to
  their decoded value: servers send the same ``server:``, ``content-type:`` and ``date:``
  literals again and again, and decoding Huffman in Python is the slow part of HPACK.
* Servers also send the very same *block* again and again (nginx re-sends its response
  fields as literals with incremental indexing on every response). A block that does not
  refer to the dynamic table decodes to the same fields whatever the table holds, so the
  decoder remembers such blocks with their fields and the entries they insert, and replays
  the insertions: one dict lookup instead of a parse.

Errors are :class:`HPACKError` (the caller answers with COMPRESSION_ERROR, RFC 9113 §4.3)
and :class:`HeaderListTooLarge` (a decoded list above the caller's cap: an HPACK bomb).
"""

from __future__ import annotations

from typing import Final

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

__all__ = [
    "DEFAULT_TABLE_SIZE",
    "ENCODER_TABLE_SIZE",
    "HPACKDecoder",
    "HPACKEncoder",
    "HPACKError",
    "HeaderListTooLarge",
]

# RFC 7541 §4.2 / RFC 9113 §6.5.2: SETTINGS_HEADER_TABLE_SIZE starts at 4096 on both sides.
DEFAULT_TABLE_SIZE: Final = 4096
# The most dynamic-table memory our encoder uses, whatever the peer allows: enough for a
# request's fields, and it bounds what a peer's large setting can make us hold.
ENCODER_TABLE_SIZE: Final = 4096
# Fields whose values must not enter a compression context an attacker could probe
# (RFC 7541 §7.1.3): sent as never-indexed literals.
NEVER_INDEXED: Final = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
# Decoded Huffman strings kept for reuse, and the longest one worth keeping.
_HUFFMAN_CACHE_ENTRIES: Final = 512
_HUFFMAN_CACHE_MAX_LEN: Final = 256
# Encoded blocks remembered per header list, for lists of at most this many fields.
_ENCODER_BLOCK_ENTRIES: Final = 256
_ENCODER_BLOCK_MAX_FIELDS: Final = 64
# Whole header blocks remembered with what they decode to (see HPACKDecoder.decode).
_BLOCK_CACHE_ENTRIES: Final = 256
_BLOCK_CACHE_MAX_LEN: Final = 1024
# An HPACK integer needs at most 5 continuation bytes for any value below 2^32; more is an
# attack or garbage (and Python would happily build a huge int).
_MAX_INTEGER_BYTES: Final = 5
# RFC 7541 §4.1: an entry's size is its name and value lengths plus 32.
_ENTRY_OVERHEAD: Final = 32

_STATIC: Final[tuple[tuple[bytes, bytes], ...]] = tuple(HeaderTable.STATIC_TABLE)
_STATIC_COUNT: Final = len(_STATIC)  # 61
_STATIC_FULL: Final[dict[tuple[bytes, bytes], int]] = {}
_STATIC_NAME: Final[dict[bytes, int]] = {}
for _index, _field in enumerate(_STATIC, start=1):
    _STATIC_FULL.setdefault(_field, _index)
    _STATIC_NAME.setdefault(_field[0], _index)


class HPACKError(Exception):
    """The header block cannot be decoded: a COMPRESSION_ERROR (RFC 9113 §4.3)."""


class HeaderListTooLarge(HPACKError):
    """The decoded header list is larger than the cap (an HPACK bomb, RFC 9113 §10.5.1)."""


def _encode_integer(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 §5.1: ``value`` with an N-bit prefix; ``first`` holds the pattern bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_INDEXED: Final = tuple(bytes((0x80 | index,)) for index in range(0x7F))


def _literal(value: bytes) -> bytes:
    return _encode_integer(len(value), 7, 0) + value


class HPACKEncoder:
    """Encodes header lists; one per connection (its dynamic table is connection state)."""

    __slots__ = (
        "_blocks",
        "_entries",
        "_full",
        "_inserted",
        "_max_size",
        "_names",
        "_pending",
        "_size",
    )

    def __init__(self) -> None:
        # Newest first: (name, value, insertion number).
        self._entries: list[tuple[bytes, bytes, int]] = []
        self._full: dict[tuple[bytes, bytes], int] = {}
        self._names: dict[bytes, int] = {}
        self._inserted = 0
        self._size = 0
        self._max_size = min(DEFAULT_TABLE_SIZE, ENCODER_TABLE_SIZE)
        self._pending: int | None = None
        # header list -> its block, valid while ``_inserted`` is unchanged
        self._blocks: dict[tuple[tuple[bytes, bytes], ...], tuple[bytes, int]] = {}

    def set_peer_table_size(self, peer_size: int) -> None:
        """The peer's SETTINGS_HEADER_TABLE_SIZE changed: use at most that much."""
        size = min(peer_size, ENCODER_TABLE_SIZE)
        if size != self._max_size:
            self._max_size = size
            # RFC 7541 §6.3: announced at the start of the next header block.
            self._pending = size if self._pending is None else min(self._pending, size)
            self._evict()
            self._blocks.clear()  # they may name evicted entries

    def _evict(self) -> None:
        entries = self._entries
        while self._size > self._max_size:
            name, value, number = entries.pop()
            self._size -= len(name) + len(value) + _ENTRY_OVERHEAD
            if self._full.get((name, value)) == number:
                del self._full[(name, value)]
            if self._names.get(name) == number:
                del self._names[name]

    def encode(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        """One header block for ``fields`` (names already lowercase and validated)."""
        key = tuple(fields)
        cached = self._blocks.get(key)
        if cached is not None and cached[1] == self._inserted and self._pending is None:
            return cached[0]
        out: list[bytes] = []
        resized = self._pending is not None
        if self._pending is not None:
            out.append(_encode_integer(self._pending, 5, 0x20))
            if self._pending != self._max_size:
                out.append(_encode_integer(self._max_size, 5, 0x20))
            self._pending = None
        inserted_before = self._inserted
        full = self._full
        for field in fields:
            index = _STATIC_FULL.get(field)
            if index is None:
                number = full.get(field)
                if number is None:
                    out.append(self._encode_literal(field))
                    continue
                index = _STATIC_COUNT + 1 + self._inserted - number
            out.append(_INDEXED[index] if index < 0x7F else _encode_integer(index, 7, 0x80))
        block = b"".join(out)
        if (
            not resized
            and self._inserted == inserted_before
            and len(key) <= _ENCODER_BLOCK_MAX_FIELDS
        ):
            blocks = self._blocks
            if len(blocks) >= _ENCODER_BLOCK_ENTRIES:
                blocks.clear()
            blocks[key] = (block, self._inserted)
        return block

    def _encode_literal(self, field: tuple[bytes, bytes]) -> bytes:
        name, value = field
        name_index = _STATIC_NAME.get(name)
        if name_index is None:
            number = self._names.get(name)
            if number is not None:
                name_index = _STATIC_COUNT + 1 + self._inserted - number
        entry_size = len(name) + len(value) + _ENTRY_OVERHEAD
        if name in NEVER_INDEXED:
            prefix_bits, pattern = 4, 0x10
        elif entry_size > self._max_size // 2:
            # Would flush most of the table for one field: send it without indexing.
            prefix_bits, pattern = 4, 0x00
        else:
            prefix_bits, pattern = 6, 0x40
        if name_index is None:
            head = bytes((pattern,)) + _literal(name)
        else:
            head = _encode_integer(name_index, prefix_bits, pattern)
        if pattern == 0x40:
            self._inserted += 1
            self._entries.insert(0, (name, value, self._inserted))
            self._full[field] = self._inserted
            self._names[name] = self._inserted
            self._size += entry_size
            self._evict()
        return head + _literal(value)


class HPACKDecoder:
    """Decodes header blocks; one per connection."""

    __slots__ = ("_blocks", "_entries", "_huffman", "_max_size", "_settings_size", "_size")

    def __init__(self, settings_size: int = DEFAULT_TABLE_SIZE) -> None:
        self._entries: list[tuple[bytes, bytes]] = []  # newest first
        self._size = 0
        # What we advertised (the ceiling for size updates) and what the encoder chose.
        self._settings_size = settings_size
        self._max_size = settings_size
        self._huffman: dict[bytes, bytes] = {}
        # block -> (fields, entries it inserts newest first, their total size, list size)
        self._blocks: dict[
            bytes, tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]], int, int]
        ] = {}

    def _add(self, name: bytes, value: bytes) -> None:
        self._insert([(name, value)], len(name) + len(value) + _ENTRY_OVERHEAD)

    def _insert(self, new_entries: list[tuple[bytes, bytes]], size: int) -> None:
        """Add ``new_entries`` (newest first) whose sizes sum to ``size``; evict the oldest."""
        entries = self._entries
        entries[0:0] = new_entries
        self._size += size
        while self._size > self._max_size:
            old_name, old_value = entries.pop()
            self._size -= len(old_name) + len(old_value) + _ENTRY_OVERHEAD

    def _resize(self, size: int) -> None:
        if size > self._settings_size:
            raise HPACKError(
                f"dynamic table size update to {size} exceeds the advertised {self._settings_size}"
            )
        self._max_size = size
        entries = self._entries
        while self._size > size:
            old_name, old_value = entries.pop()
            self._size -= len(old_name) + len(old_value) + _ENTRY_OVERHEAD

    def _field(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= _STATIC_COUNT:
            return _STATIC[index - 1]
        dynamic = index - _STATIC_COUNT - 1
        if index == 0 or dynamic >= len(self._entries):
            raise HPACKError(f"header table index {index} does not exist")
        return self._entries[dynamic]

    def decode(self, block: bytes, max_list_size: int) -> list[tuple[bytes, bytes]]:
        """The fields of one complete header block, in order (do not modify the list).

        ``max_list_size`` caps names + values + 32 per field (RFC 9113 §6.5.2).
        """
        cached = self._blocks.get(block)
        if cached is not None and cached[3] <= max_list_size:
            fields, inserted, inserted_size, _ = cached
            if inserted:
                self._insert(inserted, inserted_size)
            return fields
        fields = []
        inserted = []
        inserted_size = 0
        # The block can be replayed later if it neither reads the dynamic table nor resizes it.
        replayable = True
        end = len(block)
        pos = 0
        list_size = 0
        size_update_allowed = True
        while pos < end:
            byte = block[pos]
            if byte & 0x80:  # indexed field (§6.1)
                index = byte & 0x7F
                pos += 1
                if index == 0x7F:
                    index, pos = _decode_integer_tail(block, pos, index)
                field = self._field(index)
                if index > _STATIC_COUNT:
                    replayable = False
            elif byte & 0x40:  # literal with incremental indexing (§6.2.1)
                field, pos, reads_table = self._literal(block, pos, end, 0x3F)
                replayable = replayable and not reads_table
                name, value = field
                self._add(name, value)
                inserted.insert(0, field)
                inserted_size += len(name) + len(value) + _ENTRY_OVERHEAD
            elif byte & 0x20:  # dynamic table size update (§6.3)
                if not size_update_allowed:
                    raise HPACKError("dynamic table size update after the first field")
                size = byte & 0x1F
                pos += 1
                if size == 0x1F:
                    size, pos = _decode_integer_tail(block, pos, size)
                self._resize(size)
                replayable = False
                continue
            else:  # literal without indexing / never indexed (§6.2.2, §6.2.3)
                field, pos, reads_table = self._literal(block, pos, end, 0x0F)
                replayable = replayable and not reads_table
            size_update_allowed = False
            list_size += len(field[0]) + len(field[1]) + _ENTRY_OVERHEAD
            if list_size > max_list_size:
                raise HeaderListTooLarge(f"the decoded header list exceeds {max_list_size} bytes")
            fields.append(field)
        if replayable and end <= _BLOCK_CACHE_MAX_LEN:
            blocks = self._blocks
            if len(blocks) >= _BLOCK_CACHE_ENTRIES:
                blocks.clear()
            blocks[block] = (fields, inserted, inserted_size, list_size)
        return fields

    def _literal(
        self, block: bytes, pos: int, end: int, prefix_mask: int
    ) -> tuple[tuple[bytes, bytes], int, bool]:
        """A literal field at ``pos`` whose name index has ``prefix_mask`` bits; the field,
        the position after it, and whether its name came from the dynamic table."""
        index = block[pos] & prefix_mask
        pos += 1
        if index == prefix_mask:
            index, pos = _decode_integer_tail(block, pos, index)
        if index:
            name = self._field(index)[0]
        else:
            name, pos = self._string(block, pos, end)
        value, pos = self._string(block, pos, end)
        return (name, value), pos, index > _STATIC_COUNT

    def _string(self, block: bytes, pos: int, end: int) -> tuple[bytes, int]:
        if pos >= end:
            raise HPACKError("header block ends inside a field")
        byte = block[pos]
        length = byte & 0x7F
        pos += 1
        if length == 0x7F:
            length, pos = _decode_integer_tail(block, pos, length)
        stop = pos + length
        if stop > end:
            raise HPACKError("a string runs past the end of the header block")
        raw = block[pos:stop]
        if not byte & 0x80:
            return raw, stop
        cache = self._huffman
        value = cache.get(raw)
        if value is None:
            try:
                value = decode_huffman(raw)
            except HPACKDecodingError as exc:
                raise HPACKError(f"invalid Huffman-coded string: {exc}") from None
            if length <= _HUFFMAN_CACHE_MAX_LEN:
                if len(cache) >= _HUFFMAN_CACHE_ENTRIES:
                    cache.clear()
                cache[raw] = value
        return value, stop


def _decode_integer_tail(block: bytes, pos: int, value: int) -> tuple[int, int]:
    """The continuation bytes of an integer whose prefix was all ones (RFC 7541 §5.1)."""
    shift = 0
    for _ in range(_MAX_INTEGER_BYTES):
        if pos >= len(block):
            raise HPACKError("header block ends inside an integer")
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise HPACKError("an integer in the header block is too long")
