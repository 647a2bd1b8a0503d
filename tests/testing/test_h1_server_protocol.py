"""The sans-I/O server side of HTTP/1.1: request parsing caps and the response serializer."""

from __future__ import annotations

import pytest

from hyperhttp._protocol.h1_server import (
    BodyChunk,
    RequestEnd,
    RequestHead,
    RequestParser,
    RequestRejected,
    ResponseHeaderError,
    body_allowed,
    chunk,
    last_chunk,
    serialize_response_head,
)


def feed_all(parser: RequestParser, data: bytes, step: int | None = None) -> list[object]:
    events: list[object] = []
    if step is None:
        return list(parser.feed(data))
    for i in range(0, len(data), step):
        events.extend(parser.feed(data[i : i + step]))
    return events


@pytest.mark.parametrize("step", [None, 1, 7])
def test_requests_split_anywhere(step: int | None) -> None:
    data = (
        b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n"
        b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    events = feed_all(RequestParser(), data, step)
    heads = [e for e in events if isinstance(e, RequestHead)]
    assert [(h.method, h.target) for h in heads] == [("GET", b"/a?b=1"), ("POST", b"/p")]
    assert heads[0].headers == [(b"Host", b"x"), (b"X-A", b"1")]
    assert b"".join(e.data for e in events if isinstance(e, BodyChunk)) == b"abc"
    assert sum(isinstance(e, RequestEnd) for e in events) == 2


def test_keep_alive_and_expect_flags() -> None:
    [head, _] = RequestParser().feed(b"GET / HTTP/1.0\r\n\r\n")
    assert isinstance(head, RequestHead) and not head.keep_alive
    events = RequestParser().feed(
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
    )
    assert isinstance(events[0], RequestHead) and events[0].expect_continue


def test_rejection_stops_parsing() -> None:
    parser = RequestParser()
    events = parser.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\nGET / HTTP/1.1\r\n")
    assert isinstance(events[-1], RequestRejected) and parser.dead
    assert parser.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == []


@pytest.mark.parametrize(
    ("kwargs", "data", "status"),
    [
        ({"max_request_line": 10}, b"GET /0123456789a HTTP/1.1\r\n", 414),
        ({"max_header_count": 2}, b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", 431),
        ({"max_header_block": 100}, b"GET / HTTP/1.1\r\nHost: x\r\nA: " + b"a" * 200, 431),
        ({"max_body_size": 3}, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n", 413),
        (
            {"max_body_size": 3},
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",
            413,
        ),
    ],
)
@pytest.mark.parametrize("step", [None, 1])
def test_caps(kwargs: dict[str, int], data: bytes, status: int, step: int | None) -> None:
    events = feed_all(RequestParser(**kwargs), data, step)
    assert isinstance(events[-1], RequestRejected)
    assert events[-1].status == status


def test_serialize_response_head() -> None:
    head = serialize_response_head(200, "OK", [("Content-Length", "2"), (b"X-B", b"b")])
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-B: b\r\n\r\n"


@pytest.mark.parametrize(
    ("status", "reason", "headers"),
    [
        (200, "OK\r\nX: y", []),
        (200, "OK", [("X-A", "a\r\nb")]),
        (200, "OK", [("X-A", "a\nb")]),
        (200, "OK", [("X-A", "a\x00b")]),
        (200, "OK", [("Bad Name", "v")]),
        (200, "OK", [("X:A", "v")]),
        (200, "OK", [("X-A", "\u2603")]),
        (99, "OK", []),
        (1000, "OK", []),
    ],
)
def test_serializer_refuses_injection(
    status: int, reason: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(ResponseHeaderError):
        serialize_response_head(status, reason, headers)  # type: ignore[arg-type]


def test_body_rules_and_chunks() -> None:
    assert not body_allowed("HEAD", 200)
    assert not body_allowed("GET", 204) and not body_allowed("GET", 304)
    assert not body_allowed("GET", 101)
    assert body_allowed("GET", 200)
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"") == b""
    assert last_chunk() == b"0\r\n\r\n"


def test_upgrade_requests_are_answered_as_http11_and_parsing_goes_on() -> None:
    parser = RequestParser()
    events = parser.feed(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert [e.target for e in events if isinstance(e, RequestHead)] == [b"/", b"/next"]
    assert sum(isinstance(e, RequestEnd) for e in events) == 2
    assert not parser.dead
    [rejected] = RequestParser().feed(
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
        b"Content-Length: 3\r\n\r\nabc"
    )
    assert isinstance(rejected, RequestRejected) and rejected.status == 400
