"""The cookie jar: parsing (RFC 6265 §5.2), storage (§5.3), the Cookie header (§5.4), the
6265bis hardening, the size caps, and the user API. Checklist rows CK-01..CK-08 and CK-10,
CK-09 at the jar level, and the property P-11."""

from __future__ import annotations

import calendar
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hyperhttp
from hyperhttp import _cookies
from hyperhttp._cookies import (
    MAX_ATTRIBUTE_VALUE_SIZE,
    MAX_COOKIE_AGE,
    MAX_COOKIE_HEADER_SIZE,
    MAX_COOKIE_SIZE,
    MAX_COOKIES,
    MAX_COOKIES_PER_DOMAIN,
    MAX_COOKIES_PER_REQUEST,
    MAX_COOKIES_PER_RESPONSE,
    MAX_SET_COOKIE_SIZE,
    Cookie,
    CookieConflict,
    Cookies,
    is_public_suffix,
    parse_cookie_date,
    parse_set_cookie,
)

T0 = 1_700_000_000.0


class Clock:
    """An injectable clock: tests move time with ``advance`` instead of sleeping."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jar(clock: Clock) -> Cookies:
    return Cookies(clock=clock)


def response(url: str, *set_cookies: str) -> hyperhttp.Response:
    return hyperhttp.Response(
        200,
        headers=[("Set-Cookie", value) for value in set_cookies],
        request=hyperhttp.Request("GET", url),
    )


def store(jar: Cookies, url: str, *set_cookies: str) -> Cookies:
    jar.extract_cookies(response(url, *set_cookies))
    return jar


def names(jar: Cookies, url: str) -> list[str]:
    header = jar.cookie_header(url)
    if header is None:
        return []
    return [part.split("=", 1)[0] for part in header.split("; ")]


# -- parsing (RFC 6265 §5.2) -------------------------------------------------------------------


def test_parse_name_value_split_on_first_equals_and_trimmed() -> None:
    parsed = parse_set_cookie("  sid = a=b=c ; Path=/")
    assert parsed is not None
    assert (parsed.name, parsed.value, parsed.path) == ("sid", "a=b=c", "/")


def test_parse_empty_value_is_a_cookie() -> None:
    parsed = parse_set_cookie("a=")
    assert parsed is not None and (parsed.name, parsed.value) == ("a", "")


@pytest.mark.parametrize("header", ["novalue", "=abc", "  =abc", "", ";a=b", " ; Path=/"])
def test_parse_without_name_is_ignored(header: str) -> None:
    assert parse_set_cookie(header) is None


def test_parse_quoted_value_kept_verbatim_and_cannot_swallow_semicolons() -> None:
    # CK-08 (Jetty cookie smuggling): quotes do not protect ";".
    parsed = parse_set_cookie('a="b; sess=1; c=d"')
    assert parsed is not None
    assert (parsed.name, parsed.value) == ("a", '"b')
    parsed = parse_set_cookie('a="quoted value"')
    assert parsed is not None and parsed.value == '"quoted value"'


@pytest.mark.parametrize(
    "header",
    ["a=\x01", "a\x00=1", "a=1\r\nb=2", "a=1\n", "a=\x7f", "a=1; Path=/\x00", "a=1\r\n b=2"],
)
def test_parse_control_characters_reject_the_whole_cookie(header: str) -> None:
    # CK-08 / 6265bis §5.6 step 1 (a folded header arrives with CR LF: rejected too).
    assert parse_set_cookie(header) is None


def test_parse_htab_is_whitespace_not_a_control() -> None:
    parsed = parse_set_cookie("a=\t1\t;\tSecure")
    assert parsed is not None and parsed.value == "1" and parsed.secure


def test_parse_every_attribute() -> None:
    parsed = parse_set_cookie(
        "id=42; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Max-Age=3600; Domain=.Example.COM; "
        "Path=/docs; Secure; HttpOnly; SameSite=lax; Unknown=1; Priority=High"
    )
    assert parsed is not None
    assert parsed.name == "id" and parsed.value == "42"
    assert parsed.expires == calendar.timegm((2037, 10, 21, 7, 28, 0, 0, 0, 0))
    assert parsed.max_age == 3600
    assert parsed.domain == "example.com"
    assert parsed.path == "/docs"
    assert parsed.secure and parsed.http_only
    assert parsed.same_site == "Lax"


def test_parse_attribute_names_are_case_insensitive_and_flags_take_no_value() -> None:
    parsed = parse_set_cookie("a=1; SECURE=no; httponly; max-AGE=5; PATH=/x")
    assert parsed is not None
    assert parsed.secure and parsed.http_only and parsed.max_age == 5 and parsed.path == "/x"


def test_parse_last_attribute_of_a_kind_wins() -> None:
    parsed = parse_set_cookie("a=1; Path=/one; Path=/two; Domain=a.com; Domain=b.com")
    assert parsed is not None and parsed.path == "/two" and parsed.domain == "b.com"


def test_parse_invalid_later_attribute_does_not_erase_a_valid_one() -> None:
    parsed = parse_set_cookie("a=1; Max-Age=10; Max-Age=ten; Expires=Wed, 21 Oct 2037 07:28:00")
    assert parsed is not None and parsed.max_age == 10
    parsed2 = parse_set_cookie("a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Expires=garbage")
    assert parsed2 is not None and parsed2.expires is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("-1", -1),
        ("  60 ", 60),
        ("007", 7),
        ("99999999999999999999", _cookies._MAX_AGE_CLAMP),
        ("-99999999999999999999", -_cookies._MAX_AGE_CLAMP),
        ("1" * 1000, _cookies._MAX_AGE_CLAMP),
        ("1.5", None),
        ("+5", None),
        ("abc", None),
        ("", None),
        ("5s", None),
        ("--5", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits: not DIGIT
    ],
)
def test_parse_max_age(value: str, expected: int | None) -> None:
    parsed = parse_set_cookie(f"a=1; Max-Age={value}")
    assert parsed is not None and parsed.max_age == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Strict", "Strict"), ("LAX", "Lax"), ("none", "None"), ("bogus", None), ("", None)],
)
def test_parse_same_site(value: str, expected: str | None) -> None:
    parsed = parse_set_cookie(f"a=1; SameSite={value}")
    assert parsed is not None and parsed.same_site == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), ("relative", None), ("/", "/"), ("/a/b/", "/a/b/"), (" /x ", "/x")],
)
def test_parse_path(value: str, expected: str | None) -> None:
    parsed = parse_set_cookie(f"a=1; Path={value}")
    assert parsed is not None and parsed.path == expected


def test_parse_empty_domain_attribute_is_ignored() -> None:
    parsed = parse_set_cookie("a=1; Domain=")
    assert parsed is not None and parsed.domain is None


def test_parse_name_equal_to_an_attribute_name() -> None:
    # CK-08, curl "cookie with parameter word as name".
    parsed = parse_set_cookie("Path=/secret; Path=/")
    assert parsed is not None
    assert (parsed.name, parsed.value, parsed.path) == ("Path", "/secret", "/")


def test_parse_size_limits_plus_one() -> None:
    # CK-07: name + value up to MAX_COOKIE_SIZE bytes (6265bis §5.6).
    assert parse_set_cookie("n=" + "v" * (MAX_COOKIE_SIZE - 1)) is not None
    assert parse_set_cookie("n=" + "v" * MAX_COOKIE_SIZE) is None
    # Counted in UTF-8 bytes: 2-byte characters.
    assert parse_set_cookie("n=" + "é" * ((MAX_COOKIE_SIZE - 1) // 2)) is not None
    assert parse_set_cookie("n=" + "é" * (MAX_COOKIE_SIZE // 2)) is None
    # One attribute value: up to MAX_ATTRIBUTE_VALUE_SIZE, else that attribute is ignored.
    ok = parse_set_cookie("a=1; Path=/" + "p" * (MAX_ATTRIBUTE_VALUE_SIZE - 1))
    assert ok is not None and ok.path is not None
    long = parse_set_cookie("a=1; Path=/" + "p" * MAX_ATTRIBUTE_VALUE_SIZE)
    assert long is not None and long.path is None
    # The whole line.
    line = "a=1; " + "x" * (MAX_SET_COOKIE_SIZE - 5)
    assert len(line) == MAX_SET_COOKIE_SIZE and parse_set_cookie(line) is not None
    assert parse_set_cookie(line + "x") is None


def test_parse_hostile_input_is_fast() -> None:
    # CK-08 (CPython CVE-2024-7592: quadratic unquoting). Capped and linear.
    inputs = [
        'a="' + "\\" * 100_000 + '"',
        'a="' + "\\" * (MAX_SET_COOKIE_SIZE - 8) + '"',
        "a=1" + ";" * (MAX_SET_COOKIE_SIZE - 3),
        "a=1; Expires=" + "1:" * 4000,
        "a=" + "=" * (MAX_COOKIE_SIZE - 3),
    ]
    started = time.perf_counter()
    for text in inputs:
        parse_set_cookie(text)
    assert time.perf_counter() - started < 0.5


# -- dates (RFC 6265 §5.1.1) -------------------------------------------------------------------


def _ts(*fields: int) -> float:
    return float(calendar.timegm((*fields, 0, 0, 0)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", _ts(1994, 11, 6, 8, 49, 37)),  # RFC 1123
        ("Sunday, 06-Nov-94 08:49:37 GMT", _ts(1994, 11, 6, 8, 49, 37)),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", _ts(1994, 11, 6, 8, 49, 37)),  # asctime
        ("Thu, 01-Jan-1970 00:00:00 GMT", 0.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Wed, 01 Jan 69 00:00:00 GMT", _ts(2069, 1, 1, 0, 0, 0)),  # 00-69 => 20xx
        ("Thu, 01 Jan 70 00:00:01 GMT", _ts(1970, 1, 1, 0, 0, 1)),  # 70-99 => 19xx
        ("Fri, 31 Dec 9999 23:59:59 GMT", _ts(9999, 12, 31, 23, 59, 59)),
        ("1 jAnUaRy 2030 1:2:3", _ts(2030, 1, 1, 1, 2, 3)),
        ("2030 Mar 5 10:00:00", _ts(2030, 3, 5, 10, 0, 0)),  # year before day: still parsed
        ("Tue, 29 Feb 2028 12:00:00 GMT", _ts(2028, 2, 29, 12, 0, 0)),
        ("Mon, 01 Jan 1601 00:00:00 GMT", _ts(1601, 1, 1, 0, 0, 0)),
        ("Thu, 10 Apr 2025 12:00:00 GMT+02:00", _ts(2025, 4, 10, 12, 0, 0)),  # zones ignored
    ],
)
def test_cookie_dates(text: str, expected: float) -> None:
    assert parse_cookie_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "Wed, 30 Feb 2028 12:00:00 GMT",  # no such day
        "Wed, 32 Jan 2028 12:00:00 GMT",
        "Wed, 00 Jan 2028 12:00:00 GMT",
        "Wed, 01 Jan 1600 12:00:00 GMT",  # before 1601
        "Wed, 01 Jan 2028 24:00:00 GMT",
        "Wed, 01 Jan 2028 12:60:00 GMT",
        "Wed, 01 Jan 2028 12:00:60 GMT",
        "Wed, 01 Jan 2028 GMT",  # no time
        "Wed, 01 2028 12:00:00 GMT",  # no month
        "Wed, Jan 2028 12:00:00 GMT",  # no day... 2028 is not a day; no year left
        "Wed, 01 Foo 2028 12:00:00 GMT",
        "Wed, 01 Jan 12345 12:00:00 GMT",  # 5-digit year
        "1234567890",  # a timestamp is not a date
    ],
)
def test_bad_cookie_dates(text: str) -> None:
    assert parse_cookie_date(text) is None


# -- CK-01: domain scoping ---------------------------------------------------------------------


def test_ck01_cross_domain_set_is_rejected(jar: Cookies) -> None:
    store(jar, "https://evil.com/", "a=1; Domain=example.com")
    store(jar, "https://example.com.evil.com/", "b=1; Domain=example.com")
    store(jar, "https://a.example.com/", "c=1; Domain=b.example.com")
    store(jar, "https://example.com/", "d=1; Domain=a.example.com")  # parent cannot set child
    store(jar, "https://badexample.com/", "e=1; Domain=example.com")  # CVE-2018-20852
    store(jar, "https://pythonexample.com/", "f=1; Domain=example.com")
    assert len(jar) == 0


def test_ck01_domain_match_only_on_a_dot_boundary(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1; Domain=example.com")
    assert names(jar, "https://example.com/") == ["a"]
    assert names(jar, "https://www.example.com/") == ["a"]
    assert names(jar, "https://x.y.example.com/") == ["a"]
    assert names(jar, "https://pythonexample.com/") == []
    assert names(jar, "https://badexample.com/") == []
    assert names(jar, "https://example.com.evil.com/") == []
    assert names(jar, "https://com/") == []


def test_ck01_leading_dot_ignored_and_domain_case_folded(jar: Cookies) -> None:
    store(jar, "https://a.example.com/", "a=1; Domain=.Example.COM")
    (cookie,) = jar.jar
    assert cookie.domain == "example.com" and not cookie.host_only
    assert names(jar, "https://b.example.com/") == ["a"]
    assert names(jar, "https://example.com/") == ["a"]


def test_ck01_domain_equal_to_host_covers_subdomains(jar: Cookies) -> None:
    store(jar, "https://a.example.com/", "a=1; Domain=a.example.com")
    (cookie,) = jar.jar
    assert not cookie.host_only
    assert names(jar, "https://x.a.example.com/") == ["a"]
    assert names(jar, "https://example.com/") == []


def test_ck01_trailing_dot_on_domain(jar: Cookies) -> None:
    store(jar, "https://a.example.com/", "a=1; Domain=example.com.")
    assert names(jar, "https://b.example.com/") == ["a"]


def test_international_domain_attribute_is_converted_to_a_label(jar: Cookies) -> None:
    store(jar, "https://www.bücher.de/", "a=1; Domain=BÜCHER.de")
    (cookie,) = jar.jar
    assert cookie.domain == "xn--bcher-kva.de"
    assert names(jar, "https://shop.xn--bcher-kva.de/") == ["a"]


@pytest.mark.parametrize("domain", ["exa mple.com", "a..com", "x" * 300 + ".com", "\u0378.com"])
def test_invalid_domain_attribute_rejects_the_cookie(jar: Cookies, domain: str) -> None:
    store(jar, "https://a.example.com/", f"a=1; Domain={domain}")
    assert len(jar) == 0


# -- CK-02: host-only --------------------------------------------------------------------------


def test_ck02_host_only_cookie_goes_to_exactly_that_host(jar: Cookies) -> None:
    store(jar, "https://a.example.com/", "a=1")
    (cookie,) = jar.jar
    assert cookie.host_only and cookie.domain == "a.example.com"
    assert names(jar, "https://a.example.com/") == ["a"]
    assert names(jar, "https://A.EXAMPLE.COM:8443/") == ["a"]  # host compared, port not
    assert names(jar, "https://b.example.com/") == []
    assert names(jar, "https://example.com/") == []
    assert names(jar, "https://x.a.example.com/") == []


# -- CK-03: public suffixes and IP addresses ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://example.com/", "com"),
        ("https://example.com/", ".com"),
        ("https://a.co.uk/", "co.uk"),
        ("https://a.co.uk/", "co.UK"),  # curl CVE-2023-46218: mixed case
        ("https://a.co.uk/", "co.uk."),  # curl CVE-2022-27779: trailing dot
        ("https://a.co.uk/", "uk"),
        ("https://x.github.io/", "github.io"),  # the private section counts
        ("https://x.y.kawasaki.jp/", "y.kawasaki.jp"),  # wildcard rule *.kawasaki.jp
        ("https://a.example.unknowntld/", "unknowntld"),  # unknown TLDs are public
    ],
)
def test_ck03_supercookies_are_rejected(jar: Cookies, url: str, domain: str) -> None:
    store(jar, url, f"a=1; Domain={domain}")
    assert len(jar) == 0


def test_ck03_psl_exception_rule_and_registrable_domains_allowed(jar: Cookies) -> None:
    store(jar, "https://www.city.kawasaki.jp/", "a=1; Domain=city.kawasaki.jp")  # !city rule
    store(jar, "https://www.example.co.uk/", "b=1; Domain=example.co.uk")
    store(jar, "https://x.github.io/", "c=1; Domain=x.github.io")
    assert names(jar, "https://other.city.kawasaki.jp/") == ["a"]
    assert names(jar, "https://shop.example.co.uk/") == ["b"]
    assert names(jar, "https://y.x.github.io/") == ["c"]
    assert names(jar, "https://other.github.io/") == []


def test_ck03_domain_equal_to_a_public_suffix_host_becomes_host_only(jar: Cookies) -> None:
    store(jar, "https://github.io/", "a=1; Domain=github.io")
    store(jar, "http://localhost/", "b=1; Domain=localhost")
    assert [c.host_only for c in jar.jar] == [True, True]
    assert names(jar, "https://github.io/") == ["a"]
    assert names(jar, "https://x.github.io/") == []
    assert names(jar, "http://localhost/") == ["b"]
    assert names(jar, "http://x.localhost/") == []


@pytest.mark.parametrize(
    "domain", ["example.com", "example.co.uk", "bbc.co.uk", "a.b.c.example.org", "xn--p1ai.xx"]
)
def test_is_public_suffix_false_for_registrable_domains(domain: str) -> None:
    assert not is_public_suffix(domain)


@pytest.mark.parametrize(
    "domain", ["", "com", "co.uk", "github.io", "xn--p1ai", "s3.amazonaws.com"]
)
def test_is_public_suffix_true(domain: str) -> None:
    assert is_public_suffix(domain)


def test_ck03_without_the_psl_package_the_fallback_is_conservative(
    jar: Cookies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cookies, "_PublicSuffixList", None)
    assert is_public_suffix("com") and is_public_suffix("co.uk") and is_public_suffix("com.au")
    assert not is_public_suffix("example.com")
    store(jar, "https://a.co.uk/", "a=1; Domain=co.uk")
    store(jar, "https://a.example.com/", "b=1; Domain=com")
    store(jar, "https://a.example.com/", "c=1; Domain=example.com")
    assert [c.name for c in jar.jar] == ["c"]


def test_ck03_ip_hosts_get_host_only_cookies(jar: Cookies) -> None:
    store(jar, "http://10.0.0.1/", "a=1; Domain=0.0.1")
    store(jar, "http://10.0.0.1/", "b=1; Domain=0.1")
    store(jar, "http://10.0.0.1/", "c=1; Domain=1")
    store(jar, "http://10.0.0.1/", "d=1; Domain=10.0.0.1")  # equal: host-only
    store(jar, "http://10.0.0.1/", "e=1")
    assert [c.name for c in jar.jar] == ["d", "e"]
    assert all(c.host_only for c in jar.jar)
    assert names(jar, "http://10.0.0.1/") == ["d", "e"]
    assert names(jar, "http://110.0.0.1/") == []
    assert names(jar, "http://20.10.0.0.1.example/") == []


def test_ck03_ipv6_hosts(jar: Cookies) -> None:
    store(jar, "http://[2001:db8::1]/", "a=1")
    store(jar, "http://[2001:db8::1]/", "b=1; Domain=[2001:db8::1]")
    store(jar, "http://[2001:db8::1]/", "c=1; Domain=db8::1")
    assert [c.name for c in jar.jar] == ["a", "b"]
    assert names(jar, "http://[2001:0db8:0::1]/") == ["a", "b"]
    assert names(jar, "http://[2001:db8::2]/") == []


# -- CK-04: paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_path", "sent"),
    [
        ("/admin", True),
        ("/admin/", True),
        ("/admin/x", True),
        ("/admin/x/y", True),
        ("/administrator", False),
        ("/adminx/", False),
        ("/", False),
        ("/Admin", False),  # case-sensitive
        ("/other/admin", False),
    ],
)
def test_ck04_path_match_on_segment_boundaries(jar: Cookies, request_path: str, sent: bool) -> None:
    store(jar, "https://example.com/admin", "a=1; Path=/admin")
    assert names(jar, "https://example.com" + request_path) == (["a"] if sent else [])


def test_ck04_cookie_path_with_trailing_slash(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1; Path=/foo/")
    assert names(jar, "https://example.com/foo/") == ["a"]
    assert names(jar, "https://example.com/foo/bar") == ["a"]
    assert names(jar, "https://example.com/foo") == []
    assert names(jar, "https://example.com/foobar") == []


def test_ck04_path_unrelated_to_the_request_path_is_allowed(jar: Cookies) -> None:
    # RFC 6265 §5.3 stores Path as given (it is not a security boundary against the setter).
    store(jar, "https://example.com/a/b", "a=1; Path=/elsewhere")
    assert names(jar, "https://example.com/elsewhere/x") == ["a"]
    assert names(jar, "https://example.com/a/b") == []


@pytest.mark.parametrize(
    ("set_path", "default"),
    [
        ("/", "/"),
        ("/page", "/"),
        ("/dir/", "/dir"),
        ("/dir/page", "/dir"),
        ("/a/b/c", "/a/b"),
        ("/a//b", "/a/"),
    ],
)
def test_ck04_default_path(jar: Cookies, set_path: str, default: str) -> None:
    store(jar, "https://example.com" + set_path + "?q=/x/y", "a=1")
    store(jar, "https://example.com" + set_path, "b=1; Path=relative")
    assert [c.path for c in jar.jar] == [default, default]


def test_ck04_query_does_not_influence_path_match(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1; Path=/a")
    assert names(jar, "https://example.com/b?/a") == []
    assert names(jar, "https://example.com/a?x=1") == ["a"]


# -- CK-05: Secure and the prefixes ------------------------------------------------------------


def test_ck05_secure_cookie_from_http_is_rejected(jar: Cookies) -> None:
    store(jar, "http://example.com/", "a=1; Secure")
    assert len(jar) == 0


def test_ck05_secure_cookie_is_sent_over_https_only(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1; Secure", "b=2")
    assert names(jar, "https://example.com/") == ["a", "b"]
    assert names(jar, "http://example.com/") == ["b"]


def test_ck05_http_cannot_overwrite_or_delete_a_secure_cookie(jar: Cookies) -> None:
    store(jar, "https://example.com/", "sid=good; Secure; Domain=example.com")
    store(jar, "http://example.com/", "sid=evil")  # overwrite (host-only, same name)
    store(jar, "http://www.example.com/", "sid=evil; Path=/x")  # shadow in a narrower path
    store(jar, "http://example.com/", "sid=; Max-Age=0")  # delete
    store(jar, "http://example.com/", "sid=evil; Domain=example.com; Path=/")
    assert [(c.name, c.value, c.secure) for c in jar.jar] == [("sid", "good", True)]
    assert jar.cookie_header("https://www.example.com/x") == "sid=good"
    # A different name, or a path that the Secure cookie's path does not cover, is fine.
    store(jar, "http://example.com/", "other=1")
    assert "other" in jar


def test_ck05_http_may_set_the_same_name_outside_the_secure_cookies_scope(
    jar: Cookies,
) -> None:
    store(jar, "https://example.com/admin", "sid=good; Secure; Path=/admin")
    store(jar, "http://example.com/", "sid=plain; Path=/")  # "/" does not path-match /admin
    assert sorted(c.value for c in jar.jar) == ["good", "plain"]


def test_ck05_an_expired_secure_cookie_no_longer_blocks_its_name(
    jar: Cookies, clock: Clock
) -> None:
    store(jar, "https://example.com/", "sid=old; Secure; Max-Age=10")
    clock.advance(10)
    store(jar, "http://example.com/", "sid=new")
    assert jar.cookie_header("http://example.com/") == "sid=new"


def test_ck05_https_may_replace_a_secure_cookie(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1; Secure")
    store(jar, "https://example.com/", "a=2")
    assert jar.cookie_header("http://example.com/") == "a=2"


def test_ck05_loopback_counts_as_a_secure_origin(jar: Cookies) -> None:
    store(jar, "http://localhost:8000/", "a=1; Secure")
    store(jar, "http://127.0.0.1:8000/", "b=1; Secure")
    store(jar, "http://[::1]:8000/", "c=1; Secure")
    store(jar, "http://app.localhost/", "d=1; Secure")
    store(jar, "http://127.example.com/", "e=1; Secure")  # a name, not a loopback address
    assert [c.name for c in jar.jar] == ["a", "b", "c", "d"]
    assert names(jar, "http://localhost/") == ["a"]
    assert names(jar, "http://127.0.0.1/") == ["b"]


@pytest.mark.parametrize(
    ("url", "header", "stored"),
    [
        ("https://example.com/", "__Secure-a=1; Secure", True),
        ("https://example.com/", "__Secure-a=1", False),
        ("http://example.com/", "__Secure-a=1; Secure", False),
        ("https://example.com/", "__secure-a=1", False),  # prefixes match case-insensitively
        ("https://example.com/", "__SECURE-a=1; Secure", True),
        ("https://example.com/", "__Secure-a=1; Secure; Domain=example.com", True),
        ("https://example.com/", "__Host-a=1; Secure; Path=/", True),
        ("https://example.com/", "__HOST-a=1; Path=/", False),
        ("https://example.com/", "__Host-a=1; Path=/", False),
        ("http://example.com/", "__Host-a=1; Secure; Path=/", False),
        ("https://example.com/", "__Host-a=1; Secure", False),  # Path must be given
        ("https://example.com/", "__Host-a=1; Secure; Path=/x", False),
        ("https://example.com/", "__Host-a=1; Secure; Path=/; Domain=example.com", False),
        ("https://example.com/x/y", "__Host-a=1; Secure; Path=/", True),
        ("https://example.com/", "_Host-a=1", True),  # not a prefix
    ],
)
def test_ck05_cookie_prefixes(jar: Cookies, url: str, header: str, stored: bool) -> None:
    store(jar, url, header)
    assert len(jar) == (1 if stored else 0)


def test_ck05_host_prefix_cookie_is_host_only(jar: Cookies) -> None:
    store(jar, "https://a.example.com/", "__Host-id=1; Secure; Path=/")
    assert names(jar, "https://a.example.com/any") == ["__Host-id"]
    assert names(jar, "https://b.a.example.com/") == []


# -- CK-06: expiry -----------------------------------------------------------------------------


def test_ck06_session_cookie_has_no_expiry(jar: Cookies, clock: Clock) -> None:
    store(jar, "https://example.com/", "a=1")
    assert jar.jar[0].expires is None
    clock.advance(10 * MAX_COOKIE_AGE)
    assert names(jar, "https://example.com/") == ["a"]


def test_ck06_max_age_expires_with_the_clock(jar: Cookies, clock: Clock) -> None:
    store(jar, "https://example.com/", "a=1; Max-Age=60")
    assert jar.jar[0].expires == T0 + 60
    clock.advance(59.9)
    assert names(jar, "https://example.com/") == ["a"]
    clock.advance(0.1)
    assert names(jar, "https://example.com/") == []
    assert len(jar) == 0 and not jar


def test_ck06_expires_expires_with_the_clock(jar: Cookies, clock: Clock) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(T0 + 3600))
    store(jar, "https://example.com/", f"a=1; Expires={when}")
    assert jar.jar[0].expires == T0 + 3600
    clock.advance(3600)
    assert jar.cookie_header("https://example.com/") is None


@pytest.mark.parametrize(
    "header",
    [
        "a=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=3600",
    ],
)
def test_ck06_max_age_wins_over_expires(jar: Cookies, header: str) -> None:
    store(jar, "https://example.com/", header)
    assert jar.jar[0].expires == T0 + 3600


@pytest.mark.parametrize(
    "deleter",
    [
        "a=; Max-Age=0",
        "a=x; Max-Age=-1",
        "a=x; Max-Age=-99999999999999999999",
        "a=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "a=x; Max-Age=0; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
    ],
)
def test_ck06_expiry_in_the_past_deletes(jar: Cookies, deleter: str) -> None:
    store(jar, "https://example.com/", "a=1", "b=2")
    store(jar, "https://example.com/", deleter)
    assert [c.name for c in jar.jar] == ["b"]
    # And never stores a new one.
    store(jar, "https://other.example/", deleter)
    assert [c.name for c in jar.jar] == ["b"]


@pytest.mark.parametrize(
    "header",
    [
        "a=1; Max-Age=99999999999999999999",
        "a=1; Max-Age=" + "9" * 1000,
        "a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
        f"a=1; Max-Age={MAX_COOKIE_AGE + 1}",
    ],
)
def test_ck06_lifetime_capped_at_400_days(jar: Cookies, header: str) -> None:
    store(jar, "https://example.com/", header)
    assert jar.jar[0].expires == T0 + MAX_COOKIE_AGE


@pytest.mark.parametrize(
    "header",
    ["a=1; Expires=garbage", "a=1; Max-Age=soon", "a=1; Expires=", "a=1; Max-Age=1.5"],
)
def test_ck06_invalid_expiry_attributes_are_ignored_cookie_kept(jar: Cookies, header: str) -> None:
    store(jar, "https://example.com/", header)
    (cookie,) = jar.jar
    assert cookie.expires is None and cookie.value == "1"


def test_ck06_expired_cookies_are_dropped_everywhere(jar: Cookies, clock: Clock) -> None:
    store(jar, "https://example.com/", "a=1; Max-Age=10", "b=2")
    clock.advance(10)
    assert "a" not in jar and jar.get("a") is None
    assert list(jar) == ["b"] and len(jar) == 1
    jar.clear_expired()
    assert [c.name for c in jar.jar] == ["b"]


def test_cookie_is_expired() -> None:
    assert not Cookie("a", "1").is_expired()
    assert Cookie("a", "1", expires=10.0).is_expired(10.0)
    assert not Cookie("a", "1", expires=10.0).is_expired(9.0)
    assert Cookie("a", "1", expires=10.0).is_expired()


def test_clear_session_cookies(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1", "b=2; Max-Age=60")
    jar.clear_session_cookies()
    assert [c.name for c in jar.jar] == ["b"]


# -- CK-07: sizes and counts -------------------------------------------------------------------


def test_ck07_oversized_cookie_is_ignored(jar: Cookies) -> None:
    store(jar, "https://example.com/", "big=" + "x" * 5000, "ok=" + "x" * (MAX_COOKIE_SIZE - 2))
    assert [c.name for c in jar.jar] == ["ok"]


def test_ck07_set_cookie_fields_per_response_plus_one(jar: Cookies) -> None:
    headers = [f"c{i}=1; Path=/p{i % 3}" for i in range(100)]
    store(jar, "https://example.com/", *headers)
    assert len(jar) == MAX_COOKIES_PER_RESPONSE
    assert [c.name for c in jar.jar] == [f"c{i}" for i in range(MAX_COOKIES_PER_RESPONSE)]
    jar2 = Cookies()
    store(jar2, "https://example.com/", *headers[:MAX_COOKIES_PER_RESPONSE])
    assert len(jar2) == MAX_COOKIES_PER_RESPONSE


def test_ck07_per_domain_cap_plus_one_evicts_the_oldest(jar: Cookies, clock: Clock) -> None:
    for i in range(MAX_COOKIES_PER_DOMAIN):
        clock.advance(1)
        store(jar, "https://example.com/", f"c{i}=1")
    assert len(jar) == MAX_COOKIES_PER_DOMAIN
    clock.advance(1)
    store(jar, "https://example.com/", "newest=1")
    assert len(jar) == MAX_COOKIES_PER_DOMAIN
    assert "c0" not in jar and "c1" in jar and "newest" in jar


def test_ck07_per_domain_cap_evicts_expired_first(jar: Cookies, clock: Clock) -> None:
    store(jar, "https://example.com/", "old=1")
    store(jar, "https://example.com/", "short=1; Max-Age=5")
    for i in range(MAX_COOKIES_PER_DOMAIN - 2):
        store(jar, "https://example.com/", f"c{i}=1")
    clock.advance(5)
    store(jar, "https://example.com/", "newest=1")
    assert "old" in jar and "newest" in jar and len(jar) == MAX_COOKIES_PER_DOMAIN


def test_ck07_sister_domains_have_their_own_caps(jar: Cookies) -> None:
    for i in range(MAX_COOKIES_PER_DOMAIN):
        store(jar, "https://example.com/", f"legit{i}=1")
    for i in range(MAX_COOKIES_PER_DOMAIN + 10):
        store(jar, "https://evil.example.com/", f"junk{i}=1")
    assert sum(c.name.startswith("legit") for c in jar.jar) == MAX_COOKIES_PER_DOMAIN


def test_ck07_total_cap_plus_one_evicts_the_oldest(jar: Cookies) -> None:
    per = MAX_COOKIES_PER_DOMAIN
    for i in range(MAX_COOKIES):
        store(jar, f"https://h{i // per}.example/", f"c{i}=1")
    assert len(jar) == MAX_COOKIES
    store(jar, "https://last.example/", "extra=1")
    assert len(jar) == MAX_COOKIES
    assert names(jar, "https://h0.example/") == [f"c{i}" for i in range(1, per)]
    assert names(jar, "https://last.example/") == ["extra"]


def test_ck07_cookie_header_size_cap(jar: Cookies) -> None:
    for i in range(5):
        store(jar, "https://example.com/", f"c{i}=" + "v" * 4000)
    header = jar.cookie_header("https://example.com/")
    assert header is not None and len(header) <= MAX_COOKIE_HEADER_SIZE
    assert [p.split("=")[0] for p in header.split("; ")] == ["c0", "c1"]
    # Smaller cookies that still fit are not dropped with the big ones.
    store(jar, "https://example.com/", "small=1")
    assert names(jar, "https://example.com/") == ["c0", "c1", "small"]


def test_ck07_cookie_header_exactly_at_the_cap(jar: Cookies) -> None:
    # "a=<v>; b=<w>" of exactly MAX_COOKIE_HEADER_SIZE characters fits; one more does not.
    first = "a=" + "x" * (MAX_COOKIE_SIZE - 1)
    rest = MAX_COOKIE_HEADER_SIZE - len(first) - 2
    store(jar, "https://example.com/", first, "b=" + "y" * (rest - 2))
    header = jar.cookie_header("https://example.com/")
    assert header is not None and len(header) == MAX_COOKIE_HEADER_SIZE
    jar2 = Cookies()
    store(jar2, "https://example.com/", first, "b=" + "y" * (rest - 1))
    assert names(jar2, "https://example.com/") == ["a"]


def test_ck07_cookies_per_request_cap(jar: Cookies) -> None:
    hosts = ["a.b.c.example.com", "b.c.example.com", "c.example.com", "example.com"]
    for h, host in enumerate(hosts):
        for i in range(MAX_COOKIES_PER_DOMAIN):
            store(jar, f"https://{host}/", f"n{h}_{i}=1; Domain={host}")
    assert len(jar) == 4 * MAX_COOKIES_PER_DOMAIN
    assert len(names(jar, "https://a.b.c.example.com/")) == MAX_COOKIES_PER_REQUEST


# -- CK-08: what reaches the Cookie header -----------------------------------------------------


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_ck08_no_separator_or_control_ever_reaches_the_cookie_header(text: str) -> None:
    jar = Cookies()
    jar.store_set_cookie(text, "https://example.com/")
    header = jar.cookie_header("https://example.com/")
    if header is not None:
        assert not any(ch in header for ch in "\r\n\x00")
        assert all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in header if ch != "\t")
        (cookie,) = jar.jar
        assert ";" not in cookie.value and ";" not in cookie.name
        hyperhttp.Headers({"Cookie": header})  # a valid header value


def test_ck08_non_ascii_value_round_trips(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=héllo")
    assert jar.cookie_header("https://example.com/") == "a=héllo"


# -- CK-09: jar isolation (jar level; the client's use is the lead's) --------------------------


def test_ck09_constructing_from_another_jar_copies_it(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1")
    other = Cookies(jar)
    store(other, "https://example.com/", "b=2")
    jar.set("c", "3")
    assert [c.name for c in jar.jar] == ["a", "c"]
    assert [c.name for c in other.jar] == ["a", "b"]


def test_ck09_copy_is_independent_and_keeps_the_clock(jar: Cookies, clock: Clock) -> None:
    store(jar, "https://example.com/", "a=1; Max-Age=10")
    twin = jar.copy()
    twin.delete("a")
    assert "a" in jar and "a" not in twin
    twin2 = jar.copy()
    clock.advance(10)
    assert "a" not in twin2


# -- CK-10: same name, different scopes --------------------------------------------------------


def test_ck10_same_name_different_paths_longest_first(jar: Cookies, clock: Clock) -> None:
    store(jar, "https://example.com/", "id=root; Path=/")
    clock.advance(1)
    store(jar, "https://example.com/", "id=deep; Path=/a/b")
    clock.advance(1)
    store(jar, "https://example.com/", "id=mid; Path=/a")
    assert jar.cookie_header("https://example.com/a/b/c") == "id=deep; id=mid; id=root"
    assert jar.cookie_header("https://example.com/a") == "id=mid; id=root"


def test_ck10_equal_paths_ordered_by_creation_and_replacement_keeps_its_place(
    jar: Cookies, clock: Clock
) -> None:
    store(jar, "https://example.com/", "a=1", "b=1", "c=1")
    clock.advance(5)
    store(jar, "https://example.com/", "a=2")
    assert jar.cookie_header("https://example.com/") == "a=2; b=1; c=1"
    assert jar.jar[0].creation_time == T0  # RFC 6265 §5.3 step 11.3


def test_ck10_same_name_different_domains_stored_separately(jar: Cookies) -> None:
    store(jar, "https://a.example.com/", "id=host")
    store(jar, "https://a.example.com/", "id=dom; Domain=example.com")
    assert len(jar) == 2
    assert jar.cookie_header("https://a.example.com/") == "id=host; id=dom"
    assert jar.cookie_header("https://b.example.com/") == "id=dom"
    with pytest.raises(CookieConflict):
        jar.get("id")
    assert jar.get("id", domain="a.example.com") == "host"
    assert jar.get("id", domain=".example.com") == "dom"


def test_ck10_overwrite_replaces_only_the_exact_name_domain_path(jar: Cookies) -> None:
    store(jar, "https://example.com/", "id=1; Path=/", "id=2; Path=/x", "other=1")
    store(jar, "https://example.com/", "id=3; Path=/")
    assert sorted((c.path, c.value) for c in jar.jar if c.name == "id") == [("/", "3"), ("/x", "2")]
    assert len(jar) == 3


def test_host_only_and_domain_cookie_with_the_same_domain_share_a_key(jar: Cookies) -> None:
    # RFC 6265 §5.3 step 11: the key is (name, domain, path); the newer cookie replaces.
    store(jar, "https://example.com/", "a=1")
    store(jar, "https://example.com/", "a=2; Domain=example.com")
    (cookie,) = jar.jar
    assert cookie.value == "2" and not cookie.host_only


# -- extract_cookies / cookie_header edges -----------------------------------------------------


def test_extract_without_request_or_without_set_cookie(jar: Cookies) -> None:
    jar.extract_cookies(hyperhttp.Response(200, headers=[("Set-Cookie", "a=1")]))
    jar.extract_cookies(response("https://example.com/"))
    assert len(jar) == 0


def test_extract_reads_every_set_cookie_field_not_comma_split(jar: Cookies) -> None:
    store(
        jar,
        "https://example.com/",
        "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
        "b=2, c=3",
    )
    assert [(c.name, c.value) for c in jar.jar] == [("a", "1"), ("b", "2, c=3")]


def test_store_set_cookie_returns_the_cookie(jar: Cookies) -> None:
    cookie = jar.store_set_cookie("a=1; HttpOnly; SameSite=Strict", "https://example.com/x/y")
    assert cookie == Cookie(
        name="a",
        value="1",
        domain="example.com",
        path="/x",
        host_only=True,
        http_only=True,
        same_site="Strict",
        creation_time=T0,
    )
    assert jar.store_set_cookie("nonsense", "https://example.com/") is None


def test_cookie_header_for_an_empty_jar_does_no_work() -> None:
    # The client calls it for every request: an empty jar must not even parse the URL.
    assert Cookies().cookie_header("not a url at all") is None


def test_cookie_header_accepts_str_and_url(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1")
    assert jar.cookie_header(hyperhttp.URL("https://example.com/")) == "a=1"
    assert jar.cookie_header("https://example.com") == "a=1"  # empty path is "/"


def test_cookie_header_never_duplicates(jar: Cookies) -> None:
    store(jar, "https://a.example.com/", "a=1; Domain=a.example.com")
    store(jar, "https://a.example.com/", "a=1; Domain=a.example.com")
    jar.set("a", "1", domain="a.example.com")
    assert jar.cookie_header("https://a.example.com/") == "a=1"


def test_trailing_dot_host_is_the_same_host(jar: Cookies) -> None:
    store(jar, "https://example.com./", "a=1")
    assert names(jar, "https://example.com/") == ["a"]


# -- the user API ------------------------------------------------------------------------------


def test_construct_from_dict_list_and_none() -> None:
    assert dict(Cookies({"a": "1", "b": "2"}).items()) == {"a": "1", "b": "2"}
    assert dict(Cookies([("a", "1"), ("b", "2")]).items()) == {"a": "1", "b": "2"}
    assert len(Cookies()) == 0 and len(Cookies(None)) == 0


def test_user_cookie_without_domain_goes_everywhere(jar: Cookies) -> None:
    jar.set("a", "1")
    (cookie,) = jar.jar
    assert cookie.domain == "" and cookie.path == "/" and not cookie.host_only
    assert jar.cookie_header("http://anything.example/x") == "a=1"
    assert jar.cookie_header("https://10.0.0.1/") == "a=1"


def test_user_cookie_with_domain_and_path(jar: Cookies) -> None:
    jar.set("a", "1", domain=".Example.com", path="/api")
    (cookie,) = jar.jar
    assert (cookie.domain, cookie.path, cookie.host_only) == ("example.com", "/api", False)
    assert names(jar, "https://x.example.com/api/v1") == ["a"]
    assert names(jar, "https://x.example.com/") == []
    assert names(jar, "https://badexample.com/api") == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("", "v"), ("a;b", "v"), ("a=b", "v"), ("a b", "v"), ("a\n", "v"), ("a", "v;w")],
)
def test_set_rejects_what_cannot_go_into_a_header(jar: Cookies, name: str, value: str) -> None:
    with pytest.raises(ValueError):
        jar.set(name, value)


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "\x00", "a\tb"])
def test_set_rejects_control_characters_in_values(jar: Cookies, value: str) -> None:
    with pytest.raises(ValueError):
        jar["a"] = value


def test_set_rejects_bad_domain_path_size_and_type(jar: Cookies) -> None:
    with pytest.raises(ValueError):
        jar.set("a", "1", domain="exa mple.com")
    with pytest.raises(ValueError):
        jar.set("a", "1", domain="a/b")
    with pytest.raises(ValueError):
        jar.set("a", "1", path="relative")
    with pytest.raises(ValueError):
        jar.set("a", "x" * MAX_COOKIE_SIZE)
    with pytest.raises(TypeError):
        jar.set("a", 1)  # type: ignore[arg-type]
    jar.set("a", "x" * (MAX_COOKIE_SIZE - 1))


def test_get_getitem_contains_and_conflicts(jar: Cookies) -> None:
    jar.set("a", "1")
    assert jar.get("a") == "1" and jar["a"] == "1" and "a" in jar
    assert jar.get("missing") is None and jar.get("missing", "d") == "d"
    assert "missing" not in jar and 42 not in jar
    with pytest.raises(KeyError):
        jar["missing"]
    jar.set("a", "2", domain="example.com")
    jar.set("a", "3", path="/x")
    with pytest.raises(CookieConflict) as info:
        jar["a"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, hyperhttp.HyperHTTPError)
    message = str(info.value)
    assert "domain=" in message and "example.com" in message
    assert not any(value in message for value in ("1", "2", "3"))  # values are secrets
    assert jar.get("a", domain="example.com") == "2"
    assert jar.get("a", path="/x") == "3"
    assert jar.get("a", domain="", path="/") == "1"
    assert "a" in jar  # membership never conflicts


def test_delete_and_delitem(jar: Cookies) -> None:
    jar.set("a", "1")
    jar.set("a", "2", domain="example.com")
    jar.set("b", "3")
    jar.delete("a", domain="example.com")
    assert [c.value for c in jar.jar if c.name == "a"] == ["1"]
    jar.delete("nothing")  # no error
    del jar["a"]
    assert "a" not in jar
    with pytest.raises(KeyError):
        del jar["a"]
    assert list(jar) == ["b"]


def test_clear_all_by_domain_and_by_path(jar: Cookies) -> None:
    store(jar, "https://example.com/", "a=1", "b=1; Path=/x")
    store(jar, "https://other.example/", "c=1")
    jar.clear(domain="other.example")
    assert sorted(jar) == ["a", "b"]
    jar.clear(domain="example.com", path="/x")
    assert list(jar) == ["a"]
    store(jar, "https://other.example/", "c=1")
    jar.clear()
    assert len(jar) == 0 and not jar and jar.cookie_header("https://example.com/") is None


def test_mapping_protocol(jar: Cookies) -> None:
    jar["a"] = "1"
    jar["b"] = "2"
    jar.set("a", "3", domain="example.com")
    assert list(jar) == ["a", "b", "a"]  # names repeat, like httpx
    assert len(jar) == 3 and bool(jar)
    assert list(jar.items()) == [("a", "1"), ("b", "2"), ("a", "3")]
    assert ("a", "3") in jar.items() and ("a", "9") not in jar.items()
    assert list(jar.values()) == ["1", "2", "3"] and "2" in jar.values()
    assert list(jar.keys()) == ["a", "b", "a"]
    assert not Cookies()


def test_update_from_mapping_pairs_and_jar(jar: Cookies) -> None:
    jar.update({"a": "1"})
    jar.update([("b", "2")])
    other = Cookies()
    store(other, "https://example.com/p/q", "c=3; Secure; HttpOnly")
    jar.update(other)
    jar.update(None)
    assert [c.name for c in jar.jar] == ["a", "b", "c"]
    copied = jar.jar[2]
    assert copied.domain == "example.com" and copied.path == "/p" and copied.secure
    assert copied.host_only and copied.http_only
    # Updating again replaces in place.
    jar.update({"a": "10"})
    assert jar["a"] == "10" and len(jar) == 3


def test_repr_never_shows_values(jar: Cookies) -> None:
    store(jar, "https://example.com/", "session=SECRET-TOKEN")
    jar.set("api", "ANOTHER-SECRET")
    text = repr(jar)
    assert "SECRET" not in text
    assert "session" in text and "example.com" in text and "api" in text
    assert "SECRET" not in repr(jar.jar) and "SECRET" not in str(jar.jar[0])
    parsed = parse_set_cookie("x=SECRET")
    assert "SECRET" not in repr(parsed)


def test_repr_of_a_big_jar_is_bounded(jar: Cookies) -> None:
    for i in range(40):
        jar.set(f"c{i}", "v")
    text = repr(jar)
    assert "20 more" in text and len(text) < 1000


def test_jar_lists_cookie_records_oldest_first(jar: Cookies, clock: Clock) -> None:
    store(jar, "https://example.com/", "b=1")
    clock.advance(1)
    store(jar, "https://example.com/", "a=1; Domain=example.com")
    assert [(c.name, c.creation_time) for c in jar.jar] == [("b", T0), ("a", T0 + 1)]


def test_cookies_is_exported_in_a_form_the_lead_can_reexport() -> None:
    assert Cookies.__doc__ and Cookie.__doc__ and CookieConflict.__doc__
    assert issubclass(CookieConflict, hyperhttp.HyperHTTPError)


# -- P-11: cookies never leave their scope -----------------------------------------------------

HOSTS = [
    "example.com",
    "a.example.com",
    "b.a.example.com",
    "badexample.com",
    "xa.example.com",
    "example.co.uk",
    "notexample.co.uk",
    "a.example.co.uk",
    "co.uk",
    "x.github.io",
    "y.github.io",
    "wwx.github.io",
    "github.io",
    "10.0.0.1",
    "localhost",
]
PUBLIC = {"com", "uk", "co.uk", "io", "github.io", "localhost", "1", "0.1", "0.0.1", "0.0.0.1"}
PATHS = ["", "/", "/foo", "/foo/", "/foo/bar", "/foobar", "/foo/bar/baz", "/Foo"]


def _labels_end_with(host: str, domain: str) -> bool:
    host_labels = host.split(".")
    domain_labels = domain.split(".")
    return host_labels[-len(domain_labels) :] == domain_labels


def _is_ipv4(host: str) -> bool:
    return host.replace(".", "").isdigit()


def _secure(scheme: str, host: str) -> bool:
    return scheme == "https" or host in ("localhost", "127.0.0.1")


def _expected(
    set_scheme: str,
    set_host: str,
    set_path: str,
    name: str,
    domain_attr: str | None,
    path_attr: str | None,
    secure: bool,
    max_age: int | None,
    req_scheme: str,
    req_host: str,
    req_path: str,
    elapsed: int,
) -> bool:
    """An independent statement of the rules: should the cookie be sent?"""
    set_host_secure = _secure(set_scheme, set_host)
    if secure and not set_host_secure:
        return False
    # Domain.
    if domain_attr is None:
        host_only, domain = True, set_host
    else:
        d = domain_attr.lower().removeprefix(".").removesuffix(".")
        if d == set_host:
            host_only = d in PUBLIC or _is_ipv4(d)
            domain = d
        else:
            if _is_ipv4(set_host) or d in PUBLIC or not _labels_end_with(set_host, d):
                return False
            host_only, domain = False, d
    # Path.
    if path_attr is not None and path_attr.startswith("/"):
        path = path_attr
    else:
        base = set_path or "/"
        path = base[: base.rfind("/")] or "/"
    # Prefixes.
    if name.lower().startswith("__secure-") and not secure:
        return False
    if name.lower().startswith("__host-") and not (
        secure and domain_attr is None and path_attr == "/"
    ):
        return False
    # Expiry.
    if max_age is not None and max_age <= elapsed:
        return False
    # Request side.
    if host_only:
        if req_host != domain:
            return False
    elif not (
        req_host == domain or (not _is_ipv4(req_host) and _labels_end_with(req_host, domain))
    ):
        return False
    rp = req_path or "/"
    segments_cookie = [s for s in path.split("/") if s]
    segments_request = rp.split("/")[1:]
    if path.endswith("/") and path != "/":
        # "/foo/" matches "/foo/" and below but not "/foo".
        if not rp.startswith(path):
            return False
    elif segments_request[: len(segments_cookie)] != segments_cookie:
        return False
    return not (secure and not _secure(req_scheme, req_host))


@st.composite
def set_cookie_origins(draw: st.DrawFn) -> tuple[str, str | None]:
    """A set-URL host and a Domain attribute aimed at it: a label suffix, a suffix cut inside
    a label ("example.com" of "badexample.com"), another host, or none; in random spelling."""
    set_host = draw(st.sampled_from(HOSTS))
    kind = draw(st.sampled_from(["none", "label-suffix", "partial-suffix", "pool"]))
    if kind == "none":
        return set_host, None
    labels = set_host.split(".")
    if kind == "label-suffix":
        domain = ".".join(labels[draw(st.integers(0, len(labels) - 1)) :])
    elif kind == "partial-suffix" and len(labels[0]) > 1:
        domain = set_host[draw(st.integers(1, len(labels[0]) - 1)) :]
    else:
        domain = draw(st.sampled_from([*HOSTS, "com", "uk", "io", "0.0.1", "evil.com"]))
    spelling = draw(st.sampled_from(["{}", "{}", ".{}", "{}.", "UPPER"]))
    domain = domain.upper() if spelling == "UPPER" else spelling.format(domain)
    return set_host, domain


@given(
    set_scheme=st.sampled_from(["http", "https"]),
    origin=set_cookie_origins(),
    set_path=st.sampled_from(PATHS),
    name=st.sampled_from(["k", "k", "k", "__Secure-k", "__Host-k", "__host-k"]),
    path_attr=st.one_of(st.none(), st.sampled_from([*PATHS, "relative"])),
    secure=st.booleans(),
    max_age=st.one_of(st.none(), st.integers(-5, 100)),
    elapsed=st.integers(0, 120),
)
@settings(max_examples=1000, deadline=None)
def test_p11_cookies_never_leave_their_scope(
    set_scheme: str,
    origin: tuple[str, str | None],
    set_path: str,
    name: str,
    path_attr: str | None,
    secure: bool,
    max_age: int | None,
    elapsed: int,
) -> None:
    """Set one cookie from a random URL with random attributes, then ask for the Cookie
    header of every request URL of the pool: sent if and only if the rules allow it."""
    set_host, domain_attr = origin
    clock = Clock()
    jar = Cookies(clock=clock)
    header = f"{name}=v"
    if domain_attr is not None:
        header += f"; Domain={domain_attr}"
    if path_attr is not None:
        header += f"; Path={path_attr}"
    if secure:
        header += "; Secure"
    if max_age is not None:
        header += f"; Max-Age={max_age}"
    store(jar, f"{set_scheme}://{set_host}{set_path}", header)
    clock.advance(elapsed)
    for req_scheme in ("http", "https"):
        for req_host in HOSTS:
            for req_path in PATHS:
                sent = jar.cookie_header(f"{req_scheme}://{req_host}{req_path}") == f"{name}=v"
                expected = _expected(
                    set_scheme,
                    set_host,
                    set_path,
                    name,
                    domain_attr,
                    path_attr,
                    secure,
                    max_age,
                    req_scheme,
                    req_host,
                    req_path,
                    elapsed,
                )
                assert sent == expected, (req_scheme, req_host, req_path)
