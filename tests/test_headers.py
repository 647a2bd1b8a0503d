"""Headers: the multimap API, validation (checklist R-03) and redaction."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp._exceptions import LocalProtocolError
from hyperhttp._headers import (
    SENSITIVE_HEADERS,
    Headers,
    decode_header_value,
    validate_header_name,
    validate_header_value,
)

# -- construction -----------------------------------------------------------------------


def test_from_mapping() -> None:
    h = Headers({"Content-Type": "text/html", "X-A": "1"})
    assert h.raw == [(b"Content-Type", b"text/html"), (b"X-A", b"1")]


def test_from_pairs_keeps_order_and_duplicates() -> None:
    h = Headers([("B", "1"), ("a", "2"), ("b", "3")])
    assert h.raw == [(b"B", b"1"), (b"a", b"2"), (b"b", b"3")]


def test_from_bytes() -> None:
    h = Headers([(b"X-Bytes", b"v"), ("X-Str", b"w"), (b"X-Mixed", "z")])
    assert h.multi_items() == [("x-bytes", "v"), ("x-str", "w"), ("x-mixed", "z")]


def test_from_mapping_with_bytes_keys() -> None:
    assert Headers({b"A": b"1"})["a"] == "1"


def test_from_headers_is_a_copy() -> None:
    original = Headers({"a": "1"})
    copied = Headers(original)
    copied["a"] = "2"
    assert original["a"] == "1"


def test_empty() -> None:
    for h in (Headers(), Headers(None), Headers({}), Headers([])):
        assert len(h) == 0
        assert h.raw == []
        assert list(h) == []


def test_is_a_mapping() -> None:
    assert isinstance(Headers(), Mapping)


@pytest.mark.parametrize("bad", ["a: b", b"raw", 42, [("a", "b", "c")], ["ab"], [1]])
def test_bad_input_shape_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        Headers(bad)  # type: ignore[arg-type]


def test_from_raw_takes_ownership_without_copying_or_validating() -> None:
    fields = [(b"Content-Type", b"text/plain"), (b"X-Odd", b" kept as is ")]
    h = Headers.from_raw(fields)
    assert h._fields is fields
    assert h.get("x-odd") == " kept as is "


# -- lookups ------------------------------------------------------------------------------


def test_lookup_is_case_insensitive() -> None:
    h = Headers({"Content-Type": "text/html"})
    assert h["content-type"] == "text/html"
    assert h["CONTENT-TYPE"] == "text/html"
    assert h[b"content-TYPE"] == "text/html"
    assert "cOnTeNt-TyPe" in h
    assert b"content-type" in h


def test_missing_key_raises_key_error() -> None:
    with pytest.raises(KeyError):
        Headers()["x"]


def test_get_default() -> None:
    h = Headers({"a": "1"})
    assert h.get("a") == "1"
    assert h.get("b") is None
    assert h.get("b", "d") == "d"


def test_repeated_fields_are_joined_with_comma_space() -> None:
    h = Headers([("Accept", "a"), ("X", "y"), ("accept", "b")])
    assert h["accept"] == "a, b"
    assert h.get("ACCEPT") == "a, b"


def test_get_list_gives_each_field_without_splitting() -> None:
    h = Headers([("Set-Cookie", "a=1, b"), ("set-cookie", "c=2")])
    assert h.get_list("set-cookie") == ["a=1, b", "c=2"]
    assert h.get_list("missing") == []


def test_contains_non_string_is_false() -> None:
    assert 1 not in Headers({"1": "x"})


def test_len_counts_distinct_names() -> None:
    h = Headers([("a", "1"), ("A", "2"), ("b", "3")])
    assert len(h) == 2
    assert len(h.raw) == 3


def test_iteration_gives_distinct_lowercased_names_in_order() -> None:
    h = Headers([("B", "1"), ("a", "2"), ("b", "3")])
    assert list(h) == ["b", "a"]
    assert list(h.keys()) == ["b", "a"]


def test_values_and_items_join() -> None:
    h = Headers([("B", "1"), ("a", "2"), ("b", "3")])
    assert list(h.values()) == ["1, 3", "2"]
    assert list(h.items()) == [("b", "1, 3"), ("a", "2")]


def test_multi_items_gives_every_field_lowercased() -> None:
    h = Headers([("B", "1"), ("a", "2"), ("b", "3")])
    assert h.multi_items() == [("b", "1"), ("a", "2"), ("b", "3")]


def test_raw_keeps_original_casing_and_is_a_copy() -> None:
    h = Headers([("X-CamelCase", "v"), ("x-lower", "w")])
    raw = h.raw
    assert raw == [(b"X-CamelCase", b"v"), (b"x-lower", b"w")]
    raw.append((b"evil", b"x"))
    assert "evil" not in h


def test_lookups_after_mutation_see_the_change() -> None:
    h = Headers.from_raw([(b"A", b"1")])
    assert h["a"] == "1"  # index built
    h.add("a", "2")
    assert h["a"] == "1, 2"
    h["b"] = "3"
    assert h["b"] == "3"
    del h["a"]
    assert "a" not in h


# -- decoding ----------------------------------------------------------------------------


def test_values_decode_as_ascii_then_utf8_then_latin1() -> None:
    h = Headers.from_raw([(b"a", b"plain"), (b"b", "é日".encode()), (b"c", b"\xe9\xff")])
    assert h["a"] == "plain"
    assert h["b"] == "é日"
    assert h["c"] == "éÿ"


def test_decode_header_value_never_raises() -> None:
    for raw in (b"", b"\x80", b"\xff\xfe", bytes(range(256))):
        assert isinstance(decode_header_value(raw), str)


# -- mutation ----------------------------------------------------------------------------


def test_add_appends_a_field() -> None:
    h = Headers({"A": "1"})
    h.add("a", "2")
    assert h.raw == [(b"A", b"1"), (b"a", b"2")]


def test_insert_puts_a_field_at_a_position() -> None:
    h = Headers([("A", "1"), ("B", "2")])
    h.insert(0, "Host", "example.com")
    h.insert(2, "a", "3")
    assert h.raw == [(b"Host", b"example.com"), (b"A", b"1"), (b"a", b"3"), (b"B", b"2")]
    assert h["a"] == "1, 3"
    with pytest.raises(LocalProtocolError):
        h.insert(0, "Bad Name", "x")


def test_setitem_replaces_all_values_at_the_first_position() -> None:
    h = Headers([("A", "1"), ("B", "2"), ("a", "3"), ("C", "4")])
    h["a"] = "new"
    assert h.raw == [(b"a", b"new"), (b"B", b"2"), (b"C", b"4")]


def test_setitem_of_new_name_appends() -> None:
    h = Headers({"A": "1"})
    h["B"] = "2"
    assert h.raw == [(b"A", b"1"), (b"B", b"2")]


def test_delitem_removes_every_field() -> None:
    h = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    del h["A"]
    assert h.raw == [(b"B", b"2")]


def test_delitem_missing_raises_key_error() -> None:
    with pytest.raises(KeyError):
        del Headers()["a"]


def test_pop() -> None:
    h = Headers([("A", "1"), ("a", "2"), ("B", "3")])
    assert h.pop("a") == "1, 2"
    assert h.raw == [(b"B", b"3")]
    assert h.pop("a", "gone") == "gone"
    with pytest.raises(KeyError):
        h.pop("a")


def test_setdefault() -> None:
    h = Headers({"A": "1"})
    assert h.setdefault("a", "2") == "1"
    assert h.setdefault("B", "3") == "3"
    assert h.raw == [(b"A", b"1"), (b"B", b"3")]


def test_update_replaces_per_name_and_keeps_multiple_values() -> None:
    h = Headers([("A", "1"), ("B", "2"), ("a", "x")])
    h.update([("a", "3"), ("a", "4"), ("C", "5")])
    assert h.raw == [(b"a", b"3"), (b"a", b"4"), (b"B", b"2"), (b"C", b"5")]


def test_update_from_headers_mapping_and_kwargs() -> None:
    h = Headers({"A": "1"})
    h.update(Headers({"B": "2"}))
    h.update({"a": "3"})
    h.update(C="4")
    assert h.multi_items() == [("a", "3"), ("b", "2"), ("c", "4")]


def test_update_validates() -> None:
    with pytest.raises(LocalProtocolError):
        Headers().update({"a": "b\r\nc"})


def test_clear() -> None:
    h = Headers({"A": "1"})
    h.clear()
    assert h.raw == [] and "a" not in h


def test_copy_is_independent() -> None:
    h = Headers({"A": "1"})
    c = h.copy()
    c.add("B", "2")
    c["A"] = "x"
    assert h.raw == [(b"A", b"1")]
    assert isinstance(c, Headers)


# -- equality ----------------------------------------------------------------------------


def test_equality_is_case_insensitive_and_ignores_order_of_names() -> None:
    a = Headers([("A", "1"), ("B", "2")])
    assert a == Headers([("b", "2"), ("a", "1")])
    assert a == {"b": "2", "A": "1"}
    assert a == [("B", "2"), ("a", "1")]


def test_equality_respects_values_and_their_order_per_name() -> None:
    assert Headers([("a", "1"), ("a", "2")]) != Headers([("a", "2"), ("a", "1")])
    assert Headers({"a": "1"}) != {"a": "2"}
    assert Headers({"a": "1"}) != {"a": "1", "b": "2"}


def test_equality_with_unconvertible_is_false() -> None:
    assert Headers({"a": "1"}) != 1
    assert Headers({"a": "1"}) != {"a": 1}
    assert Headers({"a": "1"}) != {"bad name": "1"}


def test_headers_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Headers())


# -- validation (R-03) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "foo bar", "foo\xff", "a:b", "a\r\nb", "a\x00", "(x)", "a/b", "a@b", "é", "a\tb", "[x]"],
)
def test_invalid_header_names_are_rejected(name: str) -> None:
    with pytest.raises(LocalProtocolError, match="header name"):
        Headers({name: "v"})
    with pytest.raises(LocalProtocolError):
        Headers().add(name, "v")
    with pytest.raises(LocalProtocolError):
        Headers()[name] = "v"


def test_bytes_name_with_high_bit_is_rejected() -> None:
    with pytest.raises(LocalProtocolError):
        Headers([(b"foo\xff", b"v")])


def test_all_token_characters_are_accepted_as_a_name() -> None:
    name = "!#$%&'*+-.^_`|~09azAZ"
    assert Headers({name: "v"})[name] == "v"


@pytest.mark.parametrize(
    "char", ["\r", "\n", "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"]
)
def test_control_characters_in_values_are_rejected(char: str) -> None:
    for value in (f"a{char}b", f"a{char}".encode()):
        with pytest.raises(LocalProtocolError, match="forbidden character"):
            Headers({"X-Test": value})


def test_crlf_header_injection_is_rejected() -> None:
    with pytest.raises(LocalProtocolError):
        Headers({"X-Test": "ok\r\nInjected: yes"})


def test_tab_inside_a_value_is_allowed() -> None:
    assert Headers({"a": "x\ty"})["a"] == "x\ty"


def test_leading_and_trailing_whitespace_is_stripped() -> None:
    h = Headers({"a": " \t value with inner space \t "})
    assert h.raw == [(b"a", b"value with inner space")]


def test_empty_value_is_allowed() -> None:
    assert Headers({"a": ""})["a"] == ""


def test_obs_text_bytes_are_allowed() -> None:
    assert Headers({"a": b"caf\xe9"}).raw == [(b"a", b"caf\xe9")]


def test_non_latin1_text_is_encoded_as_utf8_not_truncated() -> None:
    # U+760D U+760A: truncating each code point to its low byte would give "\r\n".
    value = "a\u760d\u760ab"
    h = Headers({"X-Test": value})
    assert h.raw == [(b"X-Test", value.encode("utf-8"))]
    assert b"\r" not in h.raw[0][1] and b"\n" not in h.raw[0][1]
    assert h["x-test"] == value


def test_latin1_text_is_encoded_as_utf8() -> None:
    assert Headers({"a": "é"}).raw == [(b"a", b"\xc3\xa9")]


def test_unencodable_value_is_rejected() -> None:
    with pytest.raises(LocalProtocolError, match="X-Test"):
        Headers({"X-Test": "\ud800"})


@pytest.mark.parametrize("value", [1, 1.5, None, True, object(), ["a"]])
def test_non_text_values_are_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="X-Num"):
        Headers({"X-Num": value})  # type: ignore[dict-item]


def test_int_value_error_suggests_str() -> None:
    with pytest.raises(TypeError, match=r"str\(\)"):
        Headers({"Content-Length": 10})  # type: ignore[dict-item]


def test_non_text_names_are_a_type_error() -> None:
    with pytest.raises(TypeError):
        Headers({1: "v"})  # type: ignore[dict-item]


def test_error_names_the_header_but_never_shows_the_value() -> None:
    with pytest.raises(LocalProtocolError) as info:
        Headers({"Authorization": "Bearer s3cret\r\n"})
    assert "Authorization" in str(info.value)
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in repr(info.value)


def test_validate_header_name_helper() -> None:
    validate_header_name(b"X-Ok")
    with pytest.raises(LocalProtocolError):
        validate_header_name(b"X Bad")
    with pytest.raises(LocalProtocolError):
        validate_header_name(b"")


def test_validate_header_value_helper() -> None:
    validate_header_value(b"ok\tvalue \x80")
    with pytest.raises(LocalProtocolError):
        validate_header_value(b"bad\nvalue")
    with pytest.raises(LocalProtocolError, match="'X-Name'"):
        validate_header_value(b"bad\x00", name=b"X-Name")
    with pytest.raises(LocalProtocolError, match="'X-Name'"):
        validate_header_value(b"bad\x00", b"X-Name")


# -- repr ---------------------------------------------------------------------------------


def test_sensitive_headers_set() -> None:
    assert {"authorization", "proxy-authorization", "cookie", "set-cookie"} <= SENSITIVE_HEADERS
    assert all(name == name.lower() for name in SENSITIVE_HEADERS)


@pytest.mark.parametrize("name", ["Authorization", "proxy-authorization", "COOKIE", "Set-Cookie"])
def test_repr_hides_sensitive_values(name: str) -> None:
    h = Headers([(name, "s3cret"), ("Accept", "text/html")])
    text = repr(h)
    assert "s3cret" not in text
    assert "[secure]" in text
    assert "text/html" in text
    assert name in text


def test_repr_shows_fields_in_order() -> None:
    assert repr(Headers([("B", "1"), ("a", "2")])) == "Headers([('B', '1'), ('a', '2')])"


# -- property test -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=10), st.text(max_size=20))
def test_any_text_is_rejected_or_safe_on_the_wire(name: str, value: str) -> None:
    try:
        h = Headers([(name, value)])
    except LocalProtocolError:
        return
    ((raw_name, raw_value),) = h.raw
    assert b"\r" not in raw_value and b"\n" not in raw_value and b"\x00" not in raw_value
    assert raw_name and b":" not in raw_name
    assert h[name] == value.strip(" \t")


def test_insert_puts_a_validated_field_at_the_position() -> None:
    from hyperhttp import Headers, LocalProtocolError

    headers = Headers([("Accept", "*/*")])
    headers.insert(0, "Host", "example.com")
    assert headers.raw == [(b"Host", b"example.com"), (b"Accept", b"*/*")]
    assert headers["host"] == "example.com"
    with pytest.raises(LocalProtocolError):
        headers.insert(0, "X-Bad", "a\r\nb")
