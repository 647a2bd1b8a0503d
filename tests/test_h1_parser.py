"""The sans-I/O HTTP/1.1 response parser, fed whole and one byte at a time.

Each test is one row (or one input of a row) of the reliability checklist's response-framing
section (F-xx). Inputs are fed in one piece and byte by byte: a defence that only works when
the bytes arrive together is no defence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from hyperhttp import RemoteProtocolError
from hyperhttp._protocol.h1_client import (
    MAX_HEADER_BYTES,
    MAX_HEADER_COUNT,
    MAX_INTERIM_RESPONSES,
    ResponseEnd,
    ResponseHead,
    ResponseParser,
)

MODES = ["whole", "bytewise"]


def pieces(data: bytes, mode: str) -> Iterator[bytes]:
    if mode == "whole":
        yield data
    else:
        for i in range(len(data)):
            yield data[i : i + 1]


@dataclass
class Parsed:
    """What a parser made of some bytes: the final head, the body, the end."""

    parser: ResponseParser
    heads: list[ResponseHead] = field(default_factory=list)
    body: bytes = b""
    ends: list[ResponseEnd] = field(default_factory=list)

    @property
    def head(self) -> ResponseHead:
        assert len(self.heads) == 1
        return self.heads[0]

    @property
    def trailers(self) -> list[tuple[bytes, bytes]]:
        assert len(self.ends) == 1
        return self.ends[0].trailers


def collect(parsed: Parsed, events: list[ResponseHead | bytes | ResponseEnd]) -> None:
    for event in events:
        if isinstance(event, ResponseHead):
            assert not parsed.heads, "two heads for one response"
            parsed.heads.append(event)
        elif isinstance(event, bytes):
            assert parsed.heads and not parsed.ends, "body bytes outside the body"
            parsed.body += event
        else:
            assert parsed.heads and not parsed.ends, "end before head, or twice"
            parsed.ends.append(event)


def parse(data: bytes, mode: str = "whole", *, method: bytes = b"GET", eof: bool = False) -> Parsed:
    parser = ResponseParser()
    parser.expect(method)
    parsed = Parsed(parser)
    for piece in pieces(data, mode):
        collect(parsed, parser.feed(piece))
    if eof:
        collect(parsed, parser.feed_eof())
    return parsed


def rejects(data: bytes, mode: str, *, method: bytes = b"GET", eof: bool = False) -> str:
    """Assert the parser raises RemoteProtocolError for ``data``; return the message."""
    with pytest.raises(RemoteProtocolError) as info:
        parse(data, mode, method=method, eof=eof)
    return str(info.value)


def ok(body: bytes = b"", headers: bytes = b"", status: bytes = b"200 OK") -> bytes:
    return b"HTTP/1.1 %b\r\n%bContent-Length: %d\r\n\r\n%b" % (status, headers, len(body), body)


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- F-13 / F-11: status line ---------------------------------------------------------------


def test_reason_phrase_is_whole_whatever_the_chunking(mode: str) -> None:
    parsed = parse(ok(status=b"404 Not Found Here"), mode)
    assert parsed.head.status_code == 404
    assert parsed.head.reason == b"Not Found Here"


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/1.0 200 OK\x00xxxx",
        b"HTTP/1.1 200 O\x01K",
        b"HTTP/1.1 200 O\x1fK",
        b"HTTP/1.1 200 O\x7fK",
    ],
)
def test_control_characters_in_the_reason_phrase_are_rejected(
    status_line: bytes, mode: str
) -> None:
    rejects(status_line + b"\r\nContent-Length: 0\r\n\r\n", mode)


def test_tab_and_obs_text_in_the_reason_phrase_are_accepted(mode: str) -> None:
    parsed = parse(ok(status=b"200 O\tK \xe9"), mode)
    assert parsed.head.reason == b"O\tK \xe9"


@pytest.mark.parametrize(
    "status_line",
    [
        b"RTSP/1.0 200 OK",
        b"ICE/1.0 200 OK",
        b"ICY 200 OK",
        b"HTTP/2.0 200 OK",
        b"HTTP/0.9 200 OK",
        b"HTTP/1.10 200 OK",
        b"http/1.1 200 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 " + b"2" * 100 + b" OK",
        b"HTTP/1.1 099 OK",
        b"HTTP/1.1 600 OK",
        b"HTTP/1.1 20 OK",
        b" HTTP/1.1 200 OK",
        b"\r\nHTTP/1.1 200 OK",
    ],
)
def test_bad_status_lines_are_rejected(status_line: bytes, mode: str) -> None:
    rejects(status_line + b"\r\nContent-Length: 0\r\n\r\n", mode)


@pytest.mark.parametrize(
    "start",
    [
        b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03",  # TLS ServerHello
        b"\x16",
        b"\x00",
        b" ",
        b"H\x00",
        b"HTTP:",
        b"RTSP",
    ],
)
def test_a_non_http_reply_fails_on_its_first_bytes(start: bytes, mode: str) -> None:
    # No CRLF has arrived: the error must not wait for one (or for a timeout).
    message = rejects(start, mode)
    if start.startswith(b"\x16"):
        assert "TLS" in message


def test_status_line_without_reason_is_accepted(mode: str) -> None:
    for line in (b"HTTP/1.1 200", b"HTTP/1.1 200 "):
        parsed = parse(line + b"\r\nContent-Length: 2\r\n\r\nhi", mode)
        assert parsed.head.status_code == 200
        assert parsed.head.reason == b""
        assert parsed.body == b"hi"
        assert parsed.parser.reusable


def test_http_1_0_response_is_reported_as_such(mode: str) -> None:
    parsed = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", mode)
    assert parsed.head.http_version == "HTTP/1.0"
    assert not parsed.parser.reusable  # 1.0 without keep-alive closes
    parsed = parse(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi", mode
    )
    assert parsed.parser.reusable


# -- F-14 / F-15: caps on the head ----------------------------------------------------------


def head_of_size(total: int, *, lines: int = 1) -> bytes:
    """A complete 200 head of exactly ``total`` bytes, padded in ``lines`` header lines."""
    start = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
    fixed = len(start) + 2 + lines * len(b"X: \r\n")
    pad = total - fixed
    sizes = [pad // lines + (1 if i < pad % lines else 0) for i in range(lines)]
    head = start + b"".join(b"X: " + b"v" * size + b"\r\n" for size in sizes) + b"\r\n"
    assert len(head) == total
    return head


@pytest.mark.parametrize("lines", [1, 50])
def test_a_head_of_exactly_the_cap_is_accepted(lines: int, mode: str) -> None:
    parsed = parse(head_of_size(MAX_HEADER_BYTES, lines=lines), mode)
    assert parsed.head.status_code == 200
    assert parsed.parser.complete


@pytest.mark.parametrize("lines", [1, 50])
def test_a_head_one_byte_over_the_cap_is_rejected(lines: int, mode: str) -> None:
    message = rejects(head_of_size(MAX_HEADER_BYTES + 1, lines=lines), mode)
    assert str(MAX_HEADER_BYTES) in message


def test_the_status_line_counts_against_the_head_cap(mode: str) -> None:
    start = b"HTTP/1.1 200 "
    rest = b"\r\nContent-Length: 0\r\n\r\n"
    at_cap = start + b"r" * (MAX_HEADER_BYTES - len(start) - len(rest)) + rest
    assert parse(at_cap, mode).head.status_code == 200
    over = start + b"r" * (MAX_HEADER_BYTES + 1 - len(start) - len(rest)) + rest
    rejects(over, mode)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 " + b"r" * (100 * 1024),  # 100 KiB status line, never ends
        b"HTTP/1.1 200 OK\r\nX: " + b"v" * (100 * 1024),  # one 100 KiB header line
        b"HTTP/1.1 200 OK\r\n" + b"X-Header: value\r\n" * 70_000,  # 1 MiB head
        b"HTTP/1.1 200 OK\r\n" + b"X" * (100 * 1024),  # a field name that never ends
    ],
    ids=["status-line", "header-line", "header-block", "field-name"],
)
def test_an_endless_head_is_cut_at_the_cap(data: bytes, mode: str) -> None:
    # Fed byte by byte, the error must come at the cap, not when the flood ends.
    parser = ResponseParser()
    parser.expect(b"GET")
    fed = 0
    with pytest.raises(RemoteProtocolError):
        for piece in pieces(data, mode):
            parser.feed(piece)
            fed += len(piece)
    if mode == "bytewise":
        assert fed <= MAX_HEADER_BYTES + 1
    assert not parser.reusable


def test_header_count_at_the_cap_is_accepted(mode: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + b"X: y\r\n" * (MAX_HEADER_COUNT - 1)
    parsed = parse(head + b"\r\n", mode)
    assert len(parsed.head.headers) == MAX_HEADER_COUNT


@pytest.mark.parametrize("name", [b"X", b"Set-Cookie"])
def test_header_count_over_the_cap_is_rejected(name: bytes, mode: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + (name + b": y\r\n") * MAX_HEADER_COUNT
    assert str(MAX_HEADER_COUNT) in rejects(head + b"\r\n", mode)
    rejects(b"HTTP/1.1 200 OK\r\n" + (name + b": y\r\n") * 10_000 + b"\r\n", "whole")


# -- F-18 / F-19: interim responses ---------------------------------------------------------

FINAL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


def test_interim_responses_are_skipped(mode: str) -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </b.css>\r\n\r\n" + FINAL
    )
    parsed = parse(data, mode)
    assert parsed.head.status_code == 200
    assert parsed.head.headers == [(b"Content-Length", b"2")]  # no Link from the 103s
    assert parsed.body == b"hi"
    assert parsed.parser.reusable


def test_interim_responses_up_to_the_cap_are_skipped(mode: str) -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\n" * MAX_INTERIM_RESPONSES + FINAL
    assert parse(data, mode).body == b"hi"


def test_one_interim_response_over_the_cap_is_rejected(mode: str) -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM_RESPONSES + 1) + FINAL
    assert "interim" in rejects(data, mode)
    rejects(b"HTTP/1.1 100 Continue\r\n\r\n" * 10_000 + FINAL, "whole")


def test_interim_heads_count_against_the_head_cap(mode: str) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n" + b"X: " + b"v" * 30_000 + b"\r\n\r\n"
    rejects(interim * 3 + FINAL, mode)


def test_an_interim_response_with_endless_headers_is_cut(mode: str) -> None:
    data = b"HTTP/1.1 100 Continue\r\n" + b"X: y\r\n" * 20_000
    parser = ResponseParser()
    parser.expect(b"GET")
    with pytest.raises(RemoteProtocolError):
        for piece in pieces(data, mode):
            parser.feed(piece)


def test_an_unrequested_101_is_an_error(mode: str) -> None:
    data = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
        b"\r\n\x81\x05hello"
    )
    assert "101" in rejects(data, mode)
    rejects(b"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 3\r\n\r\nabc", mode)
    rejects(
        b"HTTP/1.1 101 Switching Protocols\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", mode
    )


def test_an_upgrade_header_on_a_200_is_just_a_header(mode: str) -> None:
    data = b"HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\nhi"
    parsed = parse(data, mode)
    assert parsed.body == b"hi"
    assert parsed.ends


# -- F-20: responses without a body whatever their headers say ------------------------------

NO_BODY_CASES = [
    (b"HEAD", b"200 OK"),
    (b"GET", b"204 No Content"),
    (b"GET", b"304 Not Modified"),
    (b"HEAD", b"304 Not Modified"),
]
FRAMING = [b"Content-Length: 10\r\n", b"Transfer-Encoding: chunked\r\n"]


@pytest.mark.parametrize(("method", "status"), NO_BODY_CASES)
@pytest.mark.parametrize("framing", FRAMING)
def test_bodyless_response_ends_with_its_head(
    method: bytes, status: bytes, framing: bytes, mode: str
) -> None:
    parsed = parse(b"HTTP/1.1 %b\r\n%b\r\n" % (status, framing), mode, method=method)
    assert parsed.body == b""
    assert parsed.ends and parsed.parser.complete
    assert parsed.parser.reusable


@pytest.mark.parametrize(("method", "status"), NO_BODY_CASES)
@pytest.mark.parametrize("framing", FRAMING)
@pytest.mark.parametrize(
    "extra",
    [b"0123456789", b"0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"],
)
def test_bytes_after_a_bodyless_response_make_the_connection_unusable(
    method: bytes, status: bytes, framing: bytes, extra: bytes, mode: str
) -> None:
    data = b"HTTP/1.1 %b\r\n%b\r\n%b" % (status, framing, extra)
    parsed = parse(data, mode, method=method)
    assert parsed.body == b""
    assert len(parsed.ends) == 1
    assert parsed.parser.has_surplus
    assert not parsed.parser.reusable


def test_head_after_interim_responses(mode: str) -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    parsed = parse(data, mode, method=b"HEAD")
    assert parsed.head.status_code == 200
    assert parsed.parser.reusable
    parsed = parse(data + b"0123456789", mode, method=b"HEAD")
    assert not parsed.parser.reusable


# -- F-16 / F-17: truncation and EOF at every stage -----------------------------------------


def test_truncated_content_length_body_says_received_and_expected(mode: str) -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, wor"
    message = rejects(data, mode, eof=True)
    assert "10" in message and "13" in message


def test_truncated_body_with_a_zero_padded_length_is_still_a_typed_error(mode: str) -> None:
    # llhttp accepts any number of leading zeros; Python's int() refuses > 4300 digits.
    length = b"0" * 4999 + b"5"
    data = b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\nhe"
    assert "2 of 5" in rejects(data, "whole", eof=True)
    parsed = parse(data + b"llo", mode)
    assert parsed.body == b"hello"


@pytest.mark.parametrize(
    "data",
    [
        CHUNKED_HEAD,
        CHUNKED_HEAD + b"5\r\nhello\r\n",  # no last chunk
        CHUNKED_HEAD + b"5\r\nhel",  # inside chunk data
        CHUNKED_HEAD + b"5\r\nhello\r\n1",  # inside a chunk-size line
        CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n",  # before the final CRLF
        CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nX: 1\r\n",  # inside trailers
    ],
)
def test_truncated_chunked_body_is_an_error(data: bytes, mode: str) -> None:
    message = rejects(data, mode, eof=True)
    assert "before the body was complete" in message


def test_eof_before_any_byte_is_distinguished_from_a_partial_response() -> None:
    none = rejects(b"", "whole", eof=True)
    assert "without sending a response" in none
    for partial in (b"H", b"HTTP/1.1 20", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nX: y"):
        message = rejects(partial, "whole", eof=True)
        assert "without sending a response" not in message
        assert "headers" in message
    after_interim = rejects(b"HTTP/1.1 100 Continue\r\n\r\n", "whole", eof=True)
    assert "without sending a response" not in after_interim


def test_read_until_close_body_ends_at_eof(mode: str) -> None:
    parsed = parse(b"HTTP/1.1 200 OK\r\n\r\nbody\r\n...", mode, eof=True)
    assert parsed.body == b"body\r\n..."
    assert parsed.ends
    assert not parsed.parser.reusable


def test_read_until_close_body_is_incomplete_without_eof(mode: str) -> None:
    parsed = parse(b"HTTP/1.1 200 OK\r\n\r\nbody", mode)
    assert parsed.body == b"body"
    assert not parsed.ends
    assert not parsed.parser.complete


# -- F-01..F-08: body framing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
    ],
)
def test_content_length_with_transfer_encoding_is_rejected(headers: bytes, mode: str) -> None:
    data = b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n5\r\nhello\r\n0\r\n\r\n"
    rejects(data, mode)


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: 5, 6\r\n",
        b"Content-Length: 1 , 1,2\r\n",
        # Identical duplicates may be merged (RFC 9112 6.3); we stay strict.
        b"Content-Length: 5, 5\r\n",
        b"Content-Length: 5\r\nContent-Length: 5\r\n",
    ],
)
def test_duplicate_content_lengths_are_rejected(headers: bytes, mode: str) -> None:
    rejects(b"HTTP/1.1 200 OK\r\n" + headers + b"\r\nhello!", mode)


@pytest.mark.parametrize(
    "value",
    [
        b"-1",
        b"+5",
        b"0x20",
        b" 5 5",
        b"",
        b"1_000",
        "\u0663".encode(),  # ARABIC-INDIC DIGIT THREE
        "\u00b2".encode("latin-1"),  # SUPERSCRIPT TWO
        "\u00b2".encode(),
        b"9" * 21,
        b"1" * 5000,
        b"42s",
        b"5\x00",
    ],
)
def test_invalid_content_length_values_are_rejected(value: bytes, mode: str) -> None:
    rejects(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\nhello", mode)


def test_content_length_digit_cap(mode: str) -> None:
    # 2**64 - 1 has 20 digits; llhttp rejects any value above it (no int() involved).
    parsed = parse(b"HTTP/1.1 200 OK\r\nContent-Length: " + b"0" * 19 + b"5\r\n\r\nhello", mode)
    assert parsed.body == b"hello"
    rejects(b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 20 + b"\r\n\r\n", mode)


def test_chunked_body_is_decoded(mode: str) -> None:
    data = CHUNKED_HEAD + b"5\r\nhello\r\nA\r\n, world!!!\r\n0\r\n\r\n"
    parsed = parse(data, mode)
    assert parsed.body == b"hello, world!!!"
    assert parsed.trailers == []
    assert parsed.parser.reusable


def test_transfer_encoding_is_case_insensitive(mode: str) -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    assert parse(data, mode).body == b"hi"


@pytest.mark.parametrize(
    "size_line",
    [
        b"0x10",
        b"+a",
        b"-1",
        b" a",
        b"a_b",
        b"",
        b"9" * 17,
        b"9" * 100,
        b"10\x00",
        b"5   \t",  # trailing whitespace: llhttp's strict default
        b"5 ;",
        b"5;",
        b"5;a=b\nc",  # bare LF in an extension
        b"5;a=b\rc",  # bare CR in an extension
        b'5;a="x',  # unbalanced quote
        b'5;a="x\x00"',
    ],
)
def test_bad_chunk_size_lines_are_rejected(size_line: bytes, mode: str) -> None:
    rejects(CHUNKED_HEAD + size_line + b"\r\nhello\r\n0\r\n\r\n", mode)


def test_sixteen_hex_digits_are_accepted(mode: str) -> None:
    parsed = parse(CHUNKED_HEAD + b"0" * 15 + b"5\r\nhello\r\n0\r\n\r\n", mode)
    assert parsed.body == b"hello"


@pytest.mark.parametrize(
    "data",
    [
        b"3\r\nxxx__1a\r\n",
        b"3\r\nxxx\r_1a\r\n",
        b"3\r\nxxx_\n1a\r\n",
        b"3\r\nxxx3\r\nyyy\r\n0\r\n\r\n",  # no CRLF between chunks
        b"3\r\nxxx\n0\r\n\r\n",  # bare LF after chunk data
    ],
)
def test_chunk_data_must_end_with_crlf(data: bytes, mode: str) -> None:
    rejects(CHUNKED_HEAD + data, mode)


@pytest.mark.parametrize(
    "extension", [b";a=b", b';a="x;y"', b";a", b";a=b;c=d", b";a=" + b"b" * 4096]
)
def test_well_formed_chunk_extensions_are_ignored(extension: bytes, mode: str) -> None:
    parsed = parse(CHUNKED_HEAD + b"5" + extension + b"\r\nhello\r\n0\r\n\r\n", mode)
    assert parsed.body == b"hello"
    assert parsed.parser.reusable


def test_an_endless_chunk_extension_is_cut(mode: str) -> None:
    data = CHUNKED_HEAD + b"5;a=" + b"b" * (1024 * 1024) + b"\r\nhello\r\n0\r\n\r\n"
    rejects(data, mode)


def test_many_small_chunks_are_not_mistaken_for_endless_framing() -> None:
    data = CHUNKED_HEAD + b"1;e=v\r\nx\r\n" * 100_000 + b"0\r\n\r\n"
    assert parse(data, "whole").body == b"x" * 100_000


@pytest.mark.parametrize(
    "value",
    [
        b"gzip",
        b"chunked, gzip",
        b"gzip, chunked",
        b"chunked, chunked",
        b"xchunked",
        b",chunked",
        b"chunked, identity",
        b"identity",
        b"",
    ],
)
def test_transfer_encodings_other_than_chunked_are_rejected(value: bytes, mode: str) -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + value + b"\r\n\r\n0\r\n\r\n"
    rejects(data, mode)


def test_two_transfer_encoding_lines_are_rejected(mode: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
    rejects(head + b"\r\n0\r\n\r\n", mode)


def test_transfer_encoding_in_http_1_0_is_rejected(mode: str) -> None:
    rejects(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", mode)


# -- F-07: trailers -------------------------------------------------------------------------


def test_trailers_are_kept_apart_from_headers(mode: str) -> None:
    data = CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nHost: evil\r\n\r\n"
    parsed = parse(data, mode)
    assert parsed.head.headers == [(b"Transfer-Encoding", b"chunked")]
    assert parsed.trailers == [(b"X-Checksum", b"abc"), (b"Host", b"evil")]
    assert parsed.body == b"hello"
    assert parsed.parser.reusable


@pytest.mark.parametrize(
    "trailer",
    [
        b"X: a\x00b\r\n",
        b"X: a\rb\r\n",
        b"X\x01: a\r\n",
        b"Content-Length: 5\r\n",  # llhttp applies its CL+TE rule to trailers too
    ],
)
def test_bad_trailers_are_rejected(trailer: bytes, mode: str) -> None:
    rejects(CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n", mode)


def test_trailers_without_crs_are_rejected(mode: str) -> None:
    rejects(CHUNKED_HEAD + b"5\r\nhello\r\n0\nX: 1\n\n", mode)


def test_a_1_mib_trailer_is_rejected(mode: str) -> None:
    data = CHUNKED_HEAD + b"0\r\nX: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    rejects(data, mode)


def test_an_endless_drip_fed_trailer_line_is_cut_early() -> None:
    # httptools grows a field value until its line ends: the cap must not wait for that.
    parser = ResponseParser()
    parser.expect(b"GET")
    parser.feed(CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nX: ")
    fed = 0
    with pytest.raises(RemoteProtocolError):
        while fed < 1024 * 1024:
            parser.feed(b"a" * 1024)
            fed += 1024
    assert fed <= MAX_HEADER_BYTES + 1024


def test_trailer_count_cap(mode: str) -> None:
    at_cap = b"T: 1\r\n" * MAX_HEADER_COUNT
    parsed = parse(CHUNKED_HEAD + b"0\r\n" + at_cap + b"\r\n", mode)
    assert len(parsed.trailers) == MAX_HEADER_COUNT
    rejects(CHUNKED_HEAD + b"0\r\n" + at_cap + b"T: 1\r\n\r\n", mode)


# -- F-09..F-12: field syntax ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",  # obs-fold
        b"HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n  x: y\r\nContent-Length: 0\r\n\r\n",  # fold on the first line
        b"HTTP/1.1 200 OK\r\n x: y\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_obs_fold_is_rejected(data: bytes, mode: str) -> None:
    rejects(data, mode)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\nA: b\nContent-Length: 0\n\n",  # bare LF (we stay strict)
        b"HTTP/1.1 200 OK\r\nA: b\nContent-Length: 0\r\n\r\n",  # mixed
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
        b"HTTP/1.1 200\rOK\r\nContent-Length: 0\r\n\r\n",  # bare CR
        b"HTTP/1.1 200 OK\r\nA: b\rC: d\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\r\n",
    ],
)
def test_bare_lf_and_bare_cr_are_rejected(data: bytes, mode: str) -> None:
    rejects(data, mode)


@pytest.mark.parametrize(
    "field",
    [
        b"X: a\x00b",
        b"X: a\x01b",
        b"X: a\x7fb",
        b"X: a\x1bb",
        b"X\x01: a",
        b"X\xff: a",
        b"X\x00: a",
        b"Foo : bar",  # space before colon
        b"Foo\t: bar",
        b": bar",  # empty name
        b"Foo",  # no colon
        b"Foo bar: x",  # space in name
        b'Foo"bar: x',
        b"F(o): x",
    ],
)
def test_bad_field_lines_are_rejected(field: bytes, mode: str) -> None:
    rejects(b"HTTP/1.1 200 OK\r\n" + field + b"\r\nContent-Length: 0\r\n\r\n", mode)


def test_field_values_keep_tabs_and_obs_text(mode: str) -> None:
    parsed = parse(ok(headers=b"X: a\tb \xe9\xff\r\n"), mode)
    assert (b"X", b"a\tb \xe9\xff") in parsed.head.headers


# -- F-22: surplus bytes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",  # a second, unrequested response
        b"garbage",
        # Not b"\r\n": llhttp skips empty lines between messages when they arrive in the
        # same read as the response (they are consumed, so nothing is left to desync on).
        b"\x00",
    ],
)
def test_bytes_after_a_complete_response_make_the_connection_unusable(
    extra: bytes, mode: str
) -> None:
    parsed = parse(ok(b"hi") + extra, mode)
    assert parsed.body == b"hi"
    assert len(parsed.heads) == 1 and len(parsed.ends) == 1
    assert parsed.parser.complete
    assert parsed.parser.has_surplus
    assert not parsed.parser.reusable


def test_bytes_after_a_connection_close_response_are_not_a_second_response(mode: str) -> None:
    parsed = parse(ok(b"hi", headers=b"Connection: close\r\n") + ok(b"evil"), mode)
    assert parsed.body == b"hi"
    assert len(parsed.heads) == 1
    assert not parsed.parser.reusable


def test_bytes_with_no_request_outstanding_are_surplus() -> None:
    parser = ResponseParser()
    assert parser.feed(ok(b"hi")) == []
    assert parser.has_surplus


def test_the_parser_carries_a_second_response_after_a_clean_first(mode: str) -> None:
    parser = ResponseParser()
    for body in (b"one", b"second"):
        parser.expect(b"GET")
        parsed = Parsed(parser)
        for piece in pieces(ok(body), mode):
            collect(parsed, parser.feed(piece))
        assert parsed.body == body
        assert parser.reusable


def test_after_an_error_the_parser_refuses_more_work() -> None:
    parser = ResponseParser()
    parser.expect(b"GET")
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\nX\x00: y\r\n\r\n")
    assert not parser.reusable
    with pytest.raises(RemoteProtocolError):
        parser.expect(b"GET")
