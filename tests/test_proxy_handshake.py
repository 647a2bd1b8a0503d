"""The sans-I/O proxy handshakes: CONNECT request and reply parsing, SOCKS5 messages.

Replies are fed whole and one byte at a time (checklist PX-01, P rows)."""

from __future__ import annotations

import pytest

from hyperhttp._protocol.proxy import (
    MAX_CONNECT_INTERIM,
    MAX_CONNECT_REPLY_BYTES,
    ConnectReplyParser,
    ProxyHandshakeError,
    Socks5ReplyReader,
    SocksAuthFailed,
    SocksAuthRequired,
    SocksConnectFailed,
    serialize_connect,
    socks5_connect_request,
    socks5_greeting,
)


def feed_bytewise(reply: bytes) -> ConnectReplyParser:
    parser = ConnectReplyParser()
    for index in range(len(reply)):
        done = parser.feed(reply[index : index + 1])
        assert done == (index == len(reply) - 1) or parser.status_code is not None
        if done:
            break
    return parser


def test_connect_request_brackets_ipv6_and_adds_auth_only_when_given() -> None:
    assert serialize_connect("::1", 443, None) == (
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"
    )
    assert serialize_connect("example.com", 8443, "Basic abc") == (
        b"CONNECT example.com:8443 HTTP/1.1\r\nHost: example.com:8443\r\n"
        b"Proxy-Authorization: Basic abc\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("host", "port"),
    [("exa\r\nmple.com", 443), ("a b", 443), ("exa%zz", 443), ("", 443), ("ok", 0), ("ok", 65536)],
)
def test_connect_request_refuses_bad_targets(host: str, port: int) -> None:
    with pytest.raises(ProxyHandshakeError):
        serialize_connect(host, port, None)


def test_connect_request_refuses_control_characters_in_credentials() -> None:
    with pytest.raises(ProxyHandshakeError):
        serialize_connect("example.com", 443, "Basic a\r\nX-Injected: 1")


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.0 200\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    ],
)
def test_2xx_replies_parse_whole_and_bytewise(reply: bytes) -> None:
    whole = ConnectReplyParser()
    assert whole.feed(reply)
    bytewise = feed_bytewise(reply)
    assert whole.status_code == bytewise.status_code
    assert whole.status_code is not None and 200 <= whole.status_code < 300
    assert whole.surplus == b""


def test_status_reason_and_surplus() -> None:
    parser = ConnectReplyParser()
    assert parser.feed(b"HTTP/1.1 407 Proxy Authentication Required\r\nA: b\r\n\r\nbody")
    assert (parser.status_code, parser.reason) == (407, "Proxy Authentication Required")
    assert parser.surplus == b"body"


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 200 O\x01K\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 099 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\nX: y\r\n\r\n",
    ],
)
def test_malformed_replies_raise_whole_and_bytewise(reply: bytes) -> None:
    with pytest.raises(ProxyHandshakeError):
        ConnectReplyParser().feed(reply)
    with pytest.raises(ProxyHandshakeError):
        feed_bytewise(reply)


def test_eof_before_or_during_the_reply() -> None:
    parser = ConnectReplyParser()
    with pytest.raises(ProxyHandshakeError, match="without replying"):
        parser.feed_eof()
    parser = ConnectReplyParser()
    assert not parser.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ProxyHandshakeError, match="mid-way"):
        parser.feed_eof()


def test_head_size_limit_and_limit_plus_one() -> None:
    start, end = b"HTTP/1.1 200 OK\r\nX-Pad: ", b"\r\n\r\n"
    pad = MAX_CONNECT_REPLY_BYTES - len(start) - len(end)
    assert ConnectReplyParser().feed(start + b"a" * pad + end)
    with pytest.raises(ProxyHandshakeError, match="exceeds"):
        ConnectReplyParser().feed(start + b"a" * (pad + 1) + end)
    # An endless head is refused as soon as it passes the limit, before it ends.
    parser = ConnectReplyParser()
    parser.feed(start)
    with pytest.raises(ProxyHandshakeError, match="exceeds"):
        for _ in range(MAX_CONNECT_REPLY_BYTES // 1024 + 1):
            parser.feed(b"a" * 1024)


def test_interim_reply_limit_and_limit_plus_one() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    final = b"HTTP/1.1 200 OK\r\n\r\n"
    assert ConnectReplyParser().feed(interim * MAX_CONNECT_INTERIM + final)
    with pytest.raises(ProxyHandshakeError, match="interim"):
        ConnectReplyParser().feed(interim * (MAX_CONNECT_INTERIM + 1) + final)


# -- SOCKS5 -----------------------------------------------------------------------------------


def test_socks5_messages() -> None:
    assert socks5_greeting(False) == b"\x05\x01\x00"
    assert socks5_greeting(True) == b"\x05\x02\x00\x02"
    assert socks5_connect_request("10.0.0.1", 80, True) == b"\x05\x01\x00\x01\x0a\x00\x00\x01\x00P"
    assert socks5_connect_request("::1", 443, True)[3:4] == b"\x04"
    assert socks5_connect_request("example.com", 443, True) == (
        b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"
    )


def test_socks5_replies() -> None:
    assert Socks5ReplyReader.method(b"\x05\x00", False) is False
    assert Socks5ReplyReader.method(b"\x05\x02", True) is True
    with pytest.raises(SocksAuthRequired):
        Socks5ReplyReader.method(b"\x05\xff", False)
    with pytest.raises(SocksAuthRequired):
        Socks5ReplyReader.method(b"\x05\x02", False)
    with pytest.raises(ProxyHandshakeError):
        Socks5ReplyReader.method(b"\x04\x00", False)
    Socks5ReplyReader.auth(b"\x01\x00")
    with pytest.raises(SocksAuthFailed):
        Socks5ReplyReader.auth(b"\x01\x01")
    assert Socks5ReplyReader.connect_head(b"\x05\x00\x00\x01\x7f") == 5
    assert Socks5ReplyReader.connect_head(b"\x05\x00\x00\x03\x04") == 6
    with pytest.raises(SocksConnectFailed) as caught:
        Socks5ReplyReader.connect_head(b"\x05\x05\x00\x01\x00")
    assert caught.value.code == 5
    with pytest.raises(ProxyHandshakeError):
        Socks5ReplyReader.connect_head(b"\x05\x00\x00\x09\x00")
