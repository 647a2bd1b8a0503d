"""Redirects: from a 3xx response, the next request (or a refusal).

Rules (RFC 9110 §15.4, plus what curl/urllib3/requests learned the hard way):

* 301/302 turn POST into GET, 303 turns everything but HEAD into GET; the body and its
  headers are dropped then. 307/308 keep the method and the body: a replayable body is sent
  again, a one-shot stream raises ``StreamConsumed`` instead of being sent empty.
* The Location is resolved against the request URL; only http and https targets are
  followed (``UnsupportedProtocol`` otherwise); a missing fragment inherits the original.
* ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` (every duplicate), plus the
  caller's extra sensitive headers (``Client(redirect_sensitive_headers=...)``), are dropped
  when the scheme, host or port changes (so on an https -> http downgrade, and on an
  http -> https upgrade, too). ``Host`` is recomputed.
* Raw non-ASCII bytes in a Location are percent-encoded as they came (UTF-8 or not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from ._exceptions import InvalidURL, RemoteProtocolError, StreamConsumed, UnsupportedProtocol
from ._models import Request, Response
from ._urls import URL

__all__ = ["REDIRECT_STATUSES", "SENSITIVE_ON_REDIRECT", "USER_COOKIE", "build_redirect_request"]

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_NON_ASCII: Final = re.compile(rb"[\x80-\xff]+")
# Request extension holding the caller's own Cookie header, before the jar's cookies were
# added: the client recomputes Cookie from it on every hop. Dropped across origins.
USER_COOKIE: Final = "hyperhttp.user_cookie"
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Headers that carry credentials for one origin.
SENSITIVE_ON_REDIRECT: Final = ("authorization", "proxy-authorization", "cookie")
# Headers that describe the body, dropped with it.
_BODY_HEADERS: Final = ("content-length", "transfer-encoding", "content-type", "content-encoding")


def redirect_method(status_code: int, method: str) -> str:
    """The method of the follow-up request."""
    if status_code == 303 and method != "HEAD":
        return "GET"
    if status_code in (301, 302) and method == "POST":
        return "GET"
    return method


def redirect_url(request: Request, response: Response) -> URL:
    """The absolute URL the response points to (typed errors for bad ones)."""
    location = response.headers.get("location")
    if not location:
        raise RemoteProtocolError("redirect response has no Location header", request=request)
    if not location.isascii():
        raw = [value for name, value in response.headers.raw if name.lower() == b"location"]
        location = _encode_raw_location(b", ".join(raw), location)
    scheme = _SCHEME.match(location.strip())
    if scheme is not None and scheme.group(1).lower() not in ("http", "https"):
        raise UnsupportedProtocol(
            f"refusing to follow a redirect to scheme {scheme.group(1).lower()!r}",
            request=request,
        )
    try:
        url = request.url.join(location)
    except InvalidURL as exc:
        raise RemoteProtocolError(
            f"redirect to an invalid Location: {exc}", request=request
        ) from None
    if url.scheme not in ("http", "https"):
        raise UnsupportedProtocol(
            f"refusing to follow a redirect to scheme {url.scheme!r}", request=request
        )
    if not url.fragment and request.url.fragment:
        url = url.copy_with(fragment=request.url.fragment)
    return url


def _encode_raw_location(raw: bytes, location: str) -> str:
    """``location`` with its non-ASCII bytes percent-encoded as received (RFC 3986 §2.1).

    Header values are decoded as UTF-8 or, failing that, Latin-1; encoding the decoded text
    again would turn a Latin-1 byte into two UTF-8 ones. The raw bytes are used instead.
    """
    if raw.isascii():  # not from the wire: the text is all there is
        raw = location.encode("utf-8")
    return _NON_ASCII.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group()).encode("ascii"), raw
    ).decode("ascii")


def same_origin(a: URL, b: URL) -> bool:
    """Scheme, host and port all equal."""
    return a.origin == b.origin


def build_redirect_request(
    request: Request, response: Response, *, sensitive_headers: Iterable[str] = ()
) -> Request:
    """The request that follows ``response`` (a redirect) to ``request``.

    ``sensitive_headers``: header names (lower-case) dropped across origins in addition to
    :data:`SENSITIVE_ON_REDIRECT`.
    """
    url = redirect_url(request, response)
    method = redirect_method(response.status_code, request.method)
    headers = request.headers.copy()
    headers.pop("host", None)
    if not same_origin(url, request.url):
        for name in (*SENSITIVE_ON_REDIRECT, *sensitive_headers):
            headers.pop(name, None)
    stream = request.stream
    if method != request.method or method in ("GET", "HEAD"):
        for name in _BODY_HEADERS:
            headers.pop(name, None)
        stream = None
    elif stream is not None and not stream.replayable:
        raise StreamConsumed(
            f"cannot follow the {response.status_code} redirect: the request body is a "
            "one-shot stream that was already sent (pass bytes, or a list, to allow replay)",
            request=request,
        )
    extensions = dict(request.extensions)
    if not same_origin(url, request.url):
        extensions.pop(USER_COOKIE, None)
    return Request(method, url, headers=headers, stream=stream, extensions=extensions)
