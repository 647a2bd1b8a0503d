"""What the client puts on the wire (checklist R-01..R-10), checked on a scripted server.

Invalid input must fail while the request is being built: the assertions on
``server.accepted`` prove that no connection was even opened.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import hyperhttp
from hyperhttp import InvalidURL, LocalProtocolError, UnsupportedProtocol

from .conftest import ServerFactory
from .scripted import RawRequest, ScriptedServer, keep_alive, response

OK = keep_alive(lambda request: response(b"ok"))


async def send(
    server: ScriptedServer, method: str = "GET", path: str = "/", **kwargs: Any
) -> RawRequest:
    """Send one request with a fresh client; return the request as the server got it."""
    before = len(server.requests)
    async with hyperhttp.Client() as client:
        r = await client.request(method, server.url + path, **kwargs)
        assert r.status_code == 200
    assert len(server.requests) == before + 1
    return server.requests[-1]


# -- methods --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["GET\r\nX: y", "GET X", "GE\rT", "GE\nT", "GET\x00", "", "G(T", "GÉT", "G\tT"]
)
async def test_bad_methods_raise_before_anything_is_sent(
    scripted: ServerFactory, method: str
) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        with pytest.raises(LocalProtocolError):
            await client.request(method, server.url + "/")
    assert server.accepted == 0


async def test_token_methods_are_sent_upper_cased(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    assert (await send(server, "purge")).method == b"PURGE"
    assert (await send(server, "M-SEARCH")).method == b"M-SEARCH"


# -- request target ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/a b", b"/a%20b"),
        ("/%0d%0aX:y", b"/%0d%0aX:y"),  # already encoded: stays encoded, never decoded
        ("/a%20b", b"/a%20b"),  # never %2520
        ("/日本?q=é", b"/%E6%97%A5%E6%9C%AC?q=%C3%A9"),
        ('/x?a=<b>&c="d"', b"/x?a=%3Cb%3E&c=%22d%22"),
        ("/bad%zz", b"/bad%25zz"),
        ("/p#frag", b"/p"),  # the fragment never goes on the wire
    ],
)
async def test_request_target_is_percent_encoded(
    scripted: ServerFactory, path: str, target: bytes
) -> None:
    server = await scripted(OK)
    request = await send(server, path=path)
    assert request.target == target
    assert request.request_line == b"GET " + target + b" HTTP/1.1"


@pytest.mark.parametrize("path", ["/x?q=\r&k=\n \n", "/a\x00b", "/a\x7f", "/a\rb", "/a\nb"])
async def test_control_characters_in_the_target_are_rejected(
    scripted: ServerFactory, path: str
) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        with pytest.raises(InvalidURL):
            await client.get(server.url + path)
    assert server.accepted == 0


# -- header fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X", "a\r\nInjected: 1"),
        ("X", "a\rb"),
        ("X", "a\nb"),
        ("X", "a\x00b"),
        ("X", "a\x01b"),
        ("X", "a\x0bb"),
        ("X", "a\x1fb"),
        ("X", "a\x7fb"),
        ("X", b"a\r\nb"),
        ("foo bar", "x"),
        ("foo\xff", "x"),
        (b"foo\xff", b"x"),
        ("foo:", "x"),
        ("", "x"),
        ("X\r\nY", "x"),
    ],
)
async def test_bad_header_fields_raise_before_anything_is_sent(
    scripted: ServerFactory, name: str | bytes, value: str | bytes
) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        with pytest.raises(LocalProtocolError):
            await client.get(server.url + "/", headers=[(name, value)])
    assert server.accepted == 0


async def test_non_text_header_values_are_refused(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        with pytest.raises(TypeError):
            await client.get(server.url + "/", headers={"X": 5})  # type: ignore[dict-item]
    assert server.accepted == 0


async def test_non_latin_1_header_text_is_sent_as_utf_8_never_truncated(
    scripted: ServerFactory,
) -> None:
    # U+760D U+760A: a sloppy encoder keeping the low byte of each code point sends "\r\n".
    server = await scripted(OK)
    request = await send(server, headers={"X-Name": "\u760d\u760a"})
    assert request.header(b"x-name") == "\u760d\u760a".encode()
    assert b"\r\n\r\n" not in request.head
    assert request.head.count(b"\r\n") == len(request.headers())


async def test_leading_and_trailing_whitespace_is_stripped_from_values(
    scripted: ServerFactory,
) -> None:
    server = await scripted(OK)
    request = await send(server, headers={"X-A": " \ta b\t "})
    assert b"\r\nX-A: a b\r\n" in request.head + b"\r\n"


# -- Host -------------------------------------------------------------------------------


def host_lines(request: RawRequest) -> list[bytes]:
    return [value for name, value in request.headers() if name.lower() == b"host"]


async def test_exactly_one_host_header_comes_first(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    request = await send(server, headers={"X-Before": "1"})
    assert host_lines(request) == [f"127.0.0.1:{server.port}".encode()]
    assert request.headers()[0][0] == b"Host"


async def test_host_is_lower_cased_without_trailing_dot(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        request = client.build_request("GET", f"http://LocalHost.:{server.port}/")
    assert request.headers.raw[0] == (b"Host", f"localhost:{server.port}".encode())


def test_host_of_default_ports_and_ipv6() -> None:
    for url, host in [
        ("http://example.com:80/", b"example.com"),
        ("https://example.com:443/", b"example.com"),
        ("http://example.com:443/", b"example.com:443"),
        ("http://[::1]:8080/", b"[::1]:8080"),
        ("https://[::1]/", b"[::1]"),
        ("http://bücher.example/", b"xn--bcher-kva.example"),
    ]:
        assert hyperhttp.Request("GET", url).headers.raw[0] == (b"Host", host)


async def test_host_over_ipv6_loopback(scripted: ServerFactory) -> None:
    try:
        server = await scripted(OK, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    request = await send(server)
    assert host_lines(request) == [f"[::1]:{server.port}".encode()]


async def test_a_user_host_replaces_ours_and_still_comes_first(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    request = await send(server, headers=[("X-A", "1"), ("host", "virtual.example")])
    assert host_lines(request) == [b"virtual.example"]
    assert request.headers()[0][0].lower() == b"host"


async def test_two_host_headers_are_rejected(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        with pytest.raises(LocalProtocolError):
            await client.get(server.url + "/", headers=[("Host", "a"), ("host", "b")])
    assert server.accepted == 0


# -- invalid URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http:///x",
        "http://[::1",
        "http://a b/",
        "http://h:99999/",
        "http://h:-1/",
        "http://h:0x50/",
        "http://host:80:80/",
        "http://ho\x00st/",
        "http://h%00/",
        "http://h%2F/",
        "http://" + "a" * 65536 + ".com/",
        "example.com/x",
        "/relative/only",
    ],
)
async def test_invalid_urls_raise_before_connecting(url: str) -> None:
    async with hyperhttp.Client() as client:
        with pytest.raises(InvalidURL):
            await client.get(url)


@pytest.mark.parametrize("url", ["foo://x/", "ftp://example.com/", "file:///etc/passwd"])
async def test_unknown_schemes_raise_before_connecting(url: str) -> None:
    async with hyperhttp.Client() as client:
        with pytest.raises((InvalidURL, UnsupportedProtocol)):
            await client.get(url)


# -- userinfo -----------------------------------------------------------------------------


async def test_userinfo_becomes_basic_auth_and_leaves_the_target(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    url = f"http://user:p%40ss@127.0.0.1:{server.port}/path?q=1"
    async with hyperhttp.Client() as client:
        r = await client.get(url)
    request = server.requests[-1]
    expected = base64.b64encode(b"user:p@ss")
    assert request.header(b"authorization") == b"Basic " + expected
    assert request.target == b"/path?q=1"
    assert b"p%40ss" not in request.head and b"p@ss" not in request.head
    assert host_lines(request) == [f"127.0.0.1:{server.port}".encode()]
    assert "p%40ss" not in repr(r.request) and "p@ss" not in str(r.request.url)


async def test_explicit_authorization_wins_over_userinfo(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        await client.get(
            f"http://user:pass@127.0.0.1:{server.port}/", headers={"Authorization": "Bearer t"}
        )
    assert server.requests[-1].header(b"authorization") == b"Bearer t"


async def test_errors_never_show_the_password(scripted: ServerFactory) -> None:
    async def reset(conn: Any) -> None:
        await conn.read_request()
        conn.reset()

    server = await scripted(reset)
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.HyperHTTPError) as info:
            await client.get(f"http://user:s3cr3t@127.0.0.1:{server.port}/x")
    error = info.value
    assert error.request is not None
    for text in (str(error), repr(error), repr(error.request), str(error.request.url)):
        assert "s3cr3t" not in text
    with pytest.raises(InvalidURL) as bad:
        hyperhttp.URL("http://user:s3cr3t@h:99999/")
    assert "s3cr3t" not in str(bad.value) and "s3cr3t" not in repr(bad.value)


# -- body framing set by the user ---------------------------------------------------------


async def test_content_length_that_does_not_match_the_body_is_rejected(
    scripted: ServerFactory,
) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        for length in ("10", "2"):
            with pytest.raises(LocalProtocolError):
                await client.post(
                    server.url + "/", content=b"hello", headers={"Content-Length": length}
                )
    assert server.accepted == 0


async def test_content_length_with_transfer_encoding_is_rejected(
    scripted: ServerFactory,
) -> None:
    server = await scripted(OK)
    async with hyperhttp.Client() as client:
        with pytest.raises(LocalProtocolError):
            await client.post(
                server.url + "/",
                content=iter([b"a"]),
                headers={"Content-Length": "1", "Transfer-Encoding": "chunked"},
            )
        with pytest.raises(LocalProtocolError):
            await client.post(
                server.url + "/", content=b"abc", headers={"Transfer-Encoding": "chunked"}
            )
    assert server.accepted == 0


async def test_generator_longer_than_its_content_length_is_an_error(
    scripted: ServerFactory,
) -> None:
    server = await scripted(OK)

    def body() -> Iterator[bytes]:
        yield b"12345"
        yield b"6789"

    async with hyperhttp.Client() as client:
        with pytest.raises(LocalProtocolError) as info:
            await client.post(server.url + "/", content=body(), headers={"Content-Length": "5"})
    assert info.value.request is not None
    # The first 5 bytes were a whole body; the excess never went out.
    assert all(r.body == b"12345" for r in server.requests)


async def test_generator_shorter_than_its_content_length_is_an_error(
    scripted: ServerFactory,
) -> None:
    received: list[bytes] = []

    async def script(conn: Any) -> None:
        received.append(await conn.reader.read(65536))

    server = await scripted(script)

    async def body() -> AsyncIterator[bytes]:
        yield b"123"

    async with hyperhttp.Client() as client:
        with pytest.raises(LocalProtocolError) as info:
            await client.post(server.url + "/", content=body(), headers={"Content-Length": "5"})
    assert info.value.request is not None
    assert "shorter" in str(info.value)


# -- bodies ---------------------------------------------------------------------------------------


async def test_bytes_body(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    request = await send(server, "POST", content=b"hello\x00world")
    assert request.header(b"content-length") == b"11"
    assert request.body == b"hello\x00world"
    assert request.header(b"transfer-encoding") is None


async def test_str_body_is_utf_8(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    request = await send(server, "PUT", content="héllo ☃")
    assert request.body == "héllo ☃".encode()
    assert request.header(b"content-length") == str(len(request.body)).encode()


async def test_post_without_body_sends_content_length_zero(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    request = await send(server, "POST")
    assert request.header(b"content-length") == b"0"
    get = await send(server, "GET")
    assert get.header(b"content-length") is None and get.header(b"transfer-encoding") is None


async def test_sync_generator_body_is_chunked(scripted: ServerFactory) -> None:
    server = await scripted(OK)

    def body() -> Iterator[bytes]:
        yield b"hello, "
        yield b""  # an empty piece must not end the chunked body early
        yield b"world"

    request = await send(server, "POST", content=body())
    assert request.header(b"transfer-encoding") == b"chunked"
    assert request.header(b"content-length") is None
    assert request.body == b"hello, world"


async def test_async_generator_body_is_chunked(scripted: ServerFactory) -> None:
    server = await scripted(OK)

    async def body() -> AsyncIterator[bytes]:
        for piece in (b"a" * 70_000, b"b", b"c" * 3):
            await asyncio.sleep(0)
            yield piece

    request = await send(server, "POST", content=body())
    assert request.header(b"transfer-encoding") == b"chunked"
    assert request.body == b"a" * 70_000 + b"b" + b"ccc"


async def test_file_body_gets_its_length_from_the_file(
    scripted: ServerFactory, tmp_path: Path
) -> None:
    server = await scripted(OK)
    path = tmp_path / "upload.bin"
    data = bytes(range(256)) * 1000  # larger than one read chunk
    path.write_bytes(data)
    with path.open("rb") as file:
        request = await send(server, "PUT", content=file)
    assert request.header(b"content-length") == str(len(data)).encode()
    assert request.header(b"transfer-encoding") is None
    assert request.body == data


async def test_json_body_is_compact_utf_8(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    request = await send(server, "POST", json={"name": "Zoë", "n": [1, 2]})
    assert request.body == '{"name":"Zoë","n":[1,2]}'.encode()
    assert request.header(b"content-type") == b"application/json"
    assert request.header(b"content-length") == str(len(request.body)).encode()


async def test_form_body_is_urlencoded_with_list_values(scripted: ServerFactory) -> None:
    server = await scripted(OK)
    request = await send(server, "POST", data={"a": ["1", "2"], "b": "x y&z", "c": 3})
    assert request.body == b"a=1&a=2&b=x+y%26z&c=3"
    assert request.header(b"content-type") == b"application/x-www-form-urlencoded"


async def test_files_body_is_multipart(scripted: ServerFactory, tmp_path: Path) -> None:
    server = await scripted(OK)
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n")
    with path.open("rb") as file:
        request = await send(
            server,
            "POST",
            data={"field": "value", "multi": ["1", "2"]},
            files={"upload": file, "raw": ("notes.txt", b"\x00\xffbytes", "text/plain")},
        )
    content_type = request.header(b"content-type")
    assert content_type is not None and content_type.startswith(b"multipart/form-data; boundary=")
    assert request.header(b"content-length") == str(len(request.body)).encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type + b"\r\n\r\n" + request.body
    )
    parts = [
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]
    assert parts == [
        ("field", None, "text/plain", b"value"),
        ("multi", None, "text/plain", b"1"),
        ("multi", None, "text/plain", b"2"),
        ("upload", "report.csv", "application/octet-stream", b"a,b\r\n1,2\r\n"),
        ("raw", "notes.txt", "text/plain", b"\x00\xffbytes"),
    ]


# -- one write for a small request ------------------------------------------------------------


async def test_small_request_head_and_body_go_out_in_one_write(
    scripted: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio.selector_events as selector_events

    writes: list[bytes] = []
    original = selector_events._SelectorSocketTransport.write

    def write(self: Any, data: Any) -> None:
        writes.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(selector_events._SelectorSocketTransport, "write", write)
    server = await scripted(OK)
    writes.clear()
    async with hyperhttp.Client() as client:
        await client.post(server.url + "/submit", content=b"x" * 1000)
    client_writes = [w for w in writes if w.startswith(b"POST ")]
    assert len(client_writes) == 1
    assert client_writes[0].endswith(b"\r\n\r\n" + b"x" * 1000)
