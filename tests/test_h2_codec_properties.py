"""Property tests for the HTTP/2 client codec (checklist P-03, H2-13).

The codec is sans-I/O, so it is fed bytes directly: a valid server byte stream built with
the reference stack (hyperframe + hpack) must give the same events however it is split
into reads, and any mutation of it must give events or ``RemoteProtocolError``, never
another exception, and never stall a split-independent result.
"""

from __future__ import annotations

import random

import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperhttp import RemoteProtocolError
from hyperhttp._protocol import h2_client as h2p

from .byte_mutations import cuts_st, edits_st, how_st, mutate, split

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STREAMS = 3  # requests opened before the server's bytes are fed


def server_bytes(seed: int) -> bytes:
    """A plausible server side for STREAMS requests: preface, responses, extras."""
    rnd = random.Random(seed)
    encoder = hpack.Encoder()
    frames: list[Frame] = [SettingsFrame(0, settings={0x3: 100, 0x4: 65_535})]
    frames.append(SettingsFrame(0, flags=["ACK"]))
    for index in range(STREAMS):
        stream_id = 2 * index + 1
        body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 300)))
        fields = [(":status", "200"), ("content-length", str(len(body))), ("x-n", str(index))]
        block = encoder.encode(fields, huffman=rnd.random() < 0.5)
        if rnd.random() < 0.3 and len(block) > 2:
            frames.append(HeadersFrame(stream_id, data=block[:2]))
            frames.append(ContinuationFrame(stream_id, data=block[2:], flags=["END_HEADERS"]))
        else:
            frames.append(HeadersFrame(stream_id, data=block, flags=["END_HEADERS"]))
        if body:
            cut = rnd.randrange(len(body) + 1)
            frames.append(DataFrame(stream_id, data=body[:cut]))
            frames.append(DataFrame(stream_id, data=body[cut:], flags=["END_STREAM"]))
        else:
            frames.append(DataFrame(stream_id, data=b"", flags=["END_STREAM"]))
        if rnd.random() < 0.3:
            frames.append(PingFrame(0, opaque_data=b"12345678"))
        if rnd.random() < 0.3:
            frames.append(WindowUpdateFrame(0, window_increment=1000))
    if rnd.random() < 0.2:
        frames.append(GoAwayFrame(0, last_stream_id=2 * STREAMS - 1))
    return b"".join(frame.serialize() for frame in frames)


def new_protocol() -> h2p.H2ClientProtocol:
    proto = h2p.H2ClientProtocol()
    proto.initiate()
    for _index in range(STREAMS):
        proto.send_headers(
            [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")],
            True,
            b"GET",
        )
    return proto


def feed(pieces: list[bytes]) -> tuple[list[tuple[object, ...]], str | None]:
    """Feed the pieces; normalised events and the error, if any."""
    proto = new_protocol()
    events: list[tuple[object, ...]] = []
    data_by_stream: dict[int, bytes] = {}
    try:
        for piece in pieces:
            for event in proto.receive(piece):
                if isinstance(event, h2p.DataReceived):
                    # how DATA is cut into events may follow the reads; the bytes may not
                    data_by_stream[event.stream_id] = (
                        data_by_stream.get(event.stream_id, b"") + event.data
                    )
                    continue
                events.append((type(event).__name__, *_fields(event)))
    except RemoteProtocolError as exc:
        return [*events, ("data", sorted(data_by_stream.items()))], str(exc)
    return [*events, ("data", sorted(data_by_stream.items()))], None


def _fields(event: object) -> tuple[object, ...]:
    slots: tuple[str, ...] = getattr(type(event), "__slots__", ())
    return tuple(getattr(event, name) for name in slots)


@SETTINGS
@given(st.integers(0, 10_000), cuts_st)
def test_any_split_of_a_valid_stream_gives_the_same_events(seed: int, cuts: list[int]) -> None:
    data = server_bytes(seed)
    whole, error = feed([data])
    assert error is None
    assert [event[0] for event in whole].count("ResponseHeaders") == STREAMS
    assert feed(split(data, cuts)) == (whole, None)


@SETTINGS
@given(st.integers(0, 10_000), edits_st, cuts_st, how_st)
def test_mutated_streams_give_events_or_remote_protocol_error(
    seed: int, edits: list[tuple[int, int]], cuts: list[int], how: str
) -> None:
    data = mutate(server_bytes(seed), edits, how)
    # Only RemoteProtocolError may escape; feed() lets anything else fail the test.
    feed(split(data, cuts))
