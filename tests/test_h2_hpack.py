"""Our HPACK codec (``_protocol/h2_hpack``) against the reference ``hpack`` package.

Whatever header lists, table sizes and Huffman choices: what our encoder writes, ``hpack``
decodes to the same list, and what ``hpack`` writes, ours decodes to the same list. The
caches (encoded blocks, replayed blocks, Huffman strings) must never change a result.
Malformed blocks raise ``HPACKError`` (the caller's COMPRESSION_ERROR), never anything else.
"""

from __future__ import annotations

import hpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperhttp._protocol.h2_hpack import (
    DEFAULT_TABLE_SIZE,
    ENCODER_TABLE_SIZE,
    HeaderListTooLarge,
    HPACKDecoder,
    HPACKEncoder,
    HPACKError,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = [b":method", b":path", b"user-agent", b"accept", b"x-a", b"x-b", b"cookie", b"date"]
Field = tuple[bytes, bytes]
field_st = st.tuples(
    st.sampled_from(NAMES) | st.binary(min_size=1, max_size=12).map(lambda b: b.hex().encode()),
    st.sampled_from([b"", b"GET", b"/", b"v1", b"v2"]) | st.binary(max_size=300),
)
# A session: header lists sent one after another, sometimes with a table-size change first.
session_st = st.lists(
    st.tuples(
        st.lists(field_st, min_size=1, max_size=8),
        st.none() | st.sampled_from([0, 64, 300, 4096, 8192]),
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


def plain(fields: list[tuple[bytes, bytes]]) -> list[Field]:
    return [(bytes(name), bytes(value)) for name, value in fields]


@SETTINGS
@given(session_st)
def test_our_encoder_is_decoded_by_the_reference(
    session: list[tuple[list[Field], int | None, bool]],
) -> None:
    ours = HPACKEncoder()
    reference = hpack.Decoder(max_header_list_size=1 << 30)
    for fields, new_size, repeat in session:
        if new_size is not None:
            ours.set_peer_table_size(new_size)
            reference.max_allowed_table_size = new_size
        for _ in range(2 if repeat else 1):  # the second time may come from the block cache
            assert plain(reference.decode(ours.encode(fields), raw=True)) == fields


@SETTINGS
@given(session_st)
def test_we_decode_the_reference_encoder(
    session: list[tuple[list[Field], int | None, bool]],
) -> None:
    reference = hpack.Encoder()
    ours = HPACKDecoder()
    for fields, new_size, huffman in session:
        if new_size is not None and new_size <= DEFAULT_TABLE_SIZE:
            reference.header_table_size = new_size
        block = reference.encode(fields, huffman=huffman)
        assert ours.decode(block, 1 << 30) == fields


def test_replayed_blocks_insert_their_entries_again() -> None:
    # nginx-style: the same literals with incremental indexing on every response, then a
    # reference to the newest entry; the cached block must still update the table.
    decoder = HPACKDecoder()
    for i in range(300):
        date = b"d%d" % (i // 50)
        block = b"\x88" + _literal_indexed(b"server", b"nginx") + _literal_indexed(b"date", date)
        assert decoder.decode(block, 65_536) == [
            (b":status", b"200"),
            (b"server", b"nginx"),
            (b"date", date),
        ]
        assert decoder.decode(b"\xbe\xbf", 65_536) == [(b"date", date), (b"server", b"nginx")]


def test_cached_encoder_blocks_follow_table_changes() -> None:
    encoder = HPACKEncoder()
    reference = hpack.Decoder()
    fields = [(b":method", b"GET"), (b":path", b"/x"), (b"x-a", b"1")]
    first = encoder.encode(fields)
    assert encoder.encode(fields) != first  # now indexed
    steady = encoder.encode(fields)
    assert encoder.encode(fields) is steady  # from the block cache
    for block in (first, steady):
        assert plain(reference.decode(block, raw=True)) == fields
    encoder.set_peer_table_size(0)  # everything evicted: the cached block is stale
    reference.max_allowed_table_size = 0
    again = encoder.encode(fields)
    assert again != steady
    assert plain(reference.decode(again, raw=True)) == fields


def test_credentials_are_never_indexed() -> None:
    encoder = HPACKEncoder()
    for _ in range(3):
        block = encoder.encode([(b"authorization", b"Bearer secret")])
        # 0001xxxx: literal never indexed (RFC 7541 §6.2.3), every time.
        assert block[0] & 0xF0 == 0x10
        assert b"Bearer secret" in block


def test_the_encoder_never_uses_more_table_than_its_cap() -> None:
    encoder = HPACKEncoder()
    encoder.set_peer_table_size(1 << 20)
    reference = hpack.Decoder()
    reference.max_allowed_table_size = 1 << 20
    for i in range(500):
        fields = [(b"x-%d" % i, b"v" * 100)]
        assert plain(reference.decode(encoder.encode(fields), raw=True)) == fields
    entries = reference.header_table.dynamic_entries
    assert sum(32 + len(name) + len(value) for name, value in entries) <= ENCODER_TABLE_SIZE


def _length(size: int) -> bytes:
    """A string length with a 7-bit prefix (RFC 7541 §5.1), no Huffman."""
    if size < 127:
        return bytes([size])
    out, size = bytearray([127]), size - 127
    while size >= 128:
        out.append(size & 0x7F | 0x80)
        size >>= 7
    return bytes([*out, size])


def _literal_indexed(name: bytes, value: bytes) -> bytes:
    return b"\x40" + _length(len(name)) + name + _length(len(value)) + value


@pytest.mark.parametrize(
    "block,message",
    [
        (b"\x80", "index 0"),
        (b"\xbe", "index 62"),  # the dynamic table is empty
        (b"\xff\xff\xff\xff\xff\xff\xff", "too long"),
        (b"\xff", "ends inside an integer"),
        (b"\x40\x05ab", "past the end"),
        (b"\x40", "ends inside a field"),
        (b"\x3f\xe2\x1f", "exceeds the advertised"),  # size update to 4097
        (b"\x88\x20", "after the first field"),
        (b"\x40\x81\xff\x01a", "Huffman"),  # an EOS-only Huffman string
    ],
)
def test_malformed_blocks_raise_hpack_error(block: bytes, message: str) -> None:
    with pytest.raises(HPACKError, match=message):
        HPACKDecoder().decode(block, 65_536)


@SETTINGS
@given(st.binary(max_size=200))
def test_garbage_raises_only_hpack_error(block: bytes) -> None:
    decoder = HPACKDecoder()
    try:
        decoder.decode(block, 65_536)
    except HPACKError:
        pass


def test_header_list_cap_and_cap_plus_one() -> None:
    # Each field counts name + value + 32 (RFC 9113 §6.5.2).
    block = _literal_indexed(b"x-a", b"v" * 65)  # 3 + 65 + 32 = 100
    assert HPACKDecoder().decode(block, 100) == [(b"x-a", b"v" * 65)]
    with pytest.raises(HeaderListTooLarge):
        HPACKDecoder().decode(block, 99)
    # A bomb: one indexed reference repeated decodes far larger than its size.
    decoder = HPACKDecoder()
    decoder.decode(_literal_indexed(b"x-a", b"v" * 4000), 65_536)
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(b"\xbe" * 1000, 65_536)
    # The cap also holds for a block served from the replay cache.
    decoder = HPACKDecoder()
    decoder.decode(block, 100)
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(block, 99)
