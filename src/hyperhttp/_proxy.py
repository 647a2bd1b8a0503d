"""Proxy configuration: :class:`ProxyURL`, the forms ``proxies=`` accepts, and the choice of
proxy for each request URL.

``proxies=`` is a URL string or :class:`ProxyURL` (every request), or a mapping whose keys
are ``"http"``, ``"https"`` or ``"all"`` (also spelled ``"http://"``, ``"https://"``,
``"all://"``) and whose values are URL strings, :class:`ProxyURL` objects, or ``None`` ("no
proxy for these"). A scheme's own key wins over ``"all"``. When ``proxies`` is given it is
the whole configuration; otherwise, with ``trust_env``, the environment is read once, when
the transport is built (``_proxy_env.py``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Final, Union

from ._exceptions import InvalidURL
from ._protocol.proxy import MAX_SOCKS_CREDENTIAL
from ._proxy_env import NoProxy, environment_proxies
from ._urls import URL

__all__ = ["ProxiesTypes", "ProxyMap", "ProxyURL"]

PROXY_SCHEMES: Final = ("http", "https", "socks5", "socks5h")
# Ports when the proxy URL names none: the scheme's own for HTTP(S) (what urllib3, httpx
# and hyperhttp 2.x do), RFC 1928's 1080 for SOCKS.
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
_KEYS: Final = ("http", "https", "all")
_EXPLICIT_PORT: Final = re.compile(r":([0-9]{1,5})$")

ProxiesTypes = Union[None, str, "ProxyURL", URL, Mapping[str, Union[str, "ProxyURL", URL, None]]]


class ProxyURL:
    """One proxy: scheme (``http``, ``https``, ``socks5``, ``socks5h``), host, port and
    optional credentials.

    Build it from a URL, ``ProxyURL("http://user:pass@proxy:3128")``, or from parts,
    ``ProxyURL("http", "proxy", 3128, "user", "pass")`` (hyperhttp 2.x's signature).
    Percent-escapes in the URL's user name and password are decoded. ``https://`` means TLS
    to the proxy itself, verified like an origin. ``socks5h://`` lets the proxy resolve host
    names; ``socks5://`` resolves them locally. The password never appears in ``repr``,
    ``str`` or any error message.
    """

    __slots__ = ("host", "password", "port", "scheme", "username")

    def __init__(
        self,
        scheme: str,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        raw: str | None = None,
    ) -> None:
        # ``raw`` is accepted for hyperhttp 2.x compatibility and otherwise ignored: it may
        # hold the password, and this object never shows it.
        del raw
        if host is None:
            if port is not None or username is not None or password is not None:
                raise TypeError("ProxyURL(url) takes a URL, or scheme and host and port")
            scheme, host, port, username, password = _parse(scheme)
        scheme = scheme.lower()
        _check_scheme(scheme, scheme)
        checked = _validated_host(scheme, host)
        if port is None:
            port = _DEFAULT_PORTS[scheme]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidURL("proxy port must be an int in 1..65535")
        if scheme.startswith("socks") and username and not _fits_socks(username, password):
            raise InvalidURL("SOCKS5 user name and password must be 1-255 bytes each")
        self.scheme: str = scheme
        self.host: str = checked
        self.port: int = port
        self.username: str | None = username or None
        self.password: str | None = password if username else None

    @property
    def authority(self) -> str:
        """``host:port`` (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_secure(self) -> bool:
        """True for ``https://`` proxies (TLS to the proxy)."""
        return self.scheme == "https"

    @property
    def is_socks(self) -> bool:
        """True for ``socks5://`` and ``socks5h://`` proxies."""
        return self.scheme.startswith("socks")

    @property
    def has_auth(self) -> bool:
        """True if the proxy URL carries a user name."""
        return self.username is not None

    def basic_auth_header(self) -> str | None:
        """The ``Proxy-Authorization`` value (``Basic ...``), or None without credentials."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def pool_key(self) -> str:
        """A stable identifier for pooling: connections through proxies with different
        credentials are never shared. The credentials appear only as a digest."""
        key = f"{self.scheme}://{self.authority}"
        if self.username is None:
            return key
        digest = hashlib.sha256(f"{self.username}\0{self.password or ''}".encode()).hexdigest()
        return f"{key}#{digest[:32]}"

    def _identity(self) -> tuple[str, str, int, str | None, str | None]:
        return (self.scheme, self.host, self.port, self.username, self.password)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ProxyURL):
            return self._identity() == other._identity()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._identity())

    def __str__(self) -> str:
        if self.username is None:
            userinfo = ""
        elif self.password is None:
            userinfo = "[user]@"
        else:
            userinfo = "[user]:[secure]@"
        return f"{self.scheme}://{userinfo}{self.authority}"

    def __repr__(self) -> str:
        return f"ProxyURL({str(self)!r})"


def _fits_socks(username: str, password: str | None) -> bool:
    """RFC 1929 sends the user name and the password each with a one-byte length."""
    limit = MAX_SOCKS_CREDENTIAL
    return len(username.encode()) <= limit and len((password or "").encode()) <= limit


def _check_scheme(scheme: str, shown: str) -> None:
    if scheme in PROXY_SCHEMES:
        return
    if scheme.startswith("socks"):
        raise InvalidURL(f"unsupported proxy scheme {shown!r}: only socks5:// and socks5h://")
    raise InvalidURL(
        f"unsupported proxy scheme {shown!r}: use http://, https://, socks5:// or socks5h://"
    )


def _validated_host(scheme: str, host: object) -> str:
    if not isinstance(host, str) or not host:
        raise InvalidURL("proxy host must be a non-empty str")
    try:
        url = URL("http://placeholder").copy_with(host=host)
    except InvalidURL:
        raise InvalidURL(f"invalid {scheme} proxy host") from None
    return url.host


def _parse(text: object) -> tuple[str, str, int | None, str | None, str | None]:
    """Split a proxy URL. Errors never quote it: it may hold a password."""
    if isinstance(text, URL):
        text = str(text)
    if not isinstance(text, str) or not text:
        raise InvalidURL("a proxy URL must be a non-empty str")
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise InvalidURL("a proxy URL needs a scheme, e.g. http://proxy:3128")
    scheme = scheme.lower()
    _check_scheme(scheme, scheme)
    try:
        # The URL parser validates the authority (IDNA, IPv6, ports, escapes); it knows
        # only http(s), so SOCKS URLs borrow http:// for the parse.
        url = URL(("https://" if scheme == "https" else "http://") + rest)
    except InvalidURL:
        raise InvalidURL(f"invalid {scheme} proxy URL") from None
    if url.path not in ("", "/") or url.query or url.fragment:
        raise InvalidURL("a proxy URL must not have a path, query or fragment")
    username = url.username if url.userinfo else None
    password = url.password if url.userinfo and ":" in url.userinfo else None
    port = url.port
    if port is None and scheme.startswith("socks"):
        # The borrowed http:// drops an explicit ":80" as its default; SOCKS's is 1080.
        authority = rest.partition("/")[0].rpartition("@")[2]
        explicit = _EXPLICIT_PORT.search(authority)
        port = int(explicit.group(1)) if explicit else None
    return scheme, url.host, port, username, password


def proxy_url(value: object) -> ProxyURL:
    """A :class:`ProxyURL` from a string, URL or ProxyURL."""
    if isinstance(value, ProxyURL):
        return value
    if isinstance(value, (str, URL)):
        return ProxyURL(value if isinstance(value, str) else str(value))
    raise TypeError(f"a proxy must be a URL str or a ProxyURL, not {type(value).__name__}")


class ProxyMap:
    """Which proxy (if any) carries a request: per-scheme proxies plus NO_PROXY rules."""

    __slots__ = ("_by_scheme", "_no_proxy")

    def __init__(self, by_scheme: dict[str, ProxyURL | None], no_proxy: NoProxy | None) -> None:
        self._by_scheme = by_scheme
        self._no_proxy = no_proxy

    @classmethod
    def build(cls, proxies: ProxiesTypes, trust_env: bool) -> ProxyMap | None:
        """The configuration, or ``None`` when every request goes direct."""
        if proxies is not None:
            by_scheme = _normalize(proxies)
            no_proxy = None
        elif trust_env:
            found, no_proxy_text = environment_proxies()
            by_scheme = {key: proxy_url(value) for key, value in found.items()}
            no_proxy = NoProxy(no_proxy_text) if no_proxy_text else None
        else:
            return None
        resolved: dict[str, ProxyURL | None] = {}
        for scheme in ("http", "https"):
            resolved[scheme] = by_scheme[scheme] if scheme in by_scheme else by_scheme.get("all")
        if not any(resolved.values()):
            return None
        return cls(resolved, no_proxy)

    def for_url(self, url: URL) -> ProxyURL | None:
        """The proxy for ``url``, or None to connect directly."""
        proxy = self._by_scheme.get(url.scheme)
        if proxy is None:
            return None
        no_proxy = self._no_proxy
        if no_proxy is not None and no_proxy.matches(url):
            return None
        return proxy

    def __repr__(self) -> str:
        return f"ProxyMap({self._by_scheme!r}, no_proxy={self._no_proxy!r})"


def _normalize(proxies: ProxiesTypes) -> dict[str, ProxyURL | None]:
    if isinstance(proxies, (str, ProxyURL, URL)):
        return {"all": proxy_url(proxies)}
    if not isinstance(proxies, Mapping):
        raise TypeError(
            "proxies must be a URL str, a ProxyURL, or a mapping of "
            f'"http"/"https"/"all" to those; not {type(proxies).__name__}'
        )
    out: dict[str, ProxyURL | None] = {}
    for key, value in proxies.items():
        name = key.lower() if isinstance(key, str) else key
        if isinstance(name, str) and name.endswith("://"):
            name = name[:-3]
        if name not in _KEYS:
            raise InvalidURL(
                f'proxies keys must be "http", "https" or "all" (or "http://" ...), not {key!r}'
            )
        if name in out:
            raise ValueError(f"proxies gives {name!r} twice")
        out[name] = None if value is None else proxy_url(value)
    return out
