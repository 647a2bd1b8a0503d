"""Sans-I/O proxy handshakes: HTTP ``CONNECT`` and SOCKS5. No sockets here.

``CONNECT``: :func:`serialize_connect` builds the request; a :class:`ConnectReplyParser`
is fed the proxy's bytes until it returns the reply's status. Only the head is read: a 2xx
reply opens the tunnel whatever ``Content-Length`` or ``Transfer-Encoding`` it carries
(RFC 9110 §9.3.6: a 2xx CONNECT response has no content), and any other reply ends the
exchange, its body unread (it is the proxy's page, never the origin's response).

SOCKS5 (RFC 1928, username/password RFC 1929): :func:`socks5_greeting`,
:func:`socks5_auth_request` and :func:`socks5_connect_request` build the client's messages;
:class:`Socks5ReplyReader` checks the server's answers as they arrive.

Every malformed reply raises :class:`ProxyHandshakeError` (the transport turns it into a
:class:`~hyperhttp.ProxyError`); sizes are capped before anything is buffered without bound.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

__all__ = [
    "MAX_CONNECT_REPLY_BYTES",
    "ConnectReplyParser",
    "ProxyHandshakeError",
    "Socks5ReplyReader",
    "serialize_connect",
    "socks5_auth_request",
    "socks5_connect_request",
    "socks5_greeting",
]

# Bytes of a CONNECT reply head (status line + headers). Proxies answer with a handful of
# short fields; the same 64 KiB bound as an origin's response head (h1_client.py) cuts a
# proxy that streams an endless header.
MAX_CONNECT_REPLY_BYTES: Final = 64 * 1024
# Interim (1xx) replies skipped before the final CONNECT reply, as for origin responses.
MAX_CONNECT_INTERIM: Final = 16

_STATUS_LINE: Final = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
_FIELD_NAME: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Field values: visible ASCII, obs-text, space and tab; never NUL, CR, LF or other controls.
_FIELD_VALUE: Final = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")
# A tunnel host: registered name or IPv4 (validated by the URL parser before it gets here)
# or an IPv6 literal. Checked again here so that nothing reaches the wire unchecked.
_HOST: Final = re.compile(r"[A-Za-z0-9._\-]+|[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._\-]+)?")


class ProxyHandshakeError(Exception):
    """The proxy's reply broke the protocol (internal: mapped to ProxyError)."""


def authority(host: str, port: int) -> str:
    """``host:port`` with an IPv6 literal in brackets (RFC 9112 §3.2.3)."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def serialize_connect(host: str, port: int, proxy_authorization: str | None) -> bytes:
    """The ``CONNECT host:port HTTP/1.1`` request head that opens a tunnel."""
    if not _HOST.fullmatch(host) or not 0 < port < 65536:
        raise ProxyHandshakeError("invalid tunnel host or port")
    target = authority(host, port).encode("ascii")
    lines = [b"CONNECT ", target, b" HTTP/1.1\r\nHost: ", target, b"\r\n"]
    if proxy_authorization is not None:
        value = proxy_authorization.encode("latin-1")
        if not _FIELD_VALUE.fullmatch(value):
            raise ProxyHandshakeError("invalid Proxy-Authorization value")
        lines += [b"Proxy-Authorization: ", value, b"\r\n"]
    lines.append(b"\r\n")
    return b"".join(lines)


class ConnectReplyParser:
    """Reads a proxy's reply to CONNECT up to the end of its (final) head."""

    def __init__(self, max_bytes: int = MAX_CONNECT_REPLY_BYTES) -> None:
        self._max = max_bytes
        self._buffer = b""
        self._interim = 0
        self.status_code: int | None = None
        self.reason = ""
        #: Bytes that followed the final head (tunnel data; a proxy should send none).
        self.surplus = b""

    def feed(self, data: bytes) -> bool:
        """Add received bytes; True once the final reply head is complete."""
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self._max:
                    raise ProxyHandshakeError(
                        f"the proxy's CONNECT reply head exceeds {self._max} bytes"
                    )
                return False
            if end + 4 > self._max:
                raise ProxyHandshakeError(
                    f"the proxy's CONNECT reply head exceeds {self._max} bytes"
                )
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            status, reason = _parse_head(head)
            if 100 <= status < 200:
                self._interim += 1
                if self._interim > MAX_CONNECT_INTERIM:
                    raise ProxyHandshakeError("too many interim replies to CONNECT")
                continue
            self.status_code = status
            self.reason = reason
            self.surplus = self._buffer
            self._buffer = b""
            return True

    def feed_eof(self) -> None:
        """The proxy closed the connection before its reply was complete."""
        if self._buffer:
            raise ProxyHandshakeError("the proxy closed the connection mid-way through its reply")
        raise ProxyHandshakeError("the proxy closed the connection without replying to CONNECT")


def _parse_head(head: bytes) -> tuple[int, str]:
    lines = head.split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ProxyHandshakeError("malformed status line in the proxy's CONNECT reply")
    status = int(match.group(1))
    if status < 100:
        raise ProxyHandshakeError("invalid status code in the proxy's CONNECT reply")
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ProxyHandshakeError("malformed header field in the proxy's CONNECT reply")
    reason = lines[0][13:].decode("latin-1")
    return status, reason


# -- SOCKS5 -------------------------------------------------------------------------------

SOCKS_VERSION: Final = 5
_NO_AUTH: Final = 0x00
_USER_PASS: Final = 0x02
_NO_ACCEPTABLE: Final = 0xFF
# RFC 1929: user name and password are each 1-255 bytes.
MAX_SOCKS_CREDENTIAL: Final = 255
# RFC 1928 §4: a domain name is sent with a one-byte length.
MAX_SOCKS_DOMAIN: Final = 255

SOCKS5_REPLIES: Final = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}


def socks5_greeting(with_credentials: bool) -> bytes:
    """The method-selection message: no-auth, plus username/password when we have them."""
    if with_credentials:
        return bytes([SOCKS_VERSION, 2, _NO_AUTH, _USER_PASS])
    return bytes([SOCKS_VERSION, 1, _NO_AUTH])


def socks5_auth_request(username: str, password: str) -> bytes:
    """RFC 1929 username/password sub-negotiation."""
    user = username.encode("utf-8")
    secret = password.encode("utf-8")
    if not 0 < len(user) <= MAX_SOCKS_CREDENTIAL or len(secret) > MAX_SOCKS_CREDENTIAL:
        raise ProxyHandshakeError("SOCKS5 user name and password must be 1-255 bytes each")
    return bytes([1, len(user)]) + user + bytes([len(secret)]) + secret


def socks5_connect_request(host: str, port: int, remote_dns: bool) -> bytes:
    """CONNECT to ``host:port``: an IP literal as such; a name as a domain (``socks5h``)."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        address = None
    head = bytes([SOCKS_VERSION, 1, 0])
    tail = port.to_bytes(2, "big")
    if isinstance(address, ipaddress.IPv4Address):
        return head + b"\x01" + address.packed + tail
    if isinstance(address, ipaddress.IPv6Address):
        return head + b"\x04" + address.packed + tail
    if not remote_dns:  # pragma: no cover - the transport resolves names for socks5://
        raise ProxyHandshakeError("socks5:// needs an IP address; use socks5h:// for names")
    name = host.encode("ascii")
    if not 0 < len(name) <= MAX_SOCKS_DOMAIN:
        raise ProxyHandshakeError("host name too long for SOCKS5")
    return head + b"\x03" + bytes([len(name)]) + name + tail


class Socks5ReplyReader:
    """Checks the SOCKS5 server's replies; each ``read_*`` needs the exact bytes it asks."""

    @staticmethod
    def method(data: bytes, offered_credentials: bool) -> bool:
        """2 bytes: the chosen method. True if username/password auth must follow."""
        if data[0] != SOCKS_VERSION:
            raise ProxyHandshakeError("the proxy does not speak SOCKS5")
        if data[1] == _NO_AUTH:
            return False
        if data[1] == _USER_PASS and offered_credentials:
            return True
        if data[1] == _NO_ACCEPTABLE or data[1] == _USER_PASS:
            raise SocksAuthRequired("the SOCKS5 proxy requires authentication")
        raise ProxyHandshakeError("the SOCKS5 proxy chose a method we did not offer")

    @staticmethod
    def auth(data: bytes) -> None:
        """2 bytes: the RFC 1929 status (0 = success)."""
        if data[0] != 1:
            raise ProxyHandshakeError("malformed SOCKS5 authentication reply")
        if data[1] != 0:
            raise SocksAuthFailed("the SOCKS5 proxy rejected the credentials")

    @staticmethod
    def connect_head(data: bytes) -> int:
        """First 5 bytes of the CONNECT reply; returns how many more bytes to read."""
        if data[0] != SOCKS_VERSION or data[2] != 0:
            raise ProxyHandshakeError("malformed SOCKS5 reply")
        if data[1] != 0:
            reason = SOCKS5_REPLIES.get(data[1], f"error code {data[1]}")
            raise SocksConnectFailed(f"the SOCKS5 proxy could not connect: {reason}", data[1])
        kind = data[3]
        if kind == 0x01:
            return 4 - 1 + 2
        if kind == 0x04:
            return 16 - 1 + 2
        if kind == 0x03:
            return data[4] + 2
        raise ProxyHandshakeError("unknown address type in the SOCKS5 reply")


class SocksAuthRequired(ProxyHandshakeError):
    """The SOCKS server wants credentials we do not have."""


class SocksAuthFailed(ProxyHandshakeError):
    """The SOCKS server rejected the credentials."""


class SocksConnectFailed(ProxyHandshakeError):
    """The SOCKS server answered CONNECT with an error code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
