"""Properties of the sans-I/O server protocol: any bytes, any split; responses round-trip."""

from __future__ import annotations

import httptools
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp._protocol.h1_server import (
    BodyChunk,
    RequestEnd,
    RequestHead,
    RequestParser,
    RequestRejected,
    ResponseHeaderError,
    chunk,
    last_chunk,
    serialize_response_head,
)

VALID = (
    b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
)


def parse(data: bytes, cuts: list[int]) -> list[object]:
    parser = RequestParser(max_header_block=512, max_body_size=1024)
    events: list[object] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        events.extend(parser.feed(data[start:cut]))
        start = cut
    return events


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(VALID)), max_size=12))
def test_valid_stream_parses_identically_however_it_is_split(cuts: list[int]) -> None:
    events = parse(VALID, cuts)
    heads = [(e.method, e.target) for e in events if isinstance(e, RequestHead)]
    assert heads == [("GET", b"/a?b=1"), ("POST", b"/p"), ("PUT", b"/c")]
    assert b"".join(e.data for e in events if isinstance(e, BodyChunk)) == b"abchi"
    assert sum(isinstance(e, RequestEnd) for e in events) == 3
    assert not any(isinstance(e, RequestRejected) for e in events)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.lists(st.integers(min_value=0, max_value=2048), max_size=8))
def test_arbitrary_bytes_give_events_or_one_final_rejection(data: bytes, cuts: list[int]) -> None:
    events = parse(data, [c for c in cuts if c <= len(data)])
    rejections = [i for i, e in enumerate(events) if isinstance(e, RequestRejected)]
    assert rejections in ([], [len(events) - 1])  # nothing is reported after a rejection
    for event in events:
        if isinstance(event, RequestRejected):
            assert 400 <= event.status < 500


header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=20
)
token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-ABCXYZ0123456789", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=200, max_value=599).filter(lambda s: s not in (204, 304)),
    header_text,
    st.lists(st.tuples(token, header_text.map(str.strip)), max_size=6),
    st.lists(st.binary(min_size=1, max_size=30), max_size=4),
)
def test_serialized_responses_round_trip_through_llhttp(
    status: int, reason: str, headers: list[tuple[str, str]], pieces: list[bytes]
) -> None:
    framing = ("content-length", "transfer-encoding")
    headers = [(n, v) for n, v in headers if n.lower() not in framing]
    wire_headers: list[tuple[str | bytes, str | bytes]] = [
        *headers,
        ("Transfer-Encoding", "chunked"),
    ]
    try:
        head = serialize_response_head(status, reason, wire_headers)
    except ResponseHeaderError:
        assert any(ch in reason for ch in "\r\n\x00")
        return
    wire = head + b"".join(chunk(p) for p in pieces) + last_chunk()

    class Collector:
        def __init__(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []
            self.body = b""
            self.done = False

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name, value))

        def on_body(self, body: bytes) -> None:
            self.body += body

        def on_message_complete(self) -> None:
            self.done = True

    collector = Collector()
    parser = httptools.HttpResponseParser(collector)
    parser.feed_data(wire)
    assert collector.done
    assert parser.get_status_code() == status
    assert collector.body == b"".join(pieces)
    assert [(n.decode(), v.decode()) for n, v in collector.headers] == [
        (n, v) for n, v in wire_headers
    ]
