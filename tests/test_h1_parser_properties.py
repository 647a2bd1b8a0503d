"""Property tests for the response parser (checklist P-03): whatever the bytes and however
they are split, the parser returns events or raises RemoteProtocolError, and a valid
response gives the same events for every chunking."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperhttp import RemoteProtocolError
from hyperhttp._protocol.h1_client import ResponseEnd, ResponseHead, ResponseParser

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for point in [*points, len(data)]:
        out.append(data[last:point])
        last = point
    return [piece for piece in out if piece] or [b""]


def run(data: bytes, cuts: list[int], method: bytes, eof: bool) -> list[tuple[object, ...]]:
    """Feed ``data`` in pieces; return a normalised event list (body bytes joined)."""
    parser = ResponseParser()
    parser.expect(method)
    events: list[ResponseHead | bytes | ResponseEnd] = []
    for piece in split(data, cuts):
        events += parser.feed(piece)
    if eof:
        events += parser.feed_eof()
    out: list[tuple[object, ...]] = []
    body = b""
    for event in events:
        if isinstance(event, bytes):
            body += event
            continue
        if isinstance(event, ResponseHead):
            out.append(("head", event.status_code, event.reason, event.http_version, event.headers))
        else:
            out.append(("body", body))
            out.append(("end", event.trailers))
    if body and not any(e[0] == "body" for e in out):
        out.append(("partial", body))
    out.append(("state", parser.complete, parser.reusable, parser.has_surplus))
    return out


def outcome(data: bytes, cuts: list[int], method: bytes, eof: bool) -> object:
    try:
        return run(data, cuts, method, eof)
    except RemoteProtocolError:
        return "error"


TOKENS = [
    b"HTTP/1.1 ",
    b"HTTP/1.0 ",
    b"200 OK",
    b"100 Continue",
    b"204",
    b"304",
    b"101",
    b"\r\n",
    b"\n",
    b"\r",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked",
    b"Connection: close",
    b"X: y",
    b": ",
    b"0",
    b"5",
    b"ff",
    b";a=b",
    b"hello",
    b"\x00",
    b" ",
]
http_ish = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=8)), max_size=30).map(
    b"".join
)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)
methods = st.sampled_from([b"GET", b"HEAD", b"POST"])


@SETTINGS
@given(
    data=st.one_of(st.binary(max_size=300), http_ish), cuts=cuts, method=methods, eof=st.booleans()
)
def test_arbitrary_bytes_give_events_or_remote_protocol_error(
    data: bytes, cuts: list[int], method: bytes, eof: bool
) -> None:
    start = time.perf_counter()
    outcome(data, cuts, method, eof)  # anything but RemoteProtocolError propagates
    assert time.perf_counter() - start < 1.0


@st.composite
def valid_responses(draw: st.DrawFn) -> tuple[bytes, bytes]:
    method = draw(st.sampled_from([b"GET", b"HEAD"]))
    interim = b"".join(
        draw(
            st.lists(
                st.sampled_from(
                    [
                        b"HTTP/1.1 100 Continue\r\n\r\n",
                        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
                    ]
                ),
                max_size=3,
            )
        )
    )
    status = draw(st.sampled_from([b"200 OK", b"404 Not Found", b"204 No Content", b"500"]))
    names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10)
    values = st.binary(max_size=20).map(lambda v: bytes(b for b in v if b >= 0x21 and b != 0x7F))
    fields = draw(st.lists(st.tuples(names, values), max_size=5))
    headers = b"".join(b"X-" + n.encode() + b": " + v + b"\r\n" for n, v in fields)
    body = draw(st.binary(max_size=200))
    framing = draw(st.sampled_from(["length", "chunked"]))
    if framing == "length":
        head = b"HTTP/1.1 %b\r\n%bContent-Length: %d\r\n\r\n" % (status, headers, len(body))
        payload = body
    else:
        sizes = draw(st.lists(st.integers(min_value=1, max_value=50), max_size=6))
        chunks, rest = [], body
        for size in sizes:
            if rest:
                chunks.append(rest[:size])
                rest = rest[size:]
        if rest:
            chunks.append(rest)
        payload = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in chunks)
        payload += b"0\r\n" + (b"X-Trailer: t\r\n" if draw(st.booleans()) else b"") + b"\r\n"
        head = b"HTTP/1.1 %b\r\n%bTransfer-Encoding: chunked\r\n\r\n" % (status, headers)
    bodyless = method == b"HEAD" or status.startswith(b"204")
    return method, interim + head + (b"" if bodyless else payload)


@SETTINGS
@given(response=valid_responses(), cuts=cuts)
def test_a_valid_response_parses_the_same_whatever_the_chunking(
    response: tuple[bytes, bytes], cuts: list[int]
) -> None:
    method, data = response
    whole = run(data, [], method, False)
    assert whole[-1] == ("state", True, True, False)
    assert run(data, cuts, method, False) == whole
    assert run(data, list(range(len(data))), method, False) == whole


@SETTINGS
@given(response=valid_responses(), cut=st.integers(min_value=0), cuts=cuts)
def test_a_valid_response_cut_short_is_never_reported_complete(
    response: tuple[bytes, bytes], cut: int, cuts: list[int]
) -> None:
    method, data = response
    truncated = data[: cut % len(data)]
    result = outcome(truncated, cuts, method, True)
    # Either an error, or the parser saw a complete response (a HEAD/204 head can be whole
    # before the end of the data); never a silently shortened body.
    if result != "error":
        assert isinstance(result, list)
        full = run(data, [], method, False)
        assert result[:-1] == full[:-1]
