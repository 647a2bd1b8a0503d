"""The Response API over real loopback sockets: bodies, text, JSON, streaming, status."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import hyperhttp
from hyperhttp import HTTPStatusError

from .conftest import ServerFactory
from .scripted import ServerConn, response


def replying(
    *parts: bytes, gate: asyncio.Event | None = None
) -> Callable[[ServerConn], Awaitable[None]]:
    """A script that reads one request and sends ``parts`` in separate writes.

    With ``gate``, the parts after the first wait until the test sets it (so the client has
    certainly received the first part on its own); the gate is cleared after each part.
    """

    async def script(conn: ServerConn) -> None:
        await conn.read_request()
        for index, part in enumerate(parts):
            if index and gate is not None:
                await gate.wait()
                gate.clear()
            await conn.send(part)
        await conn.read_request()  # hold the connection open until the client is done

    return script


async def get(server_url: str, **kwargs: Any) -> hyperhttp.Response:
    async with hyperhttp.Client() as client:
        return await client.get(server_url + "/", **kwargs)


# -- content, text, json ----------------------------------------------------------------------


async def test_content_text_and_json(scripted: ServerFactory) -> None:
    body = json.dumps({"name": "Zoë", "n": 1}).encode()
    server = await scripted(
        replying(response(body, headers=[("Content-Type", "application/json")]))
    )
    r = await get(server.url)
    assert r.content == body
    assert r.text == body.decode()
    assert r.json() == {"name": "Zoë", "n": 1}
    assert await r.aread() == body  # already read: the cached bytes


async def test_text_uses_the_declared_charset(scripted: ServerFactory) -> None:
    body = "café crème".encode("latin-1")
    server = await scripted(
        replying(response(body, headers=[("Content-Type", "text/plain; charset=ISO-8859-1")]))
    )
    r = await get(server.url)
    assert r.encoding == "iso8859-1"
    assert r.text == "café crème"


async def test_encoding_falls_back_to_utf_8(scripted: ServerFactory) -> None:
    body = "naïve ☃".encode()
    for content_type in ("text/plain", "text/plain; charset=no-such-codec", None):
        headers = [("Content-Type", content_type)] if content_type else []
        server = await scripted(replying(response(body, headers=headers)))
        r = await get(server.url)
        assert r.encoding == "utf-8"
        assert r.text == "naïve ☃"


async def test_encoding_can_be_overridden_before_text(scripted: ServerFactory) -> None:
    server = await scripted(replying(response("é".encode("cp1252"))))
    r = await get(server.url)
    r.encoding = "cp1252"
    assert r.text == "é"


async def test_json_honours_a_utf_16_charset_and_a_bom(scripted: ServerFactory) -> None:
    data = {"k": "välue ☃"}
    declared = json.dumps(data).encode("utf-16-le")
    server = await scripted(
        replying(
            response(declared, headers=[("Content-Type", "application/json; charset=utf-16le")])
        )
    )
    assert (await get(server.url)).json() == data
    with_bom = json.dumps(data).encode("utf-16")  # BOM + native order, no charset
    server = await scripted(
        replying(response(with_bom, headers=[("Content-Type", "application/json")]))
    )
    assert (await get(server.url)).json() == data


# -- streaming --------------------------------------------------------------------------------


def chunked(*pieces: bytes, trailers: bytes = b"") -> list[bytes]:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    parts = [head + b"%x\r\n%b\r\n" % (len(pieces[0]), pieces[0])]
    parts += [b"%x\r\n%b\r\n" % (len(p), p) for p in pieces[1:]]
    parts[-1] += b"0\r\n" + trailers + b"\r\n"
    return parts


async def test_aiter_text_keeps_a_character_split_across_writes(scripted: ServerFactory) -> None:
    euro = "€".encode()  # 3 bytes
    gate = asyncio.Event()
    server = await scripted(replying(*chunked(b"ab" + euro[:2], euro[2:] + b"cd"), gate=gate))
    texts = []
    async with hyperhttp.Client() as client, client.stream("GET", server.url + "/") as r:
        async for text in r.aiter_text():
            texts.append(text)
            gate.set()
    assert "".join(texts) == "ab€cd"
    assert texts[0] == "ab"  # the partial character waited for the next write
    assert "\ufffd" not in "".join(texts)


async def test_aiter_bytes_and_aiter_raw_give_every_byte(scripted: ServerFactory) -> None:
    euro = "€".encode()
    for method in ("aiter_bytes", "aiter_raw"):
        gate = asyncio.Event()
        server = await scripted(replying(*chunked(b"ab" + euro[:2], euro[2:] + b"cd"), gate=gate))
        chunks = []
        async with hyperhttp.Client() as client, client.stream("GET", server.url + "/") as r:
            async for chunk in getattr(r, method)():
                chunks.append(chunk)
                gate.set()
            assert r.num_bytes_downloaded == 7
        assert chunks == [b"ab" + euro[:2], euro[2:] + b"cd"]


async def test_aiter_bytes_with_a_chunk_size(scripted: ServerFactory) -> None:
    server = await scripted(replying(response(b"0123456789")))
    async with hyperhttp.Client() as client, client.stream("GET", server.url + "/") as r:
        chunks = [chunk async for chunk in r.aiter_bytes(chunk_size=4)]
    assert chunks == [b"0123", b"4567", b"89"]


async def test_aiter_lines_splits_on_lf_crlf_and_cr_across_writes(
    scripted: ServerFactory,
) -> None:
    pieces = [b"one\r", b"\ntwo\n", b"three\rfo", b"ur\r", b"\n\nfi", b"ve"]
    gate = asyncio.Event()
    server = await scripted(replying(*chunked(*pieces), gate=gate))

    async def feeder(r: hyperhttp.Response) -> list[str]:
        lines = []
        async for line in r.aiter_lines():
            lines.append(line)
        return lines

    async with hyperhttp.Client() as client, client.stream("GET", server.url + "/") as r:
        task = asyncio.create_task(feeder(r))
        for _ in pieces[1:]:
            # Let the client take in the previous write before the next one goes out.
            await asyncio.sleep(0.01)
            gate.set()
        lines = await asyncio.wait_for(task, 5)
    assert lines == ["one", "two", "three", "four", "", "five"]


async def test_streamed_body_cannot_be_read_twice(scripted: ServerFactory) -> None:
    server = await scripted(replying(response(b"data")))
    async with hyperhttp.Client() as client, client.stream("GET", server.url + "/") as r:
        with pytest.raises(hyperhttp.ResponseNotRead):
            _ = r.content
        assert [c async for c in r.aiter_bytes()] == [b"data"]
        with pytest.raises(hyperhttp.StreamConsumed):
            await r.aread()


# -- trailers -----------------------------------------------------------------------------------


async def test_trailers_are_exposed_apart_from_headers(scripted: ServerFactory) -> None:
    parts = chunked(b"hello", trailers=b"X-Checksum: abc\r\nServer-Timing: db;dur=5\r\n")
    server = await scripted(replying(*parts))
    r = await get(server.url)
    assert r.content == b"hello"
    assert r.trailers["x-checksum"] == "abc"
    assert r.trailers.get("server-timing") == "db;dur=5"
    assert "x-checksum" not in r.headers


async def test_trailers_after_streaming(scripted: ServerFactory) -> None:
    server = await scripted(replying(*chunked(b"a", b"b", trailers=b"X-T: 1\r\n")))
    async with hyperhttp.Client() as client, client.stream("GET", server.url + "/") as r:
        assert len(r.trailers) == 0
        assert b"".join([c async for c in r.aiter_bytes()]) == b"ab"
        assert r.trailers["x-t"] == "1"


async def test_no_trailers_means_empty_trailers(scripted: ServerFactory) -> None:
    server = await scripted(replying(*chunked(b"a")))
    r = await get(server.url)
    assert len(r.trailers) == 0


# -- status -----------------------------------------------------------------------------------


async def test_raise_for_status_returns_the_response_on_success(scripted: ServerFactory) -> None:
    server = await scripted(replying(response(b"ok")))
    r = await get(server.url)
    assert r.raise_for_status() is r
    assert (r.is_success, r.is_error, r.is_redirect, r.is_informational) == (
        True,
        False,
        False,
        False,
    )


@pytest.mark.parametrize(("status", "kind"), [(404, "Client error"), (503, "Server error")])
async def test_raise_for_status_raises_with_response_and_request(
    scripted: ServerFactory, status: int, kind: str
) -> None:
    server = await scripted(replying(response(b"no", status=status, reason="Nope")))
    r = await get(server.url)
    assert r.is_error
    assert r.is_client_error is (status < 500)
    assert r.is_server_error is (status >= 500)
    with pytest.raises(HTTPStatusError) as info:
        r.raise_for_status()
    assert info.value.response is r
    assert info.value.request is r.request
    assert kind in str(info.value) and str(status) in str(info.value)


async def test_redirect_status_with_location(scripted: ServerFactory) -> None:
    server = await scripted(
        replying(response(status=302, reason="Found", headers=[("Location", "/x")]))
    )
    r = await get(server.url)
    assert r.is_redirect
    assert r.raise_for_status() is r


async def test_metadata(scripted: ServerFactory) -> None:
    server = await scripted(replying(response(b"12345", status=201, reason="Made It")))
    r = await get(server.url)
    assert r.status_code == 201
    assert r.reason_phrase == "Made It"
    assert r.http_version == "HTTP/1.1"
    assert isinstance(r.elapsed, datetime.timedelta)
    assert r.elapsed.total_seconds() >= 0
    assert r.num_bytes_downloaded == 5
    assert r.history == []
    assert r.request is not None and r.request.method == "GET"
    assert str(r.url) == server.url + "/"


async def test_http_1_0_response(scripted: ServerFactory) -> None:
    server = await scripted(replying(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
    r = await get(server.url)
    assert r.http_version == "HTTP/1.0"
    assert r.content == b"hi"


async def test_missing_reason_phrase_gets_the_standard_one(scripted: ServerFactory) -> None:
    server = await scripted(replying(b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"))
    r = await get(server.url)
    assert r.status_code == 404
    assert r.reason_phrase == "Not Found"


async def test_elapsed_counts_from_sending_the_request(scripted: ServerFactory) -> None:
    import asyncio
    import datetime

    import hyperhttp

    from .scripted import response

    async def slow(conn: ServerConn) -> None:
        await conn.read_request()
        await asyncio.sleep(0.15)
        await conn.send(response(b"late"))

    server = await scripted(slow)
    async with hyperhttp.Client() as client:
        r = await client.get(server.url)
    assert isinstance(r.elapsed, datetime.timedelta)
    assert r.elapsed.total_seconds() >= 0.14
