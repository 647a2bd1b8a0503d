"""Content-Encoding over real sockets: every supported coding, stacks, bombs, bad data."""

from __future__ import annotations

import gzip
import io
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable

import brotli
import pytest
import zstandard
from werkzeug import Request, Response

import hyperhttp
from hyperhttp._decompress import (
    BROTLI_MIN_VERSION,
    DECODE_PIECE,
    MAX_CODING_CHAIN,
    ZSTD_MAX_WINDOW,
    _version,
    make_decoder,
)
from hyperhttp.testing import HTTPServer

from .conftest import ServerFactory
from .scripted import keep_alive, response

BODY = "héllo wörld ".encode() * 2000


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODED = {
    "gzip": gzip.compress(BODY),
    "deflate": zlib.compress(BODY),
    "br": brotli.compress(BODY),
    "zstd": zstandard.ZstdCompressor().compress(BODY),
}


async def _serve(scripted: ServerFactory, body: bytes, encoding: str) -> str:
    server = await scripted(
        keep_alive(lambda _: response(body, headers=[("Content-Encoding", encoding)]))
    )
    return server.url


@pytest.mark.parametrize("encoding", sorted(ENCODED))
async def test_each_supported_coding_is_decoded(scripted: ServerFactory, encoding: str) -> None:
    url = await _serve(scripted, ENCODED[encoding], encoding)
    async with hyperhttp.Client() as client:
        r = await client.get(url)
        assert r.content == BODY
        assert r.num_bytes_downloaded == len(ENCODED[encoding])
        async with client.stream("GET", url) as streamed:
            assert b"".join([c async for c in streamed.aiter_bytes()]) == BODY


async def test_accept_encoding_lists_only_what_we_decode(scripted: ServerFactory) -> None:
    server = await scripted(keep_alive(lambda _: response(b"ok")))
    async with hyperhttp.Client() as client:
        await client.get(server.url)
    async with hyperhttp.Client(accept_compressed=False) as client:
        await client.get(server.url)
    assert server.requests[0].header(b"accept-encoding") == b"gzip, deflate, br, zstd"
    assert server.requests[1].header(b"accept-encoding") == b"identity"


async def test_raw_deflate_is_accepted(scripted: ServerFactory) -> None:
    url = await _serve(scripted, _raw_deflate(BODY), "deflate")
    async with hyperhttp.Client() as client:
        assert (await client.get(url)).content == BODY


async def test_multi_member_gzip_is_decoded_whole(scripted: ServerFactory) -> None:
    url = await _serve(scripted, gzip.compress(b"part one, ") + gzip.compress(b"part two"), "gzip")
    async with hyperhttp.Client() as client:
        assert (await client.get(url)).content == b"part one, part two"


async def test_stacked_codings_are_undone_in_reverse(scripted: ServerFactory) -> None:
    url = await _serve(scripted, brotli.compress(gzip.compress(BODY)), "gzip, br")
    async with hyperhttp.Client() as client:
        assert (await client.get(url)).content == BODY


def test_coding_chain_limit_plus_one() -> None:
    assert make_decoder(", ".join(["gzip"] * MAX_CODING_CHAIN)) is not None
    with pytest.raises(hyperhttp.DecompressionError):
        make_decoder(", ".join(["gzip"] * (MAX_CODING_CHAIN + 1)))


async def test_max_decompressed_size_stops_a_bomb(scripted: ServerFactory) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # ~20 KiB on the wire
    url = await _serve(scripted, bomb, "gzip")
    async with hyperhttp.Client(max_decompressed_size=1024 * 1024) as client:
        with pytest.raises(hyperhttp.DecompressionError) as info:
            await client.get(url)
        assert info.value.request is not None
        async with client.stream("GET", url) as r:
            with pytest.raises(hyperhttp.DecompressionError):
                async for piece in r.aiter_bytes():
                    assert len(piece) <= DECODE_PIECE


async def test_invalid_compressed_data_is_a_typed_error(scripted: ServerFactory) -> None:
    url = await _serve(scripted, b"this is not gzip at all", "gzip")
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.DecompressionError):
            await client.get(url)


async def test_truncated_gzip_is_an_error_not_a_short_body(scripted: ServerFactory) -> None:
    url = await _serve(scripted, gzip.compress(BODY)[:-12], "gzip")
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.DecompressionError):
            await client.get(url)


async def test_unknown_coding_is_typed_and_the_connection_stays_usable(
    scripted: ServerFactory,
) -> None:
    replies = iter(
        [
            response(b"compressed?", headers=[("Content-Encoding", "snappy")]),
            response(b"plain"),
        ]
    )
    server = await scripted(keep_alive(lambda _: next(replies)))
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.DecodingError) as info:
            await client.get(server.url)
        assert info.value.request is not None
        assert (await client.get(server.url)).content == b"plain"
    assert server.accepted == 1


# A body large enough that one compressed chunk expands past the brotli output limit many times.
BIG = b"".join(b"line %07d of a large text body\n" % i for i in range(40_000))  # ~1.3 MiB
BIG_BR = brotli.compress(BIG, quality=5)


def _decode_in_pieces(encoding: str, data: bytes, size: int) -> bytes:
    decoder = make_decoder(encoding)
    assert decoder is not None
    out = []
    for start in range(0, len(data), size):
        out += list(decoder.decode(data[start : start + size]))
    out += list(decoder.flush())
    assert all(len(piece) <= DECODE_PIECE for piece in out)
    return b"".join(out)


@pytest.mark.parametrize("size", [None, 16 * 1024])
def test_large_brotli_body_decodes_exactly(size: int | None) -> None:
    assert len(BIG) > 1024 * 1024
    assert _decode_in_pieces("br", BIG_BR, size or len(BIG_BR)) == BIG


def test_brotli_fed_one_byte_at_a_time() -> None:
    compressed = brotli.compress(BODY)
    assert _decode_in_pieces("br", compressed, 1) == BODY


async def test_large_brotli_body_over_a_real_socket() -> None:
    def handler(_: Request) -> Response:
        return Response(BIG_BR, headers={"Content-Encoding": "br"})

    with HTTPServer(host="127.0.0.1") as server:
        server.expect_request("/big").respond_with_handler(handler)
        url = server.url_for("/big")
        async with hyperhttp.Client() as client:
            assert (await client.get(url)).content == BIG
            async with client.stream("GET", url) as r:
                assert b"".join([piece async for piece in r.aiter_bytes()]) == BIG


def test_brotli_version_gate() -> None:
    assert _version("1.2.1") == (1, 2, 1) >= BROTLI_MIN_VERSION
    assert _version("1.2.0") < BROTLI_MIN_VERSION
    assert _version("1.1") < BROTLI_MIN_VERSION
    assert _version("1.10.0") > BROTLI_MIN_VERSION
    assert _version("1.3rc1") == (1, 3)
    assert _version("") == ()


def _zstd_bomb(size: int) -> bytes:
    out = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(out, closefd=False) as writer:
        block = bytes(1024 * 1024)
        for _ in range(size // len(block)):
            writer.write(block)
    return out.getvalue()


BOMB_SIZE = 64 * 1024 * 1024
BOMBS = {
    "gzip": lambda: gzip.compress(bytes(BOMB_SIZE), compresslevel=1),
    "deflate": lambda: zlib.compress(bytes(BOMB_SIZE), 1),
    "br": lambda: brotli.compress(bytes(BOMB_SIZE), quality=1),
    "zstd": lambda: _zstd_bomb(BOMB_SIZE),
}


@pytest.mark.parametrize("encoding", sorted(BOMBS))
async def test_a_bomb_is_stopped_with_bounded_memory(
    scripted: ServerFactory, encoding: str
) -> None:
    # 64 MiB of zeros, a few KiB on the wire: max_decompressed_size must stop it long before
    # it is expanded, in content and in aiter_bytes alike (checklist DC-01, P-05).
    bomb = BOMBS[encoding]()
    assert len(bomb) < BOMB_SIZE // 100
    url = await _serve(scripted, bomb, encoding)
    limit = 1024 * 1024
    async with hyperhttp.Client(max_decompressed_size=limit) as client:
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            with pytest.raises(hyperhttp.DecompressionError):
                await client.get(url)
            whole_peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            async with client.stream("GET", url) as r:
                with pytest.raises(hyperhttp.DecompressionError):
                    async for piece in r.aiter_bytes():
                        assert len(piece) <= DECODE_PIECE
            streamed_peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    # The body read off the wire and the 1 MiB allowed, plus a few pieces in flight; far
    # below the 64 MiB an unbounded step would allocate.
    assert whole_peak < 16 * 1024 * 1024, whole_peak
    assert streamed_peak < 16 * 1024 * 1024, streamed_peak


def test_many_empty_gzip_members_cost_linear_time() -> None:
    # Empty members produce no output, so only bounded input per step keeps this linear
    # (checklist DC-05): quadratic copying took minutes here.
    data = gzip.compress(b"") * 100_000 + gzip.compress(b"end")
    decoder = make_decoder("gzip")
    assert decoder is not None
    started = time.perf_counter()
    out = b"".join([*decoder.decode(data), *decoder.flush()])
    assert time.perf_counter() - started < 2.0
    assert out == b"end"


# DC-03: zstd windows, frames, truncation.


def _zstd_without_content_size(data: bytes, window_log: int) -> bytes:
    params = zstandard.ZstdCompressionParameters(window_log=window_log, write_content_size=False)
    out = io.BytesIO()
    compressor = zstandard.ZstdCompressor(compression_params=params)
    with compressor.stream_writer(out, closefd=False) as writer:
        writer.write(data)
    return out.getvalue()


def test_zstd_window_over_8_mib_is_a_typed_error() -> None:
    assert _decode_in_pieces("zstd", _zstd_without_content_size(BODY, 23), 1000) == BODY
    for window_log in (24, 31):
        frame = _zstd_without_content_size(BODY, window_log)
        assert zstandard.get_frame_parameters(frame).window_size > ZSTD_MAX_WINDOW
        with pytest.raises(hyperhttp.DecompressionError):
            _decode_in_pieces("zstd", frame, len(frame))


@pytest.mark.parametrize("size", [1, 7, 1000, 1 << 20])
def test_zstd_frames_and_skippable_frames_all_decode(size: int) -> None:
    compressor = zstandard.ZstdCompressor()
    skippable = struct.pack("<II", 0x184D2A50, 5) + b"skip!"
    data = (
        skippable
        + compressor.compress(b"one, ")
        + compressor.compress(BODY)
        + skippable
        + compressor.compress(b", three")
        + skippable
    )
    assert _decode_in_pieces("zstd", data, size) == b"one, " + BODY + b", three"


@pytest.mark.parametrize("keep", [1, 4, 10, 1000, -100, -5, -1])
def test_truncated_zstd_is_an_error(keep: int) -> None:
    frame = zstandard.ZstdCompressor().compress(BIG)
    with pytest.raises(hyperhttp.DecompressionError):
        _decode_in_pieces("zstd", frame[:keep], 1000)


def test_invalid_zstd_is_an_error() -> None:
    with pytest.raises(hyperhttp.DecompressionError):
        _decode_in_pieces("zstd", b"\x28\xb5\x2f\xfd" + b"\xff" * 20, 1000)


# DC-04: a coding chain split over many header lines counts as one chain.


async def test_codings_over_several_header_lines_form_one_chain(scripted: ServerFactory) -> None:
    five = BODY
    for _ in range(MAX_CODING_CHAIN):
        five = gzip.compress(five, compresslevel=1)
    replies = iter(
        [
            response(five, headers=[("Content-Encoding", "gzip")] * MAX_CODING_CHAIN),
            response(five, headers=[("Content-Encoding", "gzip")] * (MAX_CODING_CHAIN + 1)),
            response(b"x", headers=[("Content-Encoding", "gzip, gzip")] * 100),
            response(b"x", headers=[("Content-Encoding", "gzip")] * 1000),
        ]
    )
    server = await scripted(keep_alive(lambda _: next(replies)))
    async with hyperhttp.Client() as client:
        assert (await client.get(server.url)).content == BODY
        with pytest.raises(hyperhttp.DecompressionError):
            await client.get(server.url)
        with pytest.raises(hyperhttp.DecompressionError):
            await client.get(server.url)
        # 1000 lines pass the header-count cap first: still a typed error, never a hang.
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await client.get(server.url)


# DC-06: spellings of known codings.


@pytest.mark.parametrize(
    ("value", "body"),
    [
        ("identity", BODY),
        ("", BODY),
        ("IDENTITY", BODY),
        ("x-gzip", gzip.compress(BODY)),
        ("GZIP", gzip.compress(BODY)),
        ("X-Gzip", gzip.compress(BODY)),
        (" gzip , identity ", gzip.compress(BODY)),
        ("Deflate", zlib.compress(BODY)),
        ("BR", brotli.compress(BODY)),
        ("ZStd", zstandard.ZstdCompressor().compress(BODY)),
    ],
)
async def test_coding_names_are_case_insensitive_and_identity_is_a_no_op(
    scripted: ServerFactory, value: str, body: bytes
) -> None:
    url = await _serve(scripted, body, value)
    async with hyperhttp.Client() as client:
        assert (await client.get(url)).content == BODY


# DC-07: corrupt data.


def _gzip_with(flags: int, extra: bytes, data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = compressor.compress(data) + compressor.flush()
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\0\xff"
    return header + extra + deflated + struct.pack("<II", zlib.crc32(data), len(data))


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda g: g[:-8] + bytes([g[-8] ^ 1]) + g[-7:], id="bad-crc"),
        pytest.param(lambda g: g[:-4] + bytes([g[-4] ^ 1]) + g[-3:], id="bad-length"),
        pytest.param(lambda g: b"\x1f\x8c" + g[2:], id="bad-magic"),
        pytest.param(lambda g: g[:3] + b"\xe0" + g[4:], id="reserved-flags"),
        pytest.param(lambda g: g + b"garbage!", id="trailing-garbage"),
        pytest.param(lambda g: g + b"\0" * 8, id="trailing-zeros"),
    ],
)
def test_corrupt_gzip_is_a_typed_error(corrupt: Callable[[bytes], bytes]) -> None:
    data = corrupt(gzip.compress(BODY))
    for size in (len(data), 1):
        with pytest.raises(hyperhttp.DecompressionError):
            _decode_in_pieces("gzip", data, size)


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("deflate", zlib.compress(BODY)),
        ("deflate", _raw_deflate(BODY)),
        ("br", brotli.compress(BODY)),
        ("zstd", zstandard.ZstdCompressor().compress(BODY)),
    ],
)
@pytest.mark.parametrize("trailer", [b"junk", b"j", b"\0" * 8])
def test_trailing_bytes_after_the_stream_are_a_typed_error(
    encoding: str, data: bytes, trailer: bytes
) -> None:
    # Documented choice (docs/client.md): never silently dropped, unlike urllib3.
    assert _decode_in_pieces(encoding, data, len(data)) == BODY
    for size in (len(data) + len(trailer), 1):
        with pytest.raises(hyperhttp.DecompressionError):
            _decode_in_pieces(encoding, data + trailer, size)


def test_gzip_with_huge_extra_field_and_comment_decodes() -> None:
    extra = struct.pack("<H", 65535) + b"x" * 65535
    comment = b"c" * 100_000 + b"\0"
    data = _gzip_with(0x04 | 0x10, extra + comment, b"hi")
    for size in (len(data), 16 * 1024, 1):
        assert _decode_in_pieces("gzip", data, size) == b"hi"


# DC-08: a declared coding with no body at all.


@pytest.mark.parametrize("encoding", sorted(ENCODED))
@pytest.mark.parametrize(
    ("method", "status", "extra"),
    [
        ("HEAD", 200, [("Content-Length", "1234")]),
        ("GET", 204, []),
        ("GET", 304, [("Content-Length", "1234")]),
        ("GET", 200, [("Content-Length", "0")]),
    ],
)
async def test_a_coding_on_an_empty_body_is_no_error(
    scripted: ServerFactory, encoding: str, method: str, status: int, extra: list[tuple[str, str]]
) -> None:
    head = response(b"", status, [("Content-Encoding", encoding), *extra], reason="X", length=False)
    server = await scripted(keep_alive(lambda _: head))
    async with hyperhttp.Client() as client:
        for _ in range(2):  # and the connection stays usable
            r = await client.request(method, server.url)
            assert (r.status_code, r.content) == (status, b"")
            async with client.stream(method, server.url) as streamed:
                assert [piece async for piece in streamed.aiter_bytes()] == []
    assert server.accepted == 1


def test_zstd_step_output_is_bounded_for_the_densest_blocks() -> None:
    # RLE blocks: 4 bytes on the wire, 128 KiB out each, the most a zstd block can expand.
    # Fed ZSTD_INPUT_STEP bytes at a time, one step yields at most ~1 MiB, whatever the chunk.
    header = struct.pack("<I", 0xFD2FB528) + bytes([0x00, 10 << 3])  # 1 MiB window

    def rle_block(last: int) -> bytes:
        return (last | 1 << 1 | (128 * 1024) << 3).to_bytes(3, "little") + b"\0"

    data = header + rle_block(0) * 399 + rle_block(1)
    decoder = make_decoder("zstd")
    assert decoder is not None
    total = 0
    tracemalloc.start()
    try:
        for piece in decoder.decode(data):
            assert len(piece) <= DECODE_PIECE
            total += len(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 400 * 128 * 1024  # 50 MiB from 1.6 KB
    assert peak < 4 * 1024 * 1024, peak


ZEROS = bytes(3 * 1024 * 1024 + 17)
COMPRESS = {
    "gzip": lambda data: gzip.compress(data, compresslevel=6),
    "deflate": zlib.compress,
    "raw-deflate": _raw_deflate,
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("codec", sorted(COMPRESS))
@pytest.mark.parametrize(("body", "sizes"), [(BIG, (7, 4096, 0)), (ZEROS, (1, 100, 0))])
def test_every_coding_decodes_exactly_under_any_split(
    codec: str, body: bytes, sizes: tuple[int, ...]
) -> None:
    # Dense output (zeros) makes decoders hold output back; every split must still add up.
    data = COMPRESS[codec](body)
    encoding = "deflate" if codec == "raw-deflate" else codec
    for size in sizes:
        assert _decode_in_pieces(encoding, data, size or len(data)) == body


@pytest.mark.parametrize("chunk_size", [7, 1000, DECODE_PIECE + 1, 10 * DECODE_PIECE])
async def test_aiter_bytes_chunk_size_holds_for_decoded_bodies(
    scripted: ServerFactory, chunk_size: int
) -> None:
    url = await _serve(scripted, gzip.compress(BIG), "gzip")
    async with hyperhttp.Client() as client, client.stream("GET", url) as r:
        chunks = [chunk async for chunk in r.aiter_bytes(chunk_size)]
    assert b"".join(chunks) == BIG
    assert all(len(chunk) == chunk_size for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= chunk_size
