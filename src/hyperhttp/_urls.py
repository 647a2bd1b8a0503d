"""URL parsing, normalisation and reference resolution (RFC 3986), and query-string encoding.

Design notes
------------
* A :class:`URL` is immutable. Every instance holds one tuple of already-normalised parts
  (scheme, userinfo, host, port, path, query, fragment) plus the derived strings the client
  needs per request (the full string, the request-target, the Host value). Parsing a ``str``
  goes through a bounded LRU memo (:data:`PARSE_CACHE_SIZE` entries, only for strings up to
  :data:`CACHEABLE_URL_LENGTH` characters), so the client can call ``URL(text)`` per request.
* Only ``http`` and ``https`` absolute URLs are accepted, but relative references
  (``"/path?x=1"``, ``"../x"``, ``"//host/x"``, ``"?q"``, ``"#f"``) parse too, for
  :meth:`URL.join`. :attr:`URL.is_absolute` tells which one you have.
* Invalid input raises :class:`~hyperhttp.InvalidURL` (a ``ValueError``). No other exception
  type escapes (no ``UnicodeError``, no ``idna.IDNAError``). Messages never contain the
  userinfo.

Normalisation rules (what ``str(URL(text))`` gives):

* the scheme and the host are lower-cased; non-ASCII host labels become IDNA A-labels
  (UTS-46 mapping, IDNA 2008); one trailing dot of the host is removed (``example.com.`` and
  ``example.com`` are the same host for DNS, TLS, Host and pool keys);
* IPv6 literals are validated and stored compressed, without brackets in :attr:`URL.host`;
  zone identifiers (``[fe80::1%25eth0]``) are rejected. A host whose last label is numeric
  must be a strict dotted-quad IPv4 address (``127.1`` or ``0x7f.1`` are rejected instead of
  being guessed at, as ``inet_aton`` would);
* a port equal to the scheme's default (80 for http, 443 for https) is dropped; an empty
  port (``http://host:/``) is treated as absent;
* in the userinfo, path, query and fragment, characters that RFC 3986 does not allow there
  (space, non-ASCII as UTF-8, ``"<>[]\\^`{|}``, a ``%`` not followed by two hex digits, ...)
  are percent-encoded; valid ``%XX`` escapes are kept exactly as given (never ``%2520``);
* dot segments (``.``/``..``) are removed from the path of absolute and network-path URLs;
  an empty path becomes ``/`` when there is a host;
* leading and trailing spaces of the input are ignored; any C0 control character or DEL
  anywhere is an error (never encoded, never stripped).

Query strings built from ``params`` use ``%20`` for a space (like ``urllib.parse.quote``),
and percent-encode everything but the RFC 3986 unreserved characters, so ``&``, ``=``, ``+``
and ``#`` inside keys and values are always escaped.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

import idna

from ._exceptions import InvalidURL

__all__ = [
    "CACHEABLE_URL_LENGTH",
    "MAX_HOST_LENGTH",
    "MAX_LABEL_LENGTH",
    "MAX_URL_LENGTH",
    "PARSE_CACHE_SIZE",
    "URL",
    "QueryParamTypes",
    "encode_query",
]

#: Longest URL accepted, in characters (the input, before any percent-encoding).
MAX_URL_LENGTH = 65536
#: Longest host name, in octets of its ASCII (A-label) form, without a trailing dot (RFC 1035).
#: Checked on the input *before* IDNA runs (CVE-2024-3651: idna was slow on huge inputs).
MAX_HOST_LENGTH = 253
#: Longest DNS label, in octets.
MAX_LABEL_LENGTH = 63
#: Entries kept in each of the parse and join memos.
PARSE_CACHE_SIZE = 1024
#: Only strings up to this length are memoised (bounds the memo's memory).
CACHEABLE_URL_LENGTH = 2048

_DEFAULT_PORTS = {"http": 80, "https": 443}

PrimitiveData = str | int | float | bool | None
QueryValue = PrimitiveData | Sequence[PrimitiveData]
#: What ``params=`` accepts: an encoded query string (``str`` or ASCII ``bytes``), a mapping
#: of names to a value or a sequence of values, or a sequence of ``(name, value)`` pairs.
QueryParamTypes = str | bytes | Mapping[str, QueryValue] | Sequence[tuple[str, QueryValue]] | None

# RFC 3986 appendix B, with the scheme restricted to its section 3.1 grammar.
_SPLIT_RE = re.compile(
    r"(?:([A-Za-z][A-Za-z0-9+.\-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?",
    re.DOTALL,
)
_SCHEME_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_BAD_ESCAPE = r"|%(?![0-9A-Fa-f]{2})"
# Characters to percent-encode in each component: anything outside the component's grammar,
# and a "%" that does not start a valid escape.
_USERINFO_ENCODE_RE = re.compile(rf"[^{_UNRESERVED}{_SUB_DELIMS}:%]{_BAD_ESCAPE}")
_PATH_ENCODE_RE = re.compile(rf"[^{_UNRESERVED}{_SUB_DELIMS}:@/%]{_BAD_ESCAPE}")
_QUERY_ENCODE_RE = re.compile(rf"[^{_UNRESERVED}{_SUB_DELIMS}:@/?%]{_BAD_ESCAPE}")
# ASCII characters allowed in a registered name (RFC 3986 reg-name minus pct-encoded).
_HOST_BAD_ASCII_RE = re.compile(rf"[\x00-\x7f](?<![{_UNRESERVED}{_SUB_DELIMS}])")
_NUMERIC_LABEL_RE = re.compile(r"(?:[0-9]+|0[xX][0-9A-Fa-f]*)")

# The parts tuple: (scheme, userinfo, host, port, path, query, fragment,
#                   string, request-target, netloc). None means "absent" for the optional ones.
_Parts = tuple[str, str | None, str, int | None, str, str | None, str | None, str, str, str]


def _clip(text: str, limit: int = 60) -> str:
    """A short form of ``text`` for error messages (never the userinfo)."""
    return text if len(text) <= limit else text[:limit] + "..."


def _quote_match(match: re.Match[str]) -> str:
    return "".join([f"%{byte:02X}" for byte in match.group().encode("utf-8")])


def _encode(pattern: re.Pattern[str], text: str) -> str:
    """Percent-encode what ``pattern`` matches in ``text`` (UTF-8). Raises UnicodeError."""
    if pattern.search(text) is None:
        return text
    return pattern.sub(_quote_match, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, for a path that starts with "/" (or a relative one)."""
    if "/." not in path and not path.startswith("."):
        return path
    segments = path.split("/")
    output: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if output and output != [""]:
                output.pop()
            continue
        output.append(segment)
    if segments[-1] in (".", ".."):
        output.append("")
    return "/".join(output)


def _parse_scheme(scheme: str) -> str:
    lowered = scheme.lower()
    if lowered not in _DEFAULT_PORTS:
        raise InvalidURL(
            f"Unsupported URL scheme {_clip(scheme)!r}: only 'http' and 'https' are supported"
        )
    return lowered


def _parse_port(text: str) -> int | None:
    if text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 5:
        raise InvalidURL(f"Invalid port {_clip(text, 20)!r}: must be a number from 0 to 65535")
    port = int(text)
    if port > 65535:
        raise InvalidURL(f"Invalid port {_clip(text, 20)!r}: must be a number from 0 to 65535")
    return port


def _parse_ipv6(text: str) -> str:
    if "%" in text:
        raise InvalidURL(
            f"Invalid IPv6 literal [{_clip(text)}]: zone identifiers are not supported"
        )
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        raise InvalidURL(f"Invalid IPv6 literal [{_clip(text)}]") from None


def _check_ascii_host(host: str, original: str) -> str:
    """Validate a lower-case ASCII host name (labels, lengths, IPv4, A-labels)."""
    bad = _HOST_BAD_ASCII_RE.search(host)
    if bad is not None:
        if bad.group() == "%":
            raise InvalidURL(f"Invalid host {_clip(original)!r}: percent-escapes are not allowed")
        raise InvalidURL(
            f"Invalid host {_clip(original)!r}: character {bad.group()!r} is not allowed"
        )
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InvalidURL("Invalid URL: empty host")
    if len(host) > MAX_HOST_LENGTH:
        raise InvalidURL(f"Invalid host: longer than {MAX_HOST_LENGTH} characters")
    labels = host.split(".")
    for label in labels:
        if not label:
            raise InvalidURL(f"Invalid host {_clip(original)!r}: empty label")
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidURL(
                f"Invalid host {_clip(original)!r}: label longer than {MAX_LABEL_LENGTH} octets"
            )
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (UnicodeError, ValueError):
                raise InvalidURL(
                    f"Invalid host {_clip(original)!r}: invalid IDNA label {_clip(label)!r}"
                ) from None
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise InvalidURL(f"Invalid IPv4 address {_clip(original)!r}") from None
    return host


def _parse_host(text: str) -> str:
    """Normalise a host as it appears in an authority (IPv6 in brackets)."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise InvalidURL(f"Invalid IPv6 literal {_clip(text)!r}")
        return _parse_ipv6(text[1:-1])
    if text.isascii():
        return _check_ascii_host(text.lower(), text)
    if len(text) > MAX_HOST_LENGTH:
        # Before idna sees it (CVE-2024-3651).
        raise InvalidURL(f"Invalid host: longer than {MAX_HOST_LENGTH} characters")
    bad = _HOST_BAD_ASCII_RE.search(text)
    if bad is not None:
        _check_ascii_host(bad.group(), text)  # raises with the precise message
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        labels = []
        for label in mapped.split("."):
            if label.isascii():
                labels.append(label.lower())
            else:
                labels.append(idna.alabel(label).decode("ascii"))
    except (UnicodeError, ValueError):
        raise InvalidURL(f"Invalid international host name {_clip(text)!r}") from None
    return _check_ascii_host(".".join(labels), text)


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _assemble(
    scheme: str,
    userinfo: str | None,
    host: str,
    port: int | None,
    path: str,
    query: str | None,
    fragment: str | None,
) -> _Parts:
    """Check the parts fit together and derive the strings. The parts are normalised."""
    if host:
        if port is not None and _DEFAULT_PORTS.get(scheme) == port:
            port = None
        if path == "":
            path = "/"
        elif path[0] != "/":
            raise InvalidURL("Invalid URL: a path after a host must start with '/'")
        netloc = f"{_format_host(host)}:{port}" if port is not None else _format_host(host)
        authority = f"{userinfo}@{netloc}" if userinfo is not None else netloc
        string = f"{scheme}://{authority}{path}" if scheme else f"//{authority}{path}"
    else:
        if scheme:
            raise InvalidURL(f"Invalid URL: a {scheme!r} URL needs a host")
        if userinfo is not None or port is not None:
            raise InvalidURL("Invalid URL: userinfo or port without a host")
        if path.startswith("//"):
            # Would read back as an authority (RFC 3986 section 5.3).
            path = "/." + path
        elif _SCHEME_PREFIX_RE.match(path):
            # A first segment with a colon would read back as a scheme (section 4.2).
            path = "./" + path
        netloc = ""
        string = path
    target = path or "/"
    if query is not None:
        string = f"{string}?{query}"
        if query:
            target = f"{target}?{query}"
    if fragment is not None:
        string = f"{string}#{fragment}"
    return (scheme, userinfo, host, port, path, query, fragment, string, target, netloc)


def _parse_uncached(text: str) -> _Parts:
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(f"Invalid URL: longer than {MAX_URL_LENGTH} characters")
    bad = _CONTROL_RE.search(text)
    if bad is not None:
        raise InvalidURL(
            f"Invalid URL: control character {bad.group()!r} at position {bad.start()}"
        )
    text = text.strip(" ")
    match = _SPLIT_RE.fullmatch(text)
    assert match is not None  # every group is optional: the pattern matches any string
    raw_scheme, authority, path, query, fragment = match.groups()
    scheme = _parse_scheme(raw_scheme) if raw_scheme is not None else ""
    userinfo: str | None = None
    host = ""
    port: int | None = None
    try:
        if authority is not None:
            if "\\" in authority:
                # WHATWG parsers read "\\" as "/" there, so they would see another host.
                raise InvalidURL("Invalid URL: backslash in the authority")
            raw_userinfo, at, hostport = authority.rpartition("@")
            if at and raw_userinfo:
                userinfo = _encode(_USERINFO_ENCODE_RE, raw_userinfo)
            if hostport.startswith("["):
                end = hostport.find("]")
                if end == -1:
                    raise InvalidURL(f"Invalid IPv6 literal {_clip(hostport)!r}")
                rest = hostport[end + 1 :]
                if rest and rest[0] != ":":
                    raise InvalidURL(f"Invalid URL: unexpected text after {hostport[: end + 1]}")
                host = _parse_ipv6(hostport[1:end])
                port = _parse_port(rest[1:])
            else:
                host_text, colon, port_text = hostport.partition(":")
                if host_text == "":
                    raise InvalidURL("Invalid URL: empty host")
                host = _parse_host(host_text)
                if colon:
                    port = _parse_port(port_text)
        elif scheme:
            raise InvalidURL(f"Invalid URL: a {scheme!r} URL needs a host (like {scheme}://host/)")
        path = _encode(_PATH_ENCODE_RE, path)
        if scheme or authority is not None:
            path = _remove_dot_segments(path)
        if query is not None:
            query = _encode(_QUERY_ENCODE_RE, query)
        if fragment is not None:
            fragment = _encode(_QUERY_ENCODE_RE, fragment)
    except UnicodeError:
        # Lone surrogates cannot be encoded as UTF-8.
        raise InvalidURL("Invalid URL: contains characters that cannot be encoded") from None
    return _assemble(scheme, userinfo, host, port, path, query, fragment)


_parse_cached = functools.lru_cache(maxsize=PARSE_CACHE_SIZE)(_parse_uncached)


def _parse(text: str) -> _Parts:
    if len(text) <= CACHEABLE_URL_LENGTH:
        return _parse_cached(text)
    return _parse_uncached(text)


def _resolve(base: _Parts, reference: str) -> _Parts:
    """RFC 3986 section 5.2.2 (with the section 5.4.2 "http:g" backward-compatible reading)."""
    prefix = _SCHEME_PREFIX_RE.match(reference)
    if (
        prefix is not None
        and base[0]
        and prefix.group()[:-1].lower() == base[0]
        and not reference.startswith("//", prefix.end())
    ):
        reference = reference[prefix.end() :]
    ref = _parse(reference)
    r_scheme, r_userinfo, r_host, r_port, r_path, r_query, r_fragment = ref[:7]
    if r_scheme:
        return ref
    b_scheme, b_userinfo, b_host, b_port, b_path, b_query, _ = base[:7]
    if r_host:
        return _assemble(b_scheme, r_userinfo, r_host, r_port, r_path, r_query, r_fragment)
    if r_path == "":
        path = b_path
        query = b_query if r_query is None else r_query
    else:
        if r_path.startswith("/"):
            path = r_path
        elif b_host and b_path == "":
            path = "/" + r_path
        else:
            path = b_path[: b_path.rfind("/") + 1] + r_path
        path = _remove_dot_segments(path)
        query = r_query
    return _assemble(b_scheme, b_userinfo, b_host, b_port, path, query, r_fragment)


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _resolve_cached(base: _Parts, reference: str) -> _Parts:
    return _resolve(base, reference)


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise TypeError(
        f"Invalid type for a query parameter value: {type(value).__name__} "
        "(expected str, int, float, bool or None)"
    )


def _quote_param(text: str) -> str:
    try:
        return quote(text, safe="")
    except UnicodeError:
        raise InvalidURL("Invalid query parameter: cannot be encoded as UTF-8") from None


def _iter_params(params: Mapping[str, Any] | Sequence[Any]) -> Iterator[tuple[Any, Any]]:
    if isinstance(params, Mapping):
        yield from params.items()
        return
    for item in params:
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2:
            raise TypeError("Query parameters given as a sequence must be (name, value) pairs")
        yield item[0], item[1]


def encode_query(params: QueryParamTypes) -> str:
    """Encode query parameters as a query string (without the leading ``?``).

    * ``None`` gives ``""``;
    * a ``str`` is taken as an already-encoded query: only characters invalid in a query are
      percent-encoded (``&``, ``=``, ``+`` and valid ``%XX`` escapes are kept);
    * ``bytes`` must be ASCII and are treated like a ``str``;
    * a mapping or a sequence of ``(name, value)`` pairs: names and values are encoded with
      only RFC 3986 unreserved characters left as they are (a space becomes ``%20``). Values
      may be ``str``, ``int``, ``float``, ``bool`` (``true``/``false``) or ``None`` (empty),
      or a list/tuple of those, which repeats the name (``{"a": [1, 2]}`` -> ``a=1&a=2``).
      Anything else raises ``TypeError``.
    """
    if params is None:
        return ""
    if isinstance(params, bytes):
        try:
            params = params.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidURL("Invalid query string: bytes must be ASCII") from None
    if isinstance(params, str):
        bad = _CONTROL_RE.search(params)
        if bad is not None:
            raise InvalidURL(f"Invalid query string: control character {bad.group()!r}")
        try:
            return _encode(_QUERY_ENCODE_RE, params.replace("#", "%23"))
        except UnicodeError:
            raise InvalidURL("Invalid query string: cannot be encoded as UTF-8") from None
    if not isinstance(params, (Mapping, Sequence)):
        raise TypeError(f"Invalid type for query parameters: {type(params).__name__}")
    pieces: list[str] = []
    for key, value in _iter_params(params):
        if not isinstance(key, str):
            raise TypeError(
                f"Invalid type for a query parameter name: {type(key).__name__} (expected str)"
            )
        name = _quote_param(key)
        if isinstance(value, (list, tuple)):
            for item in value:
                pieces.append(f"{name}={_quote_param(_stringify(item))}")
        else:
            pieces.append(f"{name}={_quote_param(_stringify(value))}")
    return "&".join(pieces)


def _parse_query(query: str) -> list[tuple[str, str]]:
    """Decode ``a=1&b=&c`` into pairs (``+`` is read as a space, blank values kept)."""
    pairs: list[tuple[str, str]] = []
    for field in query.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


_COPY_KEYS = frozenset(
    {"scheme", "username", "password", "host", "port", "path", "query", "fragment", "params"}
)


class URL:
    """An immutable, normalised http(s) URL or relative reference.

    ``URL("https://user:pw@Example.COM:443/a b?x=1#top")`` parses and normalises the text
    (see the module notes); ``params=`` appends encoded query parameters to the query the text
    already has. Invalid input raises :class:`~hyperhttp.InvalidURL`.

    ``str(url)`` is the full normalised URL (userinfo included); ``repr(url)`` and
    :attr:`redacted` show ``[secure]`` instead of a password.
    """

    __slots__ = ("_parts",)

    _parts: _Parts

    def __init__(self, url: str | URL = "", *, params: QueryParamTypes = None) -> None:
        if isinstance(url, str):
            parts = _parse(url)
        elif isinstance(url, URL):
            parts = url._parts
        else:
            raise TypeError(f"URL() expects a str or a URL, not {type(url).__name__}")
        if params is not None:
            extra = encode_query(params)
            if extra:
                scheme, userinfo, host, port, path, query, fragment = parts[:7]
                query = f"{query}&{extra}" if query else extra
                parts = _assemble(scheme, userinfo, host, port, path, query, fragment)
        self._parts = parts

    @classmethod
    def _from_parts(cls, parts: _Parts) -> URL:
        url = cls.__new__(cls)
        url._parts = parts
        return url

    # -- components ---------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """``"http"``, ``"https"``, or ``""`` for a relative reference."""
        return self._parts[0]

    @property
    def userinfo(self) -> str:
        """The raw (still percent-encoded) ``user:password``, or ``""``."""
        return self._parts[1] or ""

    @property
    def username(self) -> str:
        """The decoded user name, or ``""``."""
        userinfo = self._parts[1]
        return unquote(userinfo.partition(":")[0]) if userinfo else ""

    @property
    def password(self) -> str:
        """The decoded password, or ``""``."""
        userinfo = self._parts[1]
        return unquote(userinfo.partition(":")[2]) if userinfo else ""

    @property
    def host(self) -> str:
        """Lower-case host: IDNA A-labels, IPv6 without brackets, no trailing dot."""
        return self._parts[2]

    @property
    def port(self) -> int | None:
        """The explicit port, or ``None`` when absent or the scheme's default."""
        return self._parts[3]

    @property
    def port_or_default(self) -> int | None:
        """The port, with 80/443 filled in for http/https; ``None`` for a relative URL."""
        port = self._parts[3]
        if port is None:
            return _DEFAULT_PORTS.get(self._parts[0])
        return port

    @property
    def path(self) -> str:
        """The percent-encoded path (``"/"`` at least when there is a host)."""
        return self._parts[4]

    @property
    def query(self) -> str:
        """The percent-encoded query without ``?`` (``""`` if none)."""
        return self._parts[5] or ""

    @property
    def fragment(self) -> str:
        """The percent-encoded fragment without ``#`` (``""`` if none)."""
        return self._parts[6] or ""

    @property
    def raw_path(self) -> bytes:
        """The request-target: path, plus ``?query`` when the query is non-empty (ASCII)."""
        return self._parts[8].encode("ascii")

    @property
    def target(self) -> str:
        """:attr:`raw_path` as a ``str``."""
        return self._parts[8]

    @property
    def netloc(self) -> str:
        """Host (bracketed if IPv6) plus ``:port`` when not the default: the Host header."""
        return self._parts[9]

    @property
    def origin(self) -> tuple[str, str, int]:
        """``(scheme, host, port_or_default)``; ``InvalidURL`` for a relative URL."""
        scheme, host, port = self._parts[0], self._parts[2], self._parts[3]
        if not scheme:
            raise InvalidURL("A relative URL has no origin")
        return (scheme, host, _DEFAULT_PORTS[scheme] if port is None else port)

    @property
    def is_absolute(self) -> bool:
        """True for an ``http(s)://host/...`` URL, False for a relative reference."""
        return bool(self._parts[0])

    @property
    def is_relative(self) -> bool:
        """``not is_absolute``."""
        return not self._parts[0]

    @property
    def params(self) -> list[tuple[str, str]]:
        """The query decoded into ``(name, value)`` pairs, in order, blank values kept."""
        query = self._parts[5]
        return _parse_query(query) if query else []

    @property
    def redacted(self) -> str:
        """``str(self)`` with the password replaced by ``[secure]``."""
        userinfo = self._parts[1]
        if userinfo is None or ":" not in userinfo:
            return self._parts[7]
        user = userinfo.partition(":")[0]
        scheme, _, host, port, path, query, fragment = self._parts[:7]
        return _assemble(scheme, f"{user}:[secure]", host, port, path, query, fragment)[7]

    # -- derived URLs --------------------------------------------------------------------

    def join(self, url: str | URL) -> URL:
        """Resolve ``url`` against this URL (RFC 3986 section 5: ``..``, ``?q``, ``//h``...)."""
        reference = url if isinstance(url, str) else str(url)
        if len(reference) <= CACHEABLE_URL_LENGTH:
            return URL._from_parts(_resolve_cached(self._parts, reference))
        return URL._from_parts(_resolve(self._parts, reference))

    def copy_with(self, **changes: Any) -> URL:
        """A copy with some components replaced, validated like a parsed URL.

        Keys: ``scheme``, ``username``, ``password`` (decoded text), ``host`` (may be
        Unicode or an IPv6 address, with or without brackets), ``port`` (int or None),
        ``path``, ``query`` (encoded text; ``?`` and ``#`` in a path and ``#`` in a query are
        escaped), ``fragment``, ``params`` (replaces the query).
        """
        unknown = set(changes) - _COPY_KEYS
        if unknown:
            raise TypeError(f"copy_with() got unexpected keyword(s): {', '.join(sorted(unknown))}")
        if "params" in changes and "query" in changes:
            raise TypeError("copy_with() takes 'params' or 'query', not both")
        scheme, userinfo, host, port, path, query, fragment = self._parts[:7]
        try:
            if "scheme" in changes:
                value = _require_str("scheme", changes["scheme"])
                scheme = _parse_scheme(value) if value else ""
            if "username" in changes or "password" in changes:
                username = _require_str("username", changes.get("username", self.username))
                password = _require_str("password", changes.get("password", self.password))
                _reject_controls("username", username)
                _reject_controls("password", password)
                userinfo = quote(username, safe="!$&'()*+,;=") if username else ""
                if password:
                    userinfo += ":" + quote(password, safe="!$&'()*+,;=")
                userinfo = userinfo or None
            if "host" in changes:
                value = _require_str("host", changes["host"])
                if value and _CONTROL_RE.search(value):
                    raise InvalidURL("Invalid host: contains a control character")
                if ":" in value and not value.startswith("["):
                    value = f"[{value}]"
                host = _parse_host(value) if value else ""
            if "port" in changes:
                value = changes["port"]
                if value is not None and (type(value) is not int or not 0 <= value <= 65535):
                    raise InvalidURL(f"Invalid port {value!r}: must be an int from 0 to 65535")
                port = value
            if "path" in changes:
                value = _require_str("path", changes["path"])
                _reject_controls("path", value)
                path = _encode(_PATH_ENCODE_RE, value.replace("?", "%3F").replace("#", "%23"))
            if "query" in changes:
                value = _require_str("query", changes["query"])
                query = encode_query(value) if value else None
            if "params" in changes:
                query = encode_query(changes["params"]) or None
            if "fragment" in changes:
                value = _require_str("fragment", changes["fragment"])
                _reject_controls("fragment", value)
                fragment = _encode(_QUERY_ENCODE_RE, value) if value else None
        except UnicodeError:
            raise InvalidURL("Invalid URL component: cannot be encoded as UTF-8") from None
        if scheme or host:
            path = _remove_dot_segments(path)
        return URL._from_parts(_assemble(scheme, userinfo, host, port, path, query, fragment))

    def with_query(self, params: QueryParamTypes) -> URL:
        """A copy whose query is ``params`` (encoded), replacing the current one."""
        return self.copy_with(params=params)

    def copy_merge_params(self, params: QueryParamTypes) -> URL:
        """A copy with ``params`` appended to the current query."""
        return URL(self, params=params)

    # -- dunder --------------------------------------------------------------------------

    def __str__(self) -> str:
        return self._parts[7]

    def __repr__(self) -> str:
        return f"URL({self.redacted!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL):
            return self._parts[7] == other._parts[7]
        if isinstance(other, str):
            try:
                return self._parts[7] == _parse(other)[7]
            except InvalidURL:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._parts[7])

    def __reduce__(self) -> tuple[type[URL], tuple[str]]:
        return (URL, (self._parts[7],))

    def __copy__(self) -> URL:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> URL:
        return self


def _require_str(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"copy_with({name}=...) expects a str, not {type(value).__name__}")
    return value


def _reject_controls(name: str, value: str) -> None:
    bad = _CONTROL_RE.search(value)
    if bad is not None:
        raise InvalidURL(f"Invalid {name}: control character {bad.group()!r}")
