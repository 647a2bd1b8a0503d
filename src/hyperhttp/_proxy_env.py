"""Proxies from the environment: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``.

* Each variable is read in lower and upper case; a non-empty lowercase one wins (curl,
  requests and httpx agree).
* ``HTTP_PROXY`` in upper case is ignored when ``REQUEST_METHOD`` is set: in a CGI script
  the client's ``Proxy:`` request header arrives as that very variable ("httpoxy",
  CVE-2016-5385/CVE-2016-1000110).
* ``NO_PROXY`` is a comma- (or space-) separated list. Each entry is ``*`` (no proxy at all),
  a domain (``example.com``, ``.example.com`` or ``*.example.com``: that domain and its
  subdomains, on label boundaries, so ``example.com`` never matches ``notexample.com``), an
  IP address (``10.1.2.3``, ``::1``, ``[::1]``), a CIDR block (``10.0.0.0/8``), any of
  those with ``:port``, or a URL (``http://example.com:8080``: also its scheme). Matching is
  case-insensitive; IP entries match IP-literal hosts only (no DNS lookup is made).
  Entries that are none of these are ignored, as curl does.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Final

from ._exceptions import InvalidURL
from ._urls import URL

__all__ = ["NoProxy", "environment_proxies"]

_SEPARATORS: Final = re.compile(r"[,\s]+")
_PORT_SUFFIX: Final = re.compile(r"^(.*):([0-9]{1,5})$")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _read(environ: Mapping[str, str], name: str) -> str | None:
    lower = environ.get(name.lower())
    if lower and lower.strip():
        return lower.strip()
    if name == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
        return None  # httpoxy: in CGI this variable is attacker-controlled
    upper = environ.get(name)
    if upper and upper.strip():
        return upper.strip()
    return None


def environment_proxies(
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], str | None]:
    """``({"http"|"https"|"all": url}, no_proxy)`` from the environment."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for key in ("http", "https", "all"):
        value = _read(env, f"{key.upper()}_PROXY")
        if value is not None:
            if "://" not in value:
                # curl and requests take "proxy:3128" as an http:// proxy.
                value = "http://" + value
            found[key] = value
    return found, _read(env, "NO_PROXY")


class _Entry:
    __slots__ = ("domain", "network", "port", "scheme")

    def __init__(
        self,
        scheme: str | None,
        port: int | None,
        domain: str | None = None,
        network: IPNetwork | None = None,
    ) -> None:
        self.scheme = scheme
        self.port = port
        self.domain = domain
        self.network = network


class NoProxy:
    """Parsed ``NO_PROXY`` rules; :meth:`matches` says whether a URL bypasses the proxy."""

    __slots__ = ("_entries", "_everything", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._everything = False
        self._entries: list[_Entry] = []
        for raw in _SEPARATORS.split(text.strip()):
            if raw == "*":
                self._everything = True
            elif raw:
                entry = _parse_entry(raw)
                if entry is not None:
                    self._entries.append(entry)

    def matches(self, url: URL) -> bool:
        """True if requests to ``url`` go direct."""
        if self._everything:
            return True
        host = url.host
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
                host.partition("%")[0]
            )
        except ValueError:
            address = None
        port = url.port_or_default
        for entry in self._entries:
            if entry.scheme is not None and entry.scheme != url.scheme:
                continue
            if entry.port is not None and entry.port != port:
                continue
            network = entry.network
            if network is not None:
                if address is not None and _in_network(address, network):
                    return True
            elif entry.domain is not None and address is None:
                domain = entry.domain
                if host == domain or host.endswith("." + domain):
                    return True
        return False

    def __repr__(self) -> str:
        return f"NoProxy({self._text!r})"


def _parse_entry(raw: str) -> _Entry | None:
    text = raw.lower()
    scheme = None
    if "://" in text:
        scheme, _, text = text.partition("://")
        text = text.partition("/")[0].rpartition("@")[2]
        if scheme not in ("http", "https"):
            return None
    port = None
    if text.startswith("["):
        inner, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        if rest:
            port = _port(rest[1:])
            if port is None:
                return None
        text = inner
    elif text.count(":") == 1:
        match = _PORT_SUFFIX.match(text)
        if match is None:
            return None
        text, port = match.group(1), _port(match.group(2))
        if port is None:
            return None
    network = _network(text)
    if network is not None:
        return _Entry(scheme, port, network=network)
    if text.startswith("*."):
        text = text[2:]
    text = text.lstrip(".").rstrip(".")
    if not text or ":" in text or "/" in text:
        return None
    try:
        domain = URL("http://placeholder").copy_with(host=text).host  # IDNA, as URLs are
    except InvalidURL:
        return None
    return _Entry(scheme, port, domain=domain)


def _in_network(address: ipaddress.IPv4Address | ipaddress.IPv6Address, network: IPNetwork) -> bool:
    if isinstance(network, ipaddress.IPv4Network):
        return isinstance(address, ipaddress.IPv4Address) and address in network
    return isinstance(address, ipaddress.IPv6Address) and address in network


def _port(text: str) -> int | None:
    if not text.isascii() or not text.isdigit():
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def _network(text: str) -> IPNetwork | None:
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False)
        return ipaddress.ip_network(ipaddress.ip_address(text))
    except ValueError:
        return None
