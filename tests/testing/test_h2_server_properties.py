"""Property tests for the test server's HTTP/2 protocol (checklist P-03, P-14, H2-13).

A valid client byte stream (built with hyperframe + hpack) gives the same requests however
it is split into reads; any mutation of it gives events (a request, a reset, or
``ConnectionEnded`` with an RFC error code), never an exception.
"""

from __future__ import annotations

import random

import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PingFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperhttp._protocol import h2_server as hs

from ..byte_mutations import cuts_st, edits_st, how_st, mutate, split

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
REQUESTS = 3


def client_bytes(seed: int) -> bytes:
    """A plausible client: preface, SETTINGS, three POSTs with bodies, some extras."""
    rnd = random.Random(seed)
    encoder = hpack.Encoder()
    frames: list[Frame] = [SettingsFrame(0, settings={0x4: 65_535})]
    for index in range(REQUESTS):
        stream_id = 2 * index + 1
        body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200)))
        fields = [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "localhost"),
            (":path", f"/item/{index}"),
            ("content-length", str(len(body))),
        ]
        block = encoder.encode(fields, huffman=rnd.random() < 0.5)
        if rnd.random() < 0.3 and len(block) > 2:
            frames.append(HeadersFrame(stream_id, data=block[:2]))
            frames.append(ContinuationFrame(stream_id, data=block[2:], flags=["END_HEADERS"]))
        else:
            frames.append(HeadersFrame(stream_id, data=block, flags=["END_HEADERS"]))
        frames.append(DataFrame(stream_id, data=body, flags=["END_STREAM"]))
        if rnd.random() < 0.3:
            frames.append(PingFrame(0, opaque_data=b"87654321"))
        if rnd.random() < 0.3:
            frames.append(WindowUpdateFrame(0, window_increment=1000))
    return PREFACE + b"".join(frame.serialize() for frame in frames)


def feed(pieces: list[bytes]) -> list[tuple[object, ...]]:
    """Feed the pieces; normalised events (request bodies joined per stream)."""
    proto = hs.H2ServerProtocol()
    proto.initiate()
    events: list[tuple[object, ...]] = []
    bodies: dict[int, bytes] = {}
    for piece in pieces:
        for event in proto.receive(piece):
            if isinstance(event, hs.BodyReceived):
                bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                continue
            if isinstance(event, hs.ConnectionEnded):
                assert 0 <= event.error_code <= 0xD, event.error_code
            slots: tuple[str, ...] = getattr(type(event), "__slots__", ())
            events.append((type(event).__name__, *(getattr(event, name) for name in slots)))
    return [*events, ("bodies", sorted(bodies.items()))]


@SETTINGS
@given(st.integers(0, 10_000), cuts_st)
def test_any_split_of_a_valid_client_gives_the_same_requests(seed: int, cuts: list[int]) -> None:
    data = client_bytes(seed)
    whole = feed([data])
    assert [event[0] for event in whole].count("RequestReceived") == REQUESTS
    assert "ConnectionEnded" not in [event[0] for event in whole]
    assert feed(split(data, cuts)) == whole


@SETTINGS
@given(st.integers(0, 10_000), edits_st, cuts_st, how_st)
def test_mutated_clients_give_events_never_exceptions(
    seed: int, edits: list[tuple[int, int]], cuts: list[int], how: str
) -> None:
    data = mutate(client_bytes(seed), edits, how)
    feed(split(data, cuts))  # any exception fails the test
