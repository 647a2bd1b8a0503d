"""The cookie jar: RFC 6265 storage and retrieval, with the RFC 6265bis hardening.

Three layers, each usable alone:

* :func:`parse_set_cookie` turns one ``Set-Cookie`` value into a :class:`SetCookie` (the
  lenient parsing algorithm of RFC 6265 §5.2, not the strict grammar of §4.1). It knows
  nothing about URLs or clocks.
* :meth:`Cookies.store_set_cookie` / :meth:`Cookies.extract_cookies` apply the storage model
  (§5.3) against the URL the response came from: domain and path scoping, the Public Suffix
  List, Secure, the ``__Secure-``/``__Host-`` prefixes, expiry, and the size caps.
* :meth:`Cookies.cookie_header` builds the ``Cookie`` header for a request URL (§5.4).

Decisions worth knowing (docs/cookies.md says the same for users):

* A cookie whose ``Set-Cookie`` line holds a control character (anything in
  ``%x00-08 / %x0A-1F / %x7F``, so CR, LF and NUL too) is ignored whole (6265bis §5.6).
  Values can never contain ``;``: the parser splits on it. So a stored cookie can always go
  into a ``Cookie`` header as is.
* A ``Set-Cookie`` without ``=`` or with an empty name is ignored (RFC 6265 §5.2; 6265bis
  would store a nameless cookie, which only serves cookie-prefix spoofing).
* "Secure origin" means ``https``, or ``http`` to a loopback host (``localhost``,
  ``*.localhost``, ``127.0.0.0/8``, ``::1``), as browsers treat them ("potentially
  trustworthy"): such an origin may set ``Secure`` cookies and receives them.
* ``SameSite`` is parsed and kept, not enforced: a client has no "site for cookies".
* A cookie the *user* sets without a domain (``cookies.set("a", "1")``, ``Cookies({"a": "1"})``)
  has ``domain == ""`` and is sent to every host, as in httpx and requests. Cookies from
  ``Set-Cookie`` always carry a domain.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
import time
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, MutableMapping
from collections.abc import ValuesView as _ValuesView
from typing import TYPE_CHECKING, Any, Union

import idna

from ._exceptions import HyperHTTPError
from ._urls import URL

if TYPE_CHECKING:
    from ._models import Response

try:  # the Public Suffix List, shipped as data by a maintained PyPI package
    from publicsuffixlist import PublicSuffixList as _PublicSuffixList
except ImportError:  # pragma: no cover - exercised by monkeypatching _psl_is_public
    _PublicSuffixList = None  # type: ignore[assignment,misc]

__all__ = [
    "MAX_ATTRIBUTE_VALUE_SIZE",
    "MAX_COOKIES",
    "MAX_COOKIES_PER_DOMAIN",
    "MAX_COOKIES_PER_REQUEST",
    "MAX_COOKIES_PER_RESPONSE",
    "MAX_COOKIE_AGE",
    "MAX_COOKIE_HEADER_SIZE",
    "MAX_COOKIE_SIZE",
    "MAX_SET_COOKIE_SIZE",
    "Cookie",
    "CookieConflict",
    "CookieTypes",
    "Cookies",
    "SetCookie",
    "is_public_suffix",
    "load_public_suffix_list",
    "parse_set_cookie",
]

# -- limits ------------------------------------------------------------------------------------
#
# RFC 6265 §6.1 asks user agents to support *at least* 4096 bytes per cookie, 50 cookies per
# domain and 3000 cookies in total; 6265bis §5.6 turns the first into a hard rule (name + value
# over 4096 bytes: ignore the cookie; an attribute value over 1024 bytes: ignore the attribute).
# We store exactly those minimums: enough for every site that works in a browser, and a hostile
# server cannot grow the jar without bound.

#: name + value, in UTF-8 bytes (6265bis §5.6 step 4; RFC 6265 §6.1).
MAX_COOKIE_SIZE = 4096
#: one attribute value, in UTF-8 bytes (6265bis §5.6: "cookie-av ... longer than 1024").
MAX_ATTRIBUTE_VALUE_SIZE = 1024
#: a whole Set-Cookie value, in characters: name + value + a generous set of attributes.
#: Longer lines are ignored before parsing (bounds the work per line; curl uses 5000).
MAX_SET_COOKIE_SIZE = 8192
#: cookies per domain (RFC 6265 §6.1 minimum); the oldest are evicted first.
MAX_COOKIES_PER_DOMAIN = 50
#: cookies in one jar (RFC 6265 §6.1 minimum); the oldest are evicted first.
MAX_COOKIES = 3000
#: Set-Cookie fields read from one response; the rest are ignored (curl's
#: MAX_SET_COOKIE_AMOUNT).
MAX_COOKIES_PER_RESPONSE = 50
#: length of the Cookie header we send (curl's MAX_COOKIE_HEADER_LEN; 8190 is also Apache's
#: and nginx's default header-line limit). Cookies that do not fit are left out.
MAX_COOKIE_HEADER_SIZE = 8190
#: cookies in one Cookie header (curl's MAX_COOKIE_SEND_AMOUNT).
MAX_COOKIES_PER_REQUEST = 150
#: the longest lifetime a server can give a cookie: 400 days (6265bis §5.6.1/§5.6.2).
MAX_COOKIE_AGE = 400 * 24 * 60 * 60

_SECURE_PREFIX = "__secure-"
_HOST_PREFIX = "__host-"

# CTLs except HTAB (6265bis §5.6 step 1). Non-ASCII is allowed (browsers store UTF-8).
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# What a user-supplied name or value may not contain: CTLs (HTAB too) and ";".
_BAD_VALUE_RE = re.compile(r"[\x00-\x1f\x7f;]")
_BAD_NAME_RE = re.compile(r"[\x00-\x20\x7f;=,]")
_WSP = " \t"

_IPV4_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


class CookieConflict(HyperHTTPError, KeyError):
    """``Cookies.get(name)`` (or ``cookies[name]``) matched more than one cookie.

    Pass ``domain=`` and/or ``path=`` to say which one. A ``KeyError``, so code that treats a
    missing cookie and an ambiguous one alike keeps working. The message names the
    domains and paths, never the values.
    """

    def __str__(self) -> str:
        return self.message


# -- the records -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SetCookie:
    """One parsed ``Set-Cookie`` value, before the storage rules are applied.

    Attributes that were absent or invalid are ``None`` (``False`` for the flags). ``expires``
    is a POSIX timestamp from the ``Expires`` date; ``max_age`` the ``Max-Age`` seconds (may be
    zero or negative, meaning "delete"); ``domain`` is lower-case with its leading dot removed;
    ``path`` is only set when it starts with ``/``.
    """

    name: str
    value: str = dataclasses.field(repr=False)
    expires: float | None = None
    max_age: int | None = None
    domain: str | None = None
    path: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Cookie:
    """A cookie in the jar (RFC 6265 §5.3's record).

    ``domain`` is the host (``host_only=True``: sent to exactly that host) or the domain it was
    scoped to (sent to it and its subdomains); ``""`` for a cookie set by the user without a
    domain (sent everywhere). ``expires`` is a POSIX timestamp, or ``None`` for a session
    cookie. ``repr()`` never shows the value.
    """

    name: str
    value: str = dataclasses.field(repr=False)
    domain: str = ""
    path: str = "/"
    host_only: bool = False
    secure: bool = False
    http_only: bool = False
    expires: float | None = None
    same_site: str | None = None
    creation_time: float = 0.0

    def is_expired(self, now: float | None = None) -> bool:
        """Whether the cookie's expiry time has passed at ``now`` (default: the time now)."""
        if self.expires is None:
            return False
        return self.expires <= (time.time() if now is None else now)


# -- parsing (RFC 6265 §5.2) -------------------------------------------------------------------


def _strip_wsp(text: str) -> str:
    return text.strip(_WSP)


def parse_set_cookie(header: str) -> SetCookie | None:
    """Parse one ``Set-Cookie`` field value; ``None`` when it must be ignored.

    Follows the lenient algorithm of RFC 6265 §5.2 (with 6265bis's size and control-character
    rules): the name/value pair ends at the first ``;`` and splits at its first ``=``;
    unknown or invalid attributes are skipped; for a repeated attribute the last one wins.
    Linear in the length of the input, which is capped at :data:`MAX_SET_COOKIE_SIZE`.
    """
    if len(header) > MAX_SET_COOKIE_SIZE or _CTL_RE.search(header) is not None:
        return None
    pair, _, unparsed = header.partition(";")
    if "=" not in pair:
        return None
    name, _, value = pair.partition("=")
    name = _strip_wsp(name)
    value = _strip_wsp(value)
    if (
        not name
        or len(name.encode("utf-8", "replace")) + len(value.encode("utf-8", "replace"))
        > MAX_COOKIE_SIZE
    ):
        return None

    expires: float | None = None
    max_age: int | None = None
    domain: str | None = None
    path: str | None = None
    secure = http_only = False
    same_site: str | None = None
    if unparsed:
        for av in unparsed.split(";"):
            attr, _, attr_value = av.partition("=")
            key = _strip_wsp(attr).lower()
            attr_value = _strip_wsp(attr_value)
            if len(attr_value) > MAX_ATTRIBUTE_VALUE_SIZE:
                continue
            if key == "expires":
                parsed = parse_cookie_date(attr_value)
                if parsed is not None:
                    expires = parsed
            elif key == "max-age":
                seconds = _parse_max_age(attr_value)
                if seconds is not None:
                    max_age = seconds
            elif key == "domain":
                if attr_value:  # empty: ignore the attribute (RFC 6265 §5.2.3)
                    domain = attr_value.removeprefix(".").lower()
            elif key == "path":
                # Not starting with "/": the default path (§5.2.4), i.e. as if absent.
                path = attr_value if attr_value.startswith("/") else None
            elif key == "secure":
                secure = True
            elif key == "httponly":
                http_only = True
            elif key == "samesite":
                # Unknown values: None, i.e. the recipient's default enforcement.
                lowered = attr_value.lower()
                same_site = lowered.capitalize() if lowered in ("strict", "lax", "none") else None
    return SetCookie(
        name=name,
        value=value,
        expires=expires,
        max_age=max_age,
        domain=domain,
        path=path,
        secure=secure,
        http_only=http_only,
        same_site=same_site,
    )


_MAX_AGE_RE = re.compile(r"-?[0-9]+")
_MAX_AGE_DIGITS = 12  # more than 31,000 years: past every cap, so no need to convert more
_MAX_AGE_CLAMP: int = 10**_MAX_AGE_DIGITS


def _parse_max_age(text: str) -> int | None:
    """RFC 6265 §5.2.2: ``-``? DIGIT+, else the attribute is ignored. Huge values clamp."""
    if not text.isascii() or _MAX_AGE_RE.fullmatch(text) is None:
        return None
    negative = text.startswith("-")
    digits = text.lstrip("-").lstrip("0") or "0"
    if len(digits) > _MAX_AGE_DIGITS:
        return -_MAX_AGE_CLAMP if negative else _MAX_AGE_CLAMP
    seconds = int(digits)
    return -seconds if negative else seconds


# RFC 6265 §5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E; a date-token is a
# run of anything else. Characters past U+00FF are treated as delimiters too.
_DATE_TOKEN_RE = re.compile(r"[\x00-\x08\x0a-\x1f0-9:A-Za-z\x7f-\xff]+")
_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY_RE = re.compile(r"([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_YEAR_RE = re.compile(r"([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


def parse_cookie_date(text: str) -> float | None:
    """The cookie-date algorithm of RFC 6265 §5.1.1; a POSIX timestamp or ``None``.

    Accepts every format servers send (RFC 1123, RFC 850 with 2-digit years, asctime, and
    mixtures); 2-digit years 70-99 are 19xx, 00-69 are 20xx; years before 1601 fail.
    """
    hms: tuple[int, int, int] | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    for token in _DATE_TOKEN_RE.findall(text):
        if hms is None:
            match = _TIME_RE.fullmatch(token)
            if match is not None:
                hms = (int(match[1]), int(match[2]), int(match[3]))
                continue
        if day is None:
            match = _DAY_RE.fullmatch(token)
            if match is not None:
                day = int(match[1])
                continue
        if month is None:
            number = _MONTHS.get(token[:3].lower())
            if number is not None:
                month = number
                continue
        if year is None:
            match = _YEAR_RE.fullmatch(token)
            if match is not None:
                year = int(match[1])
                continue
    if hms is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = hms
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None  # "Feb 30": the date does not exist
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


# -- scoping helpers (RFC 6265 §5.1.3, §5.1.4) -------------------------------------------------


def _is_ip(host: str) -> bool:
    # URL gives IPv6 without brackets, IPv4 in dotted decimal.
    return ":" in host or (host[-1:].isdigit() and _IPV4_RE.fullmatch(host) is not None)


def _domain_match(host: str, domain: str) -> bool:
    """§5.1.3: identical, or ``host`` ends with ``"." + domain`` and is not an IP address."""
    if host == domain:
        return True
    return (
        len(host) > len(domain)
        and host.endswith(domain)
        and host[-len(domain) - 1] == "."
        and not _is_ip(host)
    )


def _path_match(request_path: str, cookie_path: str) -> bool:
    """§5.1.4: identical, or a prefix ending at a ``/`` boundary."""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def _default_path(request_path: str) -> str:
    """§5.1.4: the request path up to (not including) its last ``/``; ``/`` at least."""
    if not request_path.startswith("/"):
        return "/"
    cut = request_path.rfind("/")
    return request_path[:cut] if cut > 0 else "/"


def _is_secure_origin(scheme: str, host: str) -> bool:
    """https, or a loopback host (browsers' "potentially trustworthy" origins)."""
    if scheme == "https":
        return True
    return (
        host == "localhost"
        or host.endswith(".localhost")
        or host == "::1"
        or (host.startswith("127.") and _IPV4_RE.fullmatch(host) is not None)
    )


# -- the Public Suffix List --------------------------------------------------------------------

_psl: Any = None

# Used only when the publicsuffixlist package is missing (a broken install): second-level
# labels that are public under many two-letter country codes (co.uk, com.au, ...).
_FALLBACK_SECOND_LEVEL = frozenset(
    [
        "ac",
        "co",
        "com",
        "edu",
        "gov",
        "go",
        "gob",
        "govt",
        "mil",
        "ne",
        "net",
        "nic",
        "nom",
        "or",
        "org",
        "sch",
        "ltd",
        "plc",
    ]
)


def load_public_suffix_list() -> None:
    """Load the Public Suffix List now (about 0.1 s, once per process).

    It is loaded on first need otherwise: the first ``Set-Cookie`` with a ``Domain``
    attribute. Call this at start-up (or in a thread) to keep that pause off the event loop.
    """
    global _psl
    if _psl is None and _PublicSuffixList is not None:
        _psl = _PublicSuffixList()


def is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` (lower-case A-labels, no trailing dot) is a public suffix.

    Uses the Public Suffix List from the ``publicsuffixlist`` package, private section included
    (``github.io`` is public). Unknown TLDs count as public. Without the package, a
    conservative fallback treats every single-label domain, and ``<co|com|org|...>.<cc>``,
    as public.
    """
    if not domain or "." not in domain:
        return True
    if _PublicSuffixList is None:
        return _fallback_is_public(domain)
    load_public_suffix_list()
    try:
        suffix = _psl.publicsuffix(domain)
    except Exception:  # pragma: no cover - the package never raised on our inputs
        return True
    return suffix is None or suffix == domain


def _fallback_is_public(domain: str) -> bool:
    labels = domain.split(".")
    if len(labels) == 1:
        return True
    return (
        len(labels) == 2
        and len(labels[1]) == 2
        and labels[1].isalpha()
        and labels[0] in _FALLBACK_SECOND_LEVEL
    )


def _normalise_domain(domain: str) -> str | None:
    """A Domain attribute (its leading dot already removed) as a lower-case A-label name
    without a trailing dot; ``None`` if it cannot be one."""
    domain = domain.lower().removesuffix(".")
    if not domain or len(domain) > 253:  # before idna (CVE-2024-3651)
        return None
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    if domain.startswith("[") and domain.endswith("]"):
        domain = domain[1:-1]  # an IPv6 literal; only ever equal to an IPv6 host
    return domain


# -- the jar -----------------------------------------------------------------------------------

CookieTypes = Union["Cookies", Mapping[str, str], Iterable[tuple[str, str]], None]

_Key = tuple[str, str]  # (path, name) inside one domain
_Entry = tuple[int, Cookie]  # (insertion sequence: the tie-break and eviction order, cookie)


class Cookies(MutableMapping[str, str]):
    """A cookie jar: a mapping of names to values, scoped by domain and path.

    ``Cookies({"a": "1"})``, ``Cookies([("a", "1")])`` or ``Cookies(other_jar)`` (a copy:
    jars are never shared by accident). ``clock`` returns the current POSIX time (tests pass
    their own; default :func:`time.time`).

    As a mapping it works by name: ``jar["a"]``, ``jar["a"] = "1"`` (a cookie for every host,
    path ``/``), ``del jar["a"]`` (every cookie named ``a``), ``"a" in jar``. Several cookies
    may share a name (different domains or paths): ``get``/``[]`` then raise
    :class:`CookieConflict` unless ``domain=``/``path=`` narrow it down. :attr:`jar` lists the
    :class:`Cookie` records. ``repr()`` never shows values.

    The client calls :meth:`extract_cookies` on every response and :meth:`cookie_header`
    for every request.
    """

    def __init__(
        self, cookies: CookieTypes = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self._clock: Callable[[], float] = clock if clock is not None else time.time
        self._domains: dict[str, dict[_Key, _Entry]] = {}
        self._count = 0
        self._seq = 0
        if cookies is not None:
            self.update(cookies)

    # -- storage internals -------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _put(self, cookie: Cookie) -> None:
        bucket = self._domains.get(cookie.domain)
        if bucket is None:
            bucket = self._domains[cookie.domain] = {}
        key = (cookie.path, cookie.name)
        old = bucket.get(key)
        if old is not None:
            bucket[key] = (old[0], cookie)  # a replacement keeps its place (creation order)
            return
        bucket[key] = (self._next_seq(), cookie)
        self._count += 1
        if len(bucket) > MAX_COOKIES_PER_DOMAIN:
            self._evict(bucket, cookie.domain, keep=key)
        if self._count > MAX_COOKIES:
            self._evict_global(keep=(cookie.domain, key))

    def _remove(self, domain: str, key: _Key) -> None:
        bucket = self._domains[domain]
        del bucket[key]
        self._count -= 1
        if not bucket:
            del self._domains[domain]

    def _evict(self, bucket: dict[_Key, _Entry], domain: str, keep: _Key) -> None:
        """Bring one domain back under its cap: expired cookies first, then the oldest."""
        now = self._clock()
        for key, (_, cookie) in list(bucket.items()):
            if cookie.is_expired(now):
                self._remove(domain, key)
        while len(bucket) > MAX_COOKIES_PER_DOMAIN:
            oldest = min((k for k in bucket if k != keep), key=lambda k: bucket[k][0])
            self._remove(domain, oldest)

    def _evict_global(self, keep: tuple[str, _Key]) -> None:
        self.clear_expired()
        if self._count <= MAX_COOKIES:
            return
        entries = sorted(
            (seq, domain, key)
            for domain, bucket in self._domains.items()
            for key, (seq, _) in bucket.items()
            if (domain, key) != keep
        )
        for _, domain, key in entries[: self._count - MAX_COOKIES]:
            self._remove(domain, key)

    def _entries(self) -> list[tuple[str, _Key, int, Cookie]]:
        """Every live cookie (expired ones are dropped on the way), in insertion order."""
        now = self._clock()
        out = []
        for domain, bucket in list(self._domains.items()):
            for key, (seq, cookie) in list(bucket.items()):
                if cookie.is_expired(now):
                    self._remove(domain, key)
                else:
                    out.append((domain, key, seq, cookie))
        out.sort(key=lambda entry: entry[2])
        return out

    def _matching(
        self, name: str | None, domain: str | None, path: str | None
    ) -> list[tuple[str, _Key, int, Cookie]]:
        if domain is not None:
            domain = domain.lower().removeprefix(".")
        return [
            entry
            for entry in self._entries()
            if (name is None or entry[3].name == name)
            and (domain is None or entry[0] == domain)
            and (path is None or entry[3].path == path)
        ]

    # -- the client's side: Set-Cookie in, Cookie out ----------------------------------------

    def extract_cookies(self, response: Response) -> None:
        """Store the cookies of ``response``'s ``Set-Cookie`` fields (RFC 6265 §5.3).

        They are judged against ``response.request.url``; a response without a request stores
        nothing. At most :data:`MAX_COOKIES_PER_RESPONSE` fields are read.
        """
        request = response.request
        if request is None:
            return
        values = response.headers.get_list("set-cookie")
        if not values:
            return
        url = request.url
        for value in values[:MAX_COOKIES_PER_RESPONSE]:
            self.store_set_cookie(value, url)

    def store_set_cookie(self, header: str, url: URL | str) -> Cookie | None:
        """Apply one ``Set-Cookie`` value received from ``url``; the stored cookie or ``None``.

        ``None`` when the cookie was ignored (unparseable, out of scope, not allowed over this
        scheme, a prefix violated) or when it deleted a cookie (expiry in the past).
        """
        if not isinstance(url, URL):
            url = URL(url)
        scheme = url.scheme
        host = url.host
        if scheme not in ("http", "https") or not host:
            return None
        parsed = parse_set_cookie(header)
        if parsed is None:
            return None
        now = self._clock()

        # Expiry (§5.3 step 3; Max-Age wins over Expires; 6265bis caps at 400 days).
        expires: float | None
        if parsed.max_age is not None:
            expires = float("-inf") if parsed.max_age <= 0 else now + parsed.max_age
        else:
            expires = parsed.expires
        if expires is not None and expires > now + MAX_COOKIE_AGE:
            expires = now + MAX_COOKIE_AGE

        # Domain (§5.3 steps 4-6, with the PSL and IP rules).
        host_only = True
        domain = host
        if parsed.domain is not None:
            wanted = _normalise_domain(parsed.domain)
            if wanted is None:
                return None
            if wanted != host:
                if _is_ip(host) or not _domain_match(host, wanted) or is_public_suffix(wanted):
                    return None
                host_only = False
                domain = wanted
            elif not _is_ip(host) and not is_public_suffix(wanted):
                host_only = False  # Domain=<the host itself>: the host and its subdomains

        # Path (§5.3 step 7).
        path = parsed.path if parsed.path is not None else _default_path(url.path)

        # Secure (6265bis: an insecure origin can't set a Secure cookie).
        secure_origin = _is_secure_origin(scheme, host)
        if parsed.secure and not secure_origin:
            return None

        # Cookie name prefixes (6265bis §4.1.3), matched case-insensitively.
        lowered = parsed.name[:9].lower()
        if lowered.startswith(_SECURE_PREFIX) and not parsed.secure:
            return None
        if lowered.startswith(_HOST_PREFIX) and not (
            parsed.secure and parsed.domain is None and parsed.path == "/"
        ):
            return None

        # "Leave Secure Cookies Alone" (6265bis): an insecure origin cannot shadow, overwrite
        # or delete a Secure cookie of the same name in an overlapping scope.
        if (
            not parsed.secure
            and not secure_origin
            and self._shadows_secure(parsed.name, domain, path, now)
        ):
            return None

        bucket = self._domains.get(domain)
        key = (path, parsed.name)
        old = bucket.get(key) if bucket is not None else None
        if expires is not None and expires <= now:
            if old is not None:
                self._remove(domain, key)
            return None
        cookie = Cookie(
            name=parsed.name,
            value=parsed.value,
            domain=domain,
            path=path,
            host_only=host_only,
            secure=parsed.secure,
            http_only=parsed.http_only,
            expires=expires,
            same_site=parsed.same_site,
            creation_time=old[1].creation_time if old is not None else now,
        )
        self._put(cookie)
        return cookie

    def _shadows_secure(self, name: str, domain: str, path: str, now: float) -> bool:
        for existing_domain, bucket in self._domains.items():
            if not (
                _domain_match(existing_domain, domain) or _domain_match(domain, existing_domain)
            ):
                continue
            for (existing_path, existing_name), (_, cookie) in bucket.items():
                if (
                    existing_name == name
                    and cookie.secure
                    and _path_match(path, existing_path)
                    and not cookie.is_expired(now)
                ):
                    return True
        return False

    def cookie_header(self, url: URL | str) -> str | None:
        """The ``Cookie`` header value for a request to ``url`` (RFC 6265 §5.4), or ``None``.

        A cookie is included when its domain matches the host (exactly, for host-only cookies;
        on a dot boundary otherwise), its path matches the request path on a ``/`` boundary,
        it has not expired, and, if ``Secure``, the origin is secure. Longer paths come first,
        then earlier-created cookies. At most :data:`MAX_COOKIES_PER_REQUEST` cookies and
        :data:`MAX_COOKIE_HEADER_SIZE` characters: cookies that do not fit are left out.
        """
        domains = self._domains
        if not domains:
            return None
        if not isinstance(url, URL):
            url = URL(url)
        host = url.host
        scheme = url.scheme
        if scheme not in ("http", "https") or not host:
            return None
        request_path = url.path or "/"
        secure = _is_secure_origin(scheme, host)
        now = self._clock()

        candidates: list[str] = [host]
        if not _is_ip(host):
            dot = host.find(".")
            while dot != -1:
                candidates.append(host[dot + 1 :])
                dot = host.find(".", dot + 1)
        candidates.append("")

        found: list[tuple[int, int, Cookie]] = []
        expired: list[tuple[str, _Key]] = []
        for candidate in candidates:
            bucket = domains.get(candidate)
            if bucket is None:
                continue
            for key, (seq, cookie) in bucket.items():
                if cookie.host_only and candidate != host:
                    continue
                if cookie.secure and not secure:
                    continue
                if not _path_match(request_path, cookie.path):
                    continue
                if cookie.expires is not None and cookie.expires <= now:
                    expired.append((candidate, key))
                    continue
                found.append((-len(cookie.path), seq, cookie))
        for domain, key in expired:
            self._remove(domain, key)
        if not found:
            return None
        found.sort(key=lambda item: (item[0], item[1]))
        parts: list[str] = []
        size = 0
        for _, _, cookie in found:
            part = f"{cookie.name}={cookie.value}"
            added = len(part) + (2 if parts else 0)
            if size + added > MAX_COOKIE_HEADER_SIZE:
                continue
            parts.append(part)
            size += added
            if len(parts) >= MAX_COOKIES_PER_REQUEST:
                break
        return "; ".join(parts) if parts else None

    # -- the user's side ---------------------------------------------------------------------

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Set a cookie. ``domain=""`` (the default) sends it to every host; a domain sends
        it to that domain and its subdomains. Raises ``ValueError`` for a name or value that
        could not go into a ``Cookie`` header (``;``, control characters, ``=`` in the name).
        """
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("cookie name and value must be str")
        if not name or _BAD_NAME_RE.search(name) is not None:
            raise ValueError(
                f"Invalid cookie name {name[:40]!r}: must be non-empty, without whitespace, "
                "control characters, ';', ',' or '='"
            )
        if _BAD_VALUE_RE.search(value) is not None:
            raise ValueError(
                f"Invalid value for cookie {name[:40]!r}: ';' and control characters "
                "are not allowed"
            )
        if len(name.encode()) + len(value.encode()) > MAX_COOKIE_SIZE:
            raise ValueError(
                f"Cookie {name[:40]!r} is too large: name and value over {MAX_COOKIE_SIZE} bytes"
            )
        if domain:
            normalised = _normalise_domain(domain.removeprefix("."))
            if normalised is None or _BAD_NAME_RE.search(normalised) or "/" in normalised:
                raise ValueError(f"Invalid cookie domain {domain[:60]!r}")
            domain = normalised
        if not path.startswith("/") or _BAD_VALUE_RE.search(path) is not None:
            raise ValueError(f"Invalid cookie path {path[:60]!r}: must start with '/'")
        self._put(
            Cookie(name=name, value=value, domain=domain, path=path, creation_time=self._clock())
        )

    def get(  # type: ignore[override]
        self,
        name: str,
        default: str | None = None,
        domain: str | None = None,
        path: str | None = None,
    ) -> str | None:
        """The value of the cookie ``name`` (narrowed by ``domain``/``path``), or ``default``.

        Raises :class:`CookieConflict` when more than one cookie matches.
        """
        matches = self._matching(name, domain, path)
        if not matches:
            return default
        if len(matches) > 1:
            scopes = ", ".join(f"{entry[0] or '*'}{entry[3].path}" for entry in matches[:10])
            raise CookieConflict(
                f"Multiple cookies named {name!r} ({scopes}): pass domain= and/or path= "
                "to choose one"
            )
        return matches[0][3].value

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie named ``name`` (narrowed by ``domain``/``path``)."""
        for entry_domain, key, _, _ in self._matching(name, domain, path):
            self._remove(entry_domain, key)

    def clear(self, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie, or those of ``domain`` (and ``path``)."""
        if domain is None and path is None:
            self._domains.clear()
            self._count = 0
            return
        for entry_domain, key, _, _ in self._matching(None, domain, path):
            self._remove(entry_domain, key)

    def clear_expired(self) -> None:
        """Drop the cookies whose expiry time has passed (it happens lazily anyway)."""
        self._entries()

    def clear_session_cookies(self) -> None:
        """Drop the cookies without an expiry time (what a browser does on exit)."""
        for domain, key, _, cookie in self._entries():
            if cookie.expires is None:
                self._remove(domain, key)

    def update(self, cookies: CookieTypes = None) -> None:  # type: ignore[override]
        """Add cookies from a mapping, a list of pairs, or another jar (records copied)."""
        if cookies is None:
            return
        if isinstance(cookies, Cookies):
            for _, _, _, cookie in cookies._entries():
                self._put(cookie)
            return
        items = cookies.items() if isinstance(cookies, Mapping) else cookies
        for name, value in items:
            self.set(name, value)

    def copy(self) -> Cookies:
        """An independent jar with the same cookies and clock."""
        return Cookies(self, clock=self._clock)

    @property
    def jar(self) -> list[Cookie]:
        """The live cookies as :class:`Cookie` records, oldest first (a snapshot)."""
        return [entry[3] for entry in self._entries()]

    # -- the mapping protocol ----------------------------------------------------------------

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        matches = self._matching(name, None, None)
        if not matches:
            raise KeyError(name)
        for entry_domain, key, _, _ in matches:
            self._remove(entry_domain, key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self._matching(name, None, None))

    def __iter__(self) -> Iterator[str]:
        """Cookie names, oldest first (a name repeats when several cookies share it)."""
        return iter([entry[3].name for entry in self._entries()])

    def __len__(self) -> int:
        return len(self._entries())

    def __bool__(self) -> bool:
        return self._count > 0 and bool(self._entries())

    def items(self) -> ItemsView[str, str]:
        """``(name, value)`` for every cookie (no conflict error for repeated names)."""
        return _CookieItems(self)

    def values(self) -> _ValuesView[str]:
        """Every cookie value."""
        return _CookieValues(self)

    def __repr__(self) -> str:
        entries = self._entries()
        shown = ", ".join(
            f"{cookie.name} for {cookie.domain or '*'}{cookie.path}"
            for _, _, _, cookie in entries[:20]
        )
        more = f", ... {len(entries) - 20} more" if len(entries) > 20 else ""
        return f"<Cookies[{shown}{more}]>"


class _CookieItems(ItemsView[str, str]):
    _mapping: Cookies

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(c.name, c.value) for c in self._mapping.jar])

    def __contains__(self, item: object) -> bool:
        return item in list(self)


class _CookieValues(_ValuesView[str]):
    _mapping: Cookies

    def __iter__(self) -> Iterator[str]:
        return iter([c.value for c in self._mapping.jar])

    def __contains__(self, value: object) -> bool:
        return value in list(self)
