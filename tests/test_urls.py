"""URL parsing, normalisation, joining and query encoding (checklist R-02, R-05..R-09)."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp._exceptions import InvalidURL
from hyperhttp._urls import (
    MAX_HOST_LENGTH,
    MAX_URL_LENGTH,
    URL,
    encode_query,
)

# -- basic components -------------------------------------------------------------------


def test_components_of_a_full_url() -> None:
    url = URL("https://user:pw@Example.COM:8443/a/b?x=1&y=2#frag")
    assert url.scheme == "https"
    assert url.userinfo == "user:pw"
    assert url.username == "user"
    assert url.password == "pw"
    assert url.host == "example.com"
    assert url.port == 8443
    assert url.port_or_default == 8443
    assert url.path == "/a/b"
    assert url.query == "x=1&y=2"
    assert url.fragment == "frag"
    assert url.raw_path == b"/a/b?x=1&y=2"
    assert url.netloc == "example.com:8443"
    assert url.origin == ("https", "example.com", 8443)
    assert url.is_absolute
    assert str(url) == "https://user:pw@example.com:8443/a/b?x=1&y=2#frag"


def test_scheme_is_lowercased() -> None:
    assert URL("HTTP://example.com/").scheme == "http"


def test_absent_components_are_empty() -> None:
    url = URL("http://example.com")
    assert (url.userinfo, url.username, url.password) == ("", "", "")
    assert (url.query, url.fragment) == ("", "")
    assert url.port is None


def test_empty_path_becomes_slash_for_absolute_url() -> None:
    url = URL("http://example.com")
    assert url.path == "/"
    assert url.raw_path == b"/"
    assert str(url) == "http://example.com/"


def test_raw_path_never_contains_the_fragment() -> None:
    assert URL("http://a/p?q=1#frag").raw_path == b"/p?q=1"
    assert URL("http://a/p#frag").raw_path == b"/p"


def test_raw_path_omits_an_empty_query() -> None:
    assert URL("http://a/p?").raw_path == b"/p"


@pytest.mark.parametrize(
    ("text", "port", "default", "netloc"),
    [
        ("http://a/", None, 80, "a"),
        ("http://a:80/", None, 80, "a"),
        ("https://a:443/", None, 443, "a"),
        ("http://a:443/", 443, 443, "a:443"),
        ("https://a:80/", 80, 80, "a:80"),
        ("http://a:8080/", 8080, 8080, "a:8080"),
        ("http://a:0/", 0, 0, "a:0"),
        ("http://a:65535/", 65535, 65535, "a:65535"),
        ("http://a:/", None, 80, "a"),
        ("http://a:0080/", None, 80, "a"),
    ],
)
def test_ports(text: str, port: int | None, default: int, netloc: str) -> None:
    url = URL(text)
    assert url.port == port
    assert url.port_or_default == default
    assert url.netloc == netloc
    assert url.origin == (url.scheme, "a", default)


def test_default_port_is_dropped_from_str() -> None:
    assert str(URL("https://a:443/x")) == "https://a/x"


# -- rejections (R-06) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "http://",
        "http:///x",
        "https://",
        "http://:80/",
        "http://user:pw@/x",
    ],
)
def test_empty_host_is_rejected(text: str) -> None:
    with pytest.raises(InvalidURL, match="empty host"):
        URL(text)


@pytest.mark.parametrize(
    "text", ["http://[::1", "http://[::1/x", "http://[::g]/", "http://[1.2.3.4]/", "http://[]/"]
)
def test_bad_ipv6_is_rejected(text: str) -> None:
    with pytest.raises(InvalidURL, match="IPv6"):
        URL(text)


def test_text_after_ipv6_literal_is_rejected() -> None:
    with pytest.raises(InvalidURL, match="unexpected text"):
        URL("http://[::1]x/")


def test_ipv6_zone_id_is_rejected_clearly() -> None:
    with pytest.raises(InvalidURL, match="zone identifiers are not supported"):
        URL("http://[fe80::1%25eth0]/")


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "0x50", "80:80", "8o", "١٢", "123456"])
def test_bad_port_is_rejected(port: str) -> None:
    with pytest.raises(InvalidURL, match="Invalid port"):
        URL(f"http://host:{port}/")


def test_space_in_host_is_rejected() -> None:
    with pytest.raises(InvalidURL, match="not allowed"):
        URL("http://a b/")


@pytest.mark.parametrize("host", ["a%00b", "a%2Fb", "%41", "ex%2eample.com", "ドメ%41"])
def test_percent_escape_in_host_is_rejected(host: str) -> None:
    with pytest.raises(InvalidURL, match="percent-escapes"):
        URL(f"http://{host}/")


@pytest.mark.parametrize("host", ["a<b", "a^b", "a|b", 'a"b', "a`b", "a{b}"])
def test_forbidden_ascii_in_host_is_rejected(host: str) -> None:
    with pytest.raises(InvalidURL, match="not allowed"):
        URL(f"http://{host}/")


@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\t", "\x01", "\x1b", "\x1f", "\x7f"])
@pytest.mark.parametrize(
    "template",
    [
        "http://exa{}mple.com/",
        "http://example.com/pa{}th",
        "http://example.com/?q=a{}b",
        "http://example.com/#fr{}ag",
        "http://us{}er:pw@example.com/",
        "/relative{}",
        "{}http://example.com/",
        "http://example.com/{}",
    ],
)
def test_control_characters_are_rejected_anywhere(template: str, char: str) -> None:
    with pytest.raises(InvalidURL, match="control character"):
        URL(template.format(char))


def test_crlf_injection_in_query_is_rejected() -> None:
    with pytest.raises(InvalidURL):
        URL("http://example.com/x?q=\r&k=\n \n")


@pytest.mark.parametrize("scheme", ["foo", "ftp", "file", "javascript", "ws", "httpx"])
def test_unsupported_scheme_is_rejected_and_named(scheme: str) -> None:
    with pytest.raises(InvalidURL, match=f"'{scheme}'"):
        URL(f"{scheme}://example.com/")


def test_uppercase_unsupported_scheme_is_named_as_given() -> None:
    with pytest.raises(InvalidURL, match="'FTP'"):
        URL("FTP://example.com/")


@pytest.mark.parametrize("text", ["http:g", "http:/x", "https:", "http:\\\\evil.com"])
def test_http_url_without_authority_is_rejected(text: str) -> None:
    with pytest.raises(InvalidURL, match="needs a host"):
        URL(text)


@pytest.mark.parametrize("text", ["http://a\\@b/", "http://evil.com\\@good.com/", "http://a\\b/"])
def test_backslash_in_authority_is_rejected(text: str) -> None:
    # A WHATWG parser (browsers, many proxies) would read a different host.
    with pytest.raises(InvalidURL, match="backslash"):
        URL(text)


def test_backslash_in_path_is_encoded() -> None:
    assert URL("http://a/b\\c").path == "/b%5Cc"


def test_schemeless_text_is_a_relative_reference() -> None:
    url = URL("example.com/x")
    assert not url.is_absolute
    assert url.is_relative
    assert url.scheme == ""
    assert url.host == ""
    assert url.path == "example.com/x"


def test_url_longer_than_the_cap_is_rejected() -> None:
    text = "http://example.com/" + "a" * MAX_URL_LENGTH
    with pytest.raises(InvalidURL, match="longer than"):
        URL(text)


def test_url_at_the_cap_is_accepted() -> None:
    prefix = "http://example.com/"
    url = URL(prefix + "a" * (MAX_URL_LENGTH - len(prefix)))
    assert len(str(url)) == MAX_URL_LENGTH


def test_long_userinfo_is_bounded_by_the_url_cap() -> None:
    with pytest.raises(InvalidURL, match="longer than"):
        URL("http://" + "u" * 70000 + ":p@example.com/")


def test_wrong_argument_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        URL(b"http://example.com/")  # type: ignore[arg-type]


# -- host names (R-05, R-07) --------------------------------------------------------------


def test_host_is_lowercased() -> None:
    assert URL("http://EXAMPLE.Com/").host == "example.com"


def test_one_trailing_dot_of_the_host_is_stripped() -> None:
    url = URL("http://EXAMPLE.com./x")
    assert url.host == "example.com"
    assert url.netloc == "example.com"
    assert url == "http://example.com/x"


def test_two_trailing_dots_are_rejected() -> None:
    with pytest.raises(InvalidURL, match="empty label"):
        URL("http://example.com../")


@pytest.mark.parametrize("host", [".example.com", "a..b", "."])
def test_empty_labels_are_rejected(host: str) -> None:
    with pytest.raises(InvalidURL):
        URL(f"http://{host}/")


def test_idna_host_is_converted_to_a_labels() -> None:
    url = URL("http://ドメイン.テスト/")
    assert url.host == "xn--eckwd4c7c.xn--zckzah"
    assert url.netloc == "xn--eckwd4c7c.xn--zckzah"
    assert str(url) == "http://xn--eckwd4c7c.xn--zckzah/"


def test_idna_uses_uts46_mapping_for_uppercase_and_fullwidth() -> None:
    assert URL("http://Bücher.DE/").host == "xn--bcher-kva.de"
    assert URL("http://ＥＸＡＭＰＬＥ．ｃｏｍ/").host == "example.com"
    assert URL("http://ドメイン。テスト/").host == "xn--eckwd4c7c.xn--zckzah"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("evil.com\uff0fgood.com", "not allowed"),  # fullwidth "/"
        ("evil.com\uff20good.com", "not allowed"),  # fullwidth "@"
        ("ex\uff05\uff14\uff11.com", "percent-escapes"),  # fullwidth "%41"
    ],
)
def test_delimiters_produced_by_uts46_mapping_are_rejected(host: str, message: str) -> None:
    # curl CVE-2022-27780-style: the mapped host must not gain a path, userinfo or escape.
    with pytest.raises(InvalidURL, match=message):
        URL(f"http://{host}/")


def test_idna_2008_is_used_not_2003() -> None:
    # IDNA 2003 maps "ß" to "ss"; IDNA 2008 keeps it (curl CVE-2016-8625).
    assert URL("http://faß.de/").host == "xn--fa-hia.de"


def test_idna_host_with_ascii_labels_keeps_them() -> None:
    assert URL("http://my_host.ドメイン.テスト/").host == "my_host.xn--eckwd4c7c.xn--zckzah"


def test_a_label_input_is_accepted_unchanged() -> None:
    assert URL("http://XN--eckwd4c7c.xn--zckzah/").host == "xn--eckwd4c7c.xn--zckzah"


@pytest.mark.parametrize("host", ["xn--zz", "xn--abc.com", "www.xn--ls8h.la", "xn--.com"])
def test_invalid_xn_label_is_rejected(host: str) -> None:
    with pytest.raises(InvalidURL, match="IDNA"):
        URL(f"http://{host}/")


@pytest.mark.parametrize("host", ["a\u200db.com", "\u0661\u0031.com", "ドメイン.\u0378"])
def test_invalid_unicode_host_is_invalid_url_not_unicode_error(host: str) -> None:
    with pytest.raises(InvalidURL) as info:
        URL(f"http://{host}/")
    assert not isinstance(info.value, UnicodeError)


def test_label_of_63_octets_is_accepted() -> None:
    assert URL("http://" + "a" * 63 + ".com/").host == "a" * 63 + ".com"


def test_label_of_64_octets_is_rejected() -> None:
    with pytest.raises(InvalidURL, match="label longer than 63"):
        URL("http://" + "a" * 64 + ".com/")


def test_unicode_label_longer_than_63_octets_is_rejected() -> None:
    with pytest.raises(InvalidURL):
        URL("http://" + "ド" * 60 + ".com/")


def _host_of_length(length: int) -> str:
    labels = []
    while length > 0:
        size = min(63, length)
        if length - size == 1:  # never leave a single char for "." alone
            size -= 2
        labels.append("a" * size)
        length -= size + 1
    host = ".".join(labels)
    return host


def test_host_of_253_chars_is_accepted() -> None:
    host = _host_of_length(253)
    assert len(host) == 253
    assert URL(f"http://{host}/").host == host


def test_host_of_254_chars_is_rejected() -> None:
    host = _host_of_length(254)
    assert len(host) == 254
    with pytest.raises(InvalidURL, match=f"longer than {MAX_HOST_LENGTH}"):
        URL(f"http://{host}/")


def test_huge_unicode_host_is_rejected_before_idna_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import idna

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("idna must not see an over-long host (CVE-2024-3651)")

    monkeypatch.setattr(idna, "uts46_remap", boom)
    monkeypatch.setattr(idna, "alabel", boom)
    with pytest.raises(InvalidURL, match="longer than"):
        URL("http://" + "ü" * 254 + "/")
    with pytest.raises(InvalidURL, match="longer than"):
        URL("http://" + "ü" * 5000 + ".com/")


def test_ipv4_literal_is_kept() -> None:
    url = URL("http://192.168.0.1:8080/")
    assert url.host == "192.168.0.1"
    assert url.netloc == "192.168.0.1:8080"


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "0x7f000001", "2130706433", "1.2.3.256"])
def test_ambiguous_numeric_hosts_are_rejected(host: str) -> None:
    with pytest.raises(InvalidURL, match="IPv4"):
        URL(f"http://{host}/")


def test_leading_zero_ipv4_is_rejected() -> None:
    # inet_aton would read 010 as octal 8.
    with pytest.raises(InvalidURL, match="IPv4"):
        URL("http://010.0.0.1/")


def test_ipv6_literal_is_stored_without_brackets_and_compressed() -> None:
    url = URL("http://[2001:DB8:0:0:0:0:0:1]:8080/x")
    assert url.host == "2001:db8::1"
    assert url.netloc == "[2001:db8::1]:8080"
    assert url.origin == ("http", "2001:db8::1", 8080)
    assert str(url) == "http://[2001:db8::1]:8080/x"


def test_ipv6_default_port_netloc() -> None:
    assert URL("https://[::1]:443/").netloc == "[::1]"


# -- percent-encoding (R-02, R-08) ----------------------------------------------------------


def test_encoded_crlf_in_path_stays_encoded() -> None:
    url = URL("http://example.com/%0d%0aX:y")
    assert url.path == "/%0d%0aX:y"
    assert url.raw_path == b"/%0d%0aX:y"
    assert b"\r" not in url.raw_path and b"\n" not in url.raw_path


def test_relative_reference_with_encoded_crlf_stays_encoded() -> None:
    assert URL("/%0d%0aX:y").path == "/%0d%0aX:y"


def test_lone_percent_is_encoded() -> None:
    assert URL("http://a/%").path == "/%25"
    assert URL("http://a/?q=%").query == "q=%25"


def test_invalid_escape_is_encoded() -> None:
    assert URL("http://a/%zz").path == "/%25zz"


def test_truncated_escape_is_encoded() -> None:
    assert URL("http://a/%2").path == "/%252"
    assert URL("http://a/x%2?y=%a").raw_path == b"/x%252?y=%25a"


def test_valid_escape_is_not_double_encoded() -> None:
    url = URL("http://a/a%20b?c=%20d#%20e")
    assert url.path == "/a%20b"
    assert url.query == "c=%20d"
    assert url.fragment == "%20e"


def test_valid_escape_case_is_kept() -> None:
    assert URL("http://a/%2f%2F").path == "/%2f%2F"


def test_space_in_path_is_encoded() -> None:
    assert URL("http://a/a b").raw_path == b"/a%20b"


def test_space_in_query_and_fragment_is_encoded() -> None:
    url = URL("http://a/?q=a b#c d")
    assert url.query == "q=a%20b"
    assert url.fragment == "c%20d"


def test_non_ascii_path_is_utf8_percent_encoded() -> None:
    url = URL("http://a/日本?q=é")
    assert url.path == "/%E6%97%A5%E6%9C%AC"
    assert url.query == "q=%C3%A9"
    url.raw_path.decode("ascii")


def test_invalid_path_characters_are_encoded() -> None:
    assert URL('http://a/"<>\\^`{|}[]').path == "/%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D"


def test_reserved_characters_in_query_are_kept() -> None:
    url = URL("http://a/?a=1&b=x+y&c==&d=/?:@!$'()*,;")
    assert url.query == "a=1&b=x+y&c==&d=/?:@!$'()*,;"


def test_hash_inside_fragment_is_encoded() -> None:
    assert URL("http://a/#x#y").fragment == "x%23y"


def test_lone_surrogate_is_invalid_url() -> None:
    with pytest.raises(InvalidURL, match="cannot be encoded"):
        URL("http://a/\ud800")


def test_normalisation_is_idempotent_for_encoded_input() -> None:
    once = URL("http://a/a b/%/%zz/日?x=%&y=a b#f g")
    assert URL(str(once)) == once
    assert str(URL(str(once))) == str(once)


def test_surrounding_spaces_are_ignored() -> None:
    assert URL("  http://a/b  ") == "http://a/b"


def test_dot_segments_are_removed_from_absolute_paths() -> None:
    assert URL("http://a/b/../c/./d").path == "/c/d"
    assert URL("http://a/../../x").path == "/x"
    assert URL("http://a/b/..").path == "/"


def test_dot_segments_are_kept_in_relative_references() -> None:
    assert URL("../a/./b").path == "../a/./b"


# -- userinfo (R-09) ------------------------------------------------------------------------


def test_userinfo_is_decoded_in_username_and_password() -> None:
    url = URL("http://user:p%40ss@host/")
    assert url.username == "user"
    assert url.password == "p@ss"
    assert url.userinfo == "user:p%40ss"


def test_last_at_sign_ends_the_userinfo() -> None:
    url = URL("http://evil@good@host/")
    assert url.host == "host"
    assert url.username == "evil@good"
    assert url.userinfo == "evil%40good"


def test_userinfo_that_looks_like_a_host_is_not_the_host() -> None:
    url = URL("http://evil.example@good.example/")
    assert url.host == "good.example"
    assert url.username == "evil.example"


def test_authority_ends_at_the_first_slash_question_or_hash() -> None:
    assert URL("http://good.example/@evil.example/").host == "good.example"
    assert URL("http://good.example?@evil.example/").host == "good.example"
    assert URL("http://good.example#@evil.example/").host == "good.example"


def test_password_with_colon() -> None:
    url = URL("http://user:a:b@host/")
    assert url.password == "a:b"


def test_username_without_password() -> None:
    url = URL("http://user@host/")
    assert (url.username, url.password) == ("user", "")
    assert url.redacted == "http://user@host/"


def test_str_keeps_the_userinfo() -> None:
    assert str(URL("http://user:secret@host/")) == "http://user:secret@host/"


def test_redacted_hides_the_password() -> None:
    url = URL("http://user:secret@host/p?q#f")
    assert url.redacted == "http://user:[secure]@host/p?q#f"


def test_repr_never_shows_the_password() -> None:
    url = URL("https://user:hunter2@host:8443/p")
    assert repr(url) == "URL('https://user:[secure]@host:8443/p')"
    assert "hunter2" not in repr(url)


def test_repr_of_a_plain_url() -> None:
    assert repr(URL("http://a/x")) == "URL('http://a/x')"


@pytest.mark.parametrize(
    "text",
    [
        "http://user:hunter2@host:99999/",
        "http://user:hunter2@bad host/",
        "http://user:hunter2@/",
        "http://user:hunter2@[::1/",
        "http://user:hunter2@xn--zz/",
        "http://user:hunter2@host/\r\n",
        "ftp://user:hunter2@host/",
        "http://user:hunter2@" + "a" * 300 + "/",
    ],
)
def test_errors_never_contain_the_password(text: str) -> None:
    with pytest.raises(InvalidURL) as info:
        URL(text)
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value)


# -- equality, hashing, immutability -------------------------------------------------------


def test_equality_is_on_the_normalised_form() -> None:
    assert URL("HTTP://Example.com:80") == URL("http://example.com/")
    assert URL("http://example.com:80/") == "http://EXAMPLE.com/"


def test_inequality() -> None:
    assert URL("http://a/x") != URL("http://a/y")
    assert URL("http://a/x") != "http://a/y"


def test_comparison_with_an_invalid_string_is_false() -> None:
    assert URL("http://a/") != "http://a b/"


def test_comparison_with_other_types_is_not_implemented() -> None:
    assert URL("http://a/") != 1
    assert (URL("http://a/") == None) is False  # noqa: E711


def test_hash_matches_equality() -> None:
    assert hash(URL("HTTP://A:80")) == hash(URL("http://a/"))
    assert len({URL("http://a"), URL("http://A/"), URL("http://b/")}) == 2


def test_hash_matches_str_hash() -> None:
    assert hash(URL("http://a/")) == hash("http://a/")


def test_url_is_immutable() -> None:
    url = URL("http://a/")
    with pytest.raises(AttributeError):
        url.host = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        url.anything = 1  # type: ignore[attr-defined]


def test_url_from_url() -> None:
    url = URL("http://a/x?y=1")
    assert URL(url) == url
    assert str(URL(url)) == "http://a/x?y=1"


def test_pickle_and_copy() -> None:
    url = URL("http://u:p@a/x?y#z")
    assert pickle.loads(pickle.dumps(url)) == url
    assert copy.copy(url) == url
    assert copy.deepcopy(url) == url


# -- relative references and join (RFC 3986 section 5.4) -----------------------------------

BASE = "http://a/b/c/d;p?q"

NORMAL_EXAMPLES = [
    ("g", "http://a/b/c/g"),
    ("./g", "http://a/b/c/g"),
    ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"),
    ("//g", "http://g"),
    ("?y", "http://a/b/c/d;p?y"),
    ("g?y", "http://a/b/c/g?y"),
    ("#s", "http://a/b/c/d;p?q#s"),
    ("g#s", "http://a/b/c/g#s"),
    ("g?y#s", "http://a/b/c/g?y#s"),
    (";x", "http://a/b/c/;x"),
    ("g;x", "http://a/b/c/g;x"),
    ("g;x?y#s", "http://a/b/c/g;x?y#s"),
    ("", "http://a/b/c/d;p?q"),
    (".", "http://a/b/c/"),
    ("./", "http://a/b/c/"),
    ("..", "http://a/b/"),
    ("../", "http://a/b/"),
    ("../g", "http://a/b/g"),
    ("../..", "http://a/"),
    ("../../", "http://a/"),
    ("../../g", "http://a/g"),
]

ABNORMAL_EXAMPLES = [
    ("../../../g", "http://a/g"),
    ("../../../../g", "http://a/g"),
    ("/./g", "http://a/g"),
    ("/../g", "http://a/g"),
    ("g.", "http://a/b/c/g."),
    (".g", "http://a/b/c/.g"),
    ("g..", "http://a/b/c/g.."),
    ("..g", "http://a/b/c/..g"),
    ("./../g", "http://a/b/g"),
    ("./g/.", "http://a/b/c/g/"),
    ("g/./h", "http://a/b/c/g/h"),
    ("g/../h", "http://a/b/c/h"),
    ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
    ("g;x=1/../y", "http://a/b/c/y"),
    ("g?y/./x", "http://a/b/c/g?y/./x"),
    ("g?y/../x", "http://a/b/c/g?y/../x"),
    ("g#s/./x", "http://a/b/c/g#s/./x"),
    ("g#s/../x", "http://a/b/c/g#s/../x"),
    # RFC 3986 5.4.2 allows either; we take the backward-compatible reading.
    ("http:g", "http://a/b/c/g"),
]


@pytest.mark.parametrize(("reference", "expected"), NORMAL_EXAMPLES)
def test_join_rfc3986_normal_examples(reference: str, expected: str) -> None:
    assert URL(BASE).join(reference) == expected


@pytest.mark.parametrize(("reference", "expected"), ABNORMAL_EXAMPLES)
def test_join_rfc3986_abnormal_examples(reference: str, expected: str) -> None:
    assert URL(BASE).join(reference) == expected


def test_join_exact_strings() -> None:
    base = URL(BASE)
    assert str(base.join("//g")) == "http://g/"
    assert str(base.join("?y")) == "http://a/b/c/d;p?y"
    assert str(base.join("#s")) == "http://a/b/c/d;p?q#s"


def test_join_with_unsupported_scheme_reference_is_invalid() -> None:
    # RFC 5.4.1 "g:h" -> "g:h", which is not an http(s) URL.
    with pytest.raises(InvalidURL, match="'g'"):
        URL(BASE).join("g:h")


def test_join_absolute_reference_replaces_everything() -> None:
    assert URL("http://a/b?c").join("https://x.example/y") == "https://x.example/y"


def test_join_network_path_reference_keeps_scheme_and_normalises_port() -> None:
    joined = URL("https://a/b").join("//other:443/x")
    assert str(joined) == "https://other/x"
    assert joined.port is None


def test_join_does_not_carry_userinfo_to_another_host() -> None:
    joined = URL("http://user:pw@a/b").join("//other/x")
    assert joined.userinfo == ""


def test_join_keeps_userinfo_on_same_host_references() -> None:
    assert URL("http://user:pw@a/b").join("c").userinfo == "user:pw"


def test_join_accepts_a_url() -> None:
    assert URL("http://a/b/c").join(URL("../d?x=1")) == "http://a/d?x=1"


def test_join_on_base_without_path() -> None:
    assert URL("http://a").join("x") == "http://a/x"
    assert URL("http://a/api/").join("v1/items") == "http://a/api/v1/items"
    assert URL("http://a/api").join("v1/items") == "http://a/v1/items"


def test_join_encodes_the_reference() -> None:
    assert URL("http://a/").join("a b?c d").raw_path == b"/a%20b?c%20d"


def test_join_rejects_bad_reference() -> None:
    with pytest.raises(InvalidURL):
        URL("http://a/").join("/x\r\nHost: evil")


def test_join_is_memoised_and_consistent() -> None:
    base = URL("http://a/b/")
    assert base.join("c") is not base.join("c")
    assert base.join("c") == base.join("c")


def test_relative_references_parse() -> None:
    url = URL("/path?x=1#f")
    assert not url.is_absolute
    assert (url.path, url.query, url.fragment) == ("/path", "x=1", "f")
    assert url.raw_path == b"/path?x=1"
    assert url.port_or_default is None
    with pytest.raises(InvalidURL):
        _ = url.origin


def test_network_path_reference_parses() -> None:
    url = URL("//h:80/p")
    assert (url.scheme, url.host, url.port, url.path) == ("", "h", 80, "/p")
    assert not url.is_absolute


def test_empty_url() -> None:
    url = URL()
    assert str(url) == ""
    assert not url.is_absolute
    assert URL("http://a/b").join(url) == "http://a/b"


def test_relative_path_with_colon_round_trips() -> None:
    url = URL("http://a/").join("./x:y")
    assert url.path == "/x:y"
    relative = URL("").join("./x:y")
    assert URL(str(relative)) == relative


# -- query parameters ------------------------------------------------------------------------


def test_params_argument_is_appended_to_the_query() -> None:
    assert URL("http://a/?x=1", params={"y": 2}) == "http://a/?x=1&y=2"
    assert URL("http://a/", params={"y": 2}) == "http://a/?y=2"


def test_empty_params_leave_the_url_alone() -> None:
    assert str(URL("http://a/?x=1", params={})) == "http://a/?x=1"
    assert str(URL("http://a/", params=None)) == "http://a/"


def test_params_keep_the_fragment() -> None:
    assert str(URL("http://a/#f", params={"y": "1"})) == "http://a/?y=1#f"


def test_params_property_decodes() -> None:
    url = URL("http://a/?a=1&b=&c&&d=x+y%20z&e=%26%3D&a=2")
    assert url.params == [
        ("a", "1"),
        ("b", ""),
        ("c", ""),
        ("d", "x y z"),
        ("e", "&="),
        ("a", "2"),
    ]


def test_params_of_url_without_query() -> None:
    assert URL("http://a/").params == []


def test_encode_query_none_and_empty() -> None:
    assert encode_query(None) == ""
    assert encode_query({}) == ""
    assert encode_query([]) == ""


def test_encode_query_mapping_values() -> None:
    params = {"s": "x", "i": 1, "f": 1.5, "t": True, "n": False, "z": None}
    assert encode_query(params) == "s=x&i=1&f=1.5&t=true&n=false&z="


def test_encode_query_list_values_repeat_the_key() -> None:
    assert encode_query({"a": [1, 2], "b": ("x", "y")}) == "a=1&a=2&b=x&b=y"


def test_encode_query_empty_list_omits_the_key() -> None:
    assert encode_query({"a": [], "b": 1}) == "b=1"


def test_encode_query_pairs_keep_order_and_duplicates() -> None:
    assert encode_query([("b", 1), ("a", 2), ("b", 3)]) == "b=1&a=2&b=3"


def test_encode_query_escapes_reserved_characters() -> None:
    assert encode_query({"a b": "c&d=e+f#g/h?"}) == "a%20b=c%26d%3De%2Bf%23g%2Fh%3F"


def test_encode_query_encodes_non_ascii_as_utf8() -> None:
    assert encode_query({"q": "日本"}) == "q=%E6%97%A5%E6%9C%AC"


def test_encode_query_space_is_percent20() -> None:
    assert encode_query({"q": "a b"}) == "q=a%20b"


def test_encode_query_round_trips_through_params() -> None:
    params = [("a b", "c&d=e+f"), ("x", ""), ("日", "本 ")]
    assert URL("http://h/", params=params).params == params


def test_encode_query_str_is_taken_as_encoded() -> None:
    assert encode_query("a=1&b=x+y%20z") == "a=1&b=x+y%20z"


def test_encode_query_str_encodes_invalid_characters() -> None:
    assert encode_query("a=b c&d=%&e=日#") == "a=b%20c&d=%25&e=%E6%97%A5%23"


def test_encode_query_str_rejects_control_characters() -> None:
    with pytest.raises(InvalidURL):
        encode_query("a=1\r\nX: y")


def test_encode_query_bytes() -> None:
    assert encode_query(b"a=1&b=2") == "a=1&b=2"
    with pytest.raises(InvalidURL):
        encode_query(b"a=\xff")


@pytest.mark.parametrize("value", [object(), b"bytes", {"nested": 1}, 1j])
def test_encode_query_rejects_other_value_types(value: object) -> None:
    with pytest.raises(TypeError):
        encode_query({"a": value})  # type: ignore[dict-item]


def test_encode_query_rejects_non_str_key() -> None:
    with pytest.raises(TypeError):
        encode_query({1: "a"})  # type: ignore[dict-item]


def test_encode_query_rejects_malformed_pairs() -> None:
    with pytest.raises(TypeError):
        encode_query([("a", "b", "c")])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        encode_query(["ab"])  # type: ignore[list-item]


def test_encode_query_rejects_unencodable_text() -> None:
    with pytest.raises(InvalidURL):
        encode_query({"a": "\ud800"})


# -- copy_with and friends ----------------------------------------------------------------


def test_copy_with_replaces_components() -> None:
    url = URL("https://user:pw@a/p?q#f")
    new = url.copy_with(host="b.example", port=8443, path="/x", query="y=1", fragment="g")
    assert str(new) == "https://user:pw@b.example:8443/x?y=1#g"
    assert str(url) == "https://user:pw@a/p?q#f"


def test_copy_with_scheme_renormalises_the_default_port() -> None:
    assert str(URL("http://a:443/").copy_with(scheme="https")) == "https://a/"
    assert URL("http://a/").copy_with(scheme="HTTPS").port_or_default == 443


def test_copy_with_rejects_bad_scheme() -> None:
    with pytest.raises(InvalidURL, match="'ftp'"):
        URL("http://a/").copy_with(scheme="ftp")


def test_copy_with_encodes_credentials() -> None:
    url = URL("http://a/").copy_with(username="us@er:x", password="p@ss:w/rd")
    assert url.userinfo == "us%40er%3Ax:p%40ss%3Aw%2Frd"
    assert (url.username, url.password) == ("us@er:x", "p@ss:w/rd")
    assert url.host == "a"


def test_copy_with_removes_credentials() -> None:
    url = URL("http://u:p@a/").copy_with(username="", password="")
    assert str(url) == "http://a/"


def test_copy_with_password_only_keeps_username() -> None:
    assert URL("http://u:p@a/").copy_with(password="new").userinfo == "u:new"


def test_copy_with_host_is_validated_alone() -> None:
    # A host cannot smuggle a path, port or userinfo.
    for bad in ["evil.com/x", "evil.com:80", "user@evil.com", "a b", "evil.com#"]:
        with pytest.raises(InvalidURL):
            URL("http://a/").copy_with(host=bad)


def test_copy_with_host_idna_and_ipv6() -> None:
    assert URL("http://a/").copy_with(host="ドメイン.テスト").host == "xn--eckwd4c7c.xn--zckzah"
    assert URL("http://a/").copy_with(host="::1").netloc == "[::1]"
    assert URL("http://a/").copy_with(host="[::1]").host == "::1"


def test_copy_with_empty_host_on_absolute_is_rejected() -> None:
    with pytest.raises(InvalidURL):
        URL("http://a/").copy_with(host="")


def test_copy_with_rejects_bad_port() -> None:
    for bad in [65536, -1, "80", 1.0, True]:
        with pytest.raises(InvalidURL):
            URL("http://a/").copy_with(port=bad)


def test_copy_with_port_none_removes_it() -> None:
    assert str(URL("http://a:8080/").copy_with(port=None)) == "http://a/"


def test_copy_with_path_escapes_delimiters() -> None:
    url = URL("http://a/").copy_with(path="/x?y#z w")
    assert url.path == "/x%3Fy%23z%20w"
    assert url.query == ""


def test_copy_with_path_must_be_absolute_with_a_host() -> None:
    with pytest.raises(InvalidURL, match="must start with '/'"):
        URL("http://a/").copy_with(path="x")


def test_copy_with_path_removes_dot_segments() -> None:
    assert URL("http://a/").copy_with(path="/x/../y").path == "/y"


def test_copy_with_rejects_control_characters() -> None:
    for key in ("path", "query", "fragment", "host", "username", "password"):
        with pytest.raises(InvalidURL, match="control character"):
            URL("http://a/").copy_with(**{key: "x\r\ny"})


def test_copy_with_query_escapes_hash() -> None:
    assert URL("http://a/").copy_with(query="a=1#b").query == "a=1%23b"


def test_copy_with_empty_query_and_fragment_remove_them() -> None:
    assert str(URL("http://a/?q#f").copy_with(query="", fragment="")) == "http://a/"


def test_copy_with_params_replaces_the_query() -> None:
    assert URL("http://a/?x=1").copy_with(params={"y": "2"}) == "http://a/?y=2"


def test_copy_with_unknown_key_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="netloc"):
        URL("http://a/").copy_with(netloc="b")


def test_copy_with_query_and_params_together_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        URL("http://a/").copy_with(query="a=1", params={"b": 2})


def test_copy_with_wrong_value_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        URL("http://a/").copy_with(path=b"/x")


def test_with_query_replaces() -> None:
    assert URL("http://a/p?x=1#f").with_query({"y": [1, 2]}) == "http://a/p?y=1&y=2#f"


def test_copy_merge_params_appends() -> None:
    url = URL("http://a/p?x=1")
    assert url.copy_merge_params({"y": 2}) == "http://a/p?x=1&y=2"
    assert url.copy_merge_params([("x", 3)]) == "http://a/p?x=1&x=3"
    assert url == "http://a/p?x=1"


# -- property test ----------------------------------------------------------------------

_URLISH = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("htps:/?#@[]%.:-_aZ09 é日\\")), max_size=40),
    st.builds(
        lambda host, path, query: f"http://{host}/{path}?{query}",
        st.text(max_size=20),
        st.text(max_size=20),
        st.text(max_size=20),
    ),
)


@settings(max_examples=500, deadline=None)
@given(_URLISH)
def test_any_text_is_rejected_or_round_trips(text: str) -> None:
    try:
        url = URL(text)
    except InvalidURL:
        return
    again = URL(str(url))
    assert again == url
    assert str(again) == str(url)
    assert url.raw_path.decode("ascii") == url.target
    str(url).encode("ascii")


@settings(max_examples=300, deadline=None)
@given(_URLISH)
def test_join_of_any_text_is_rejected_or_absolute(text: str) -> None:
    try:
        url = URL("http://a/b/c?d").join(text)
    except InvalidURL:
        return
    assert url.is_absolute
    assert URL(str(url)) == url
