"""HTTP header fields: an ordered, case-insensitive multimap that keeps the raw bytes.

* Storage is one list of ``(raw_name, value)`` byte pairs in wire order, with the name's
  original casing. A ``{lower-case name: [values]}`` index is built lazily on the first
  lookup and dropped on mutation, so a parsed response that is only asked for two headers
  never pays for more.
* Everything user code inserts is validated (:func:`validate_header_name`,
  :func:`validate_header_value`): names are RFC 9110 tokens; values may not contain CR, LF,
  NUL or any other control character but HTAB; leading/trailing SP/HTAB are stripped. ``str``
  text is encoded first (names: ASCII only; values: ASCII, else UTF-8) and validated *after*
  encoding, so no character can turn into CR/LF on the wire. Violations raise
  :class:`~hyperhttp.LocalProtocolError`, whose message names the header but never shows its
  value.
* :meth:`Headers.from_raw` is the trusted path for the response parser: no validation, no
  copy.
* Values are decoded to ``str`` on access: ASCII, else UTF-8, else Latin-1 (never raises).
* As a mapping, ``len(headers)`` and iteration count *distinct* names (lower-cased), and
  ``headers[name]`` joins repeated fields with ``", "``; :meth:`Headers.multi_items`,
  :meth:`Headers.get_list` and :attr:`Headers.raw` see every field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, TypeVar, overload

from ._exceptions import LocalProtocolError

__all__ = [
    "SENSITIVE_HEADERS",
    "HeaderTypes",
    "Headers",
    "decode_header_value",
    "validate_header_name",
    "validate_header_value",
]

#: Header names whose values are never shown in ``repr()`` (lower-case).
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

#: Validated ``str`` header names memoised (a client uses few distinct names).
NAME_CACHE_SIZE = 256

_T = TypeVar("_T")

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 section 5.5: field values are VCHAR / obs-text / SP / HTAB; every other CTL is out.
_FORBIDDEN_VALUE_RE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_MISSING: Any = object()


def _clip(name: bytes) -> str:
    text = name[:60].decode("latin-1")
    return repr(text + "..." if len(name) > 60 else text)


def validate_header_name(name: bytes) -> None:
    """Raise :class:`~hyperhttp.LocalProtocolError` unless ``name`` is an RFC 9110 token."""
    if not _TOKEN_RE.fullmatch(name):
        if not name:
            raise LocalProtocolError("Invalid header name: empty")
        raise LocalProtocolError(f"Invalid header name {_clip(name)}: must be an RFC 9110 token")


def validate_header_value(value: bytes, name: bytes | None = None) -> None:
    """Raise :class:`~hyperhttp.LocalProtocolError` if ``value`` holds CR, LF, NUL or another
    control character (HTAB is allowed). The message shows ``name`` if given, never the value.
    """
    bad = _FORBIDDEN_VALUE_RE.search(value)
    if bad is not None:
        where = f" of header {_clip(name)}" if name else ""
        raise LocalProtocolError(
            f"Invalid header value{where}: forbidden character {bad.group()!r} "
            f"at position {bad.start()}"
        )


def decode_header_value(value: bytes) -> str:
    """Decode a header value: ASCII, else UTF-8, else Latin-1 (never raises)."""
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def _encode_str_name(name: str) -> bytes:
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise LocalProtocolError(
            f"Invalid header name {name[:60]!r}: must be ASCII (an RFC 9110 token)"
        ) from None
    validate_header_name(raw)
    return raw


def _encode_name(name: Any) -> bytes:
    if type(name) is str:
        return _encode_str_name(name)
    if isinstance(name, str):
        try:
            raw = name.encode("ascii")
        except UnicodeEncodeError:
            raise LocalProtocolError(
                f"Invalid header name {name[:60]!r}: must be ASCII (an RFC 9110 token)"
            ) from None
    elif isinstance(name, (bytes, bytearray)):
        raw = bytes(name)
    else:
        raise TypeError(f"Header names must be str or bytes, not {type(name).__name__}")
    validate_header_name(raw)
    return raw


def _encode_value(value: Any, name: bytes) -> bytes:
    if isinstance(value, str):
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            try:
                raw = value.encode("utf-8")
            except UnicodeEncodeError:
                raise LocalProtocolError(
                    f"Invalid header value of header {_clip(name)}: cannot be encoded as UTF-8"
                ) from None
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise TypeError(
            f"Header value of {_clip(name)} must be str or bytes, not {type(value).__name__}"
            + (" (convert numbers with str())" if isinstance(value, (int, float)) else "")
        )
    raw = raw.strip(b" \t")
    validate_header_value(raw, name=name)
    return raw


def _as_key(name: str | bytes) -> str:
    if isinstance(name, str):
        return name.lower()
    return name.decode("latin-1").lower()


def _iter_input(headers: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(headers, Headers):
        yield from headers._fields
    elif isinstance(headers, Mapping):
        yield from headers.items()
    elif isinstance(headers, (str, bytes)) or not isinstance(headers, Iterable):
        raise TypeError(
            "Headers must be a mapping, a sequence of (name, value) pairs or Headers, "
            f"not {type(headers).__name__}"
        )
    else:
        for item in headers:
            if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2:
                raise TypeError("Headers given as a sequence must be (name, value) pairs")
            yield item[0], item[1]


def _validated(headers: Any) -> list[tuple[bytes, bytes]]:
    if isinstance(headers, Headers):
        return list(headers._fields)
    fields = []
    for name, value in _iter_input(headers):
        raw_name = _encode_name(name)
        fields.append((raw_name, _encode_value(value, raw_name)))
    return fields


class Headers(MutableMapping[str, str]):
    """Ordered, case-insensitive HTTP header fields that keep their raw casing and bytes.

    ``Headers({"Accept": "text/html"})``, ``Headers([("Set-Cookie", "a=1"), ("Set-Cookie",
    "b=2")])`` or ``Headers(other_headers)`` (a copy). Names and values may be ``str`` or
    ``bytes``; see the module notes for validation and encoding.

    Mapping view (distinct, lower-cased names; repeated fields joined with ``", "``):
    ``h[name]``, ``get``, ``in``, ``len``, iteration, ``keys``/``values``/``items``, ``del``,
    ``pop``, ``setdefault``, ``update`` (replaces per name). Field view: ``get_list``,
    ``multi_items``, ``raw``, ``add``.
    """

    __slots__ = ("_fields", "_index")

    _fields: list[tuple[bytes, bytes]]
    _index: dict[str, list[bytes]] | None

    def __init__(self, headers: HeaderTypes = None) -> None:
        self._fields = [] if headers is None else _validated(headers)
        self._index = None

    @classmethod
    def from_raw(cls, fields: list[tuple[bytes, bytes]]) -> Headers:
        """Trusted constructor for parsed fields: no validation, and ``fields`` is not copied
        (the new object owns it)."""
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._index = None
        return headers

    def _build_index(self) -> dict[str, list[bytes]]:
        index: dict[str, list[bytes]] = {}
        for name, value in self._fields:
            index.setdefault(name.lower().decode("latin-1"), []).append(value)
        self._index = index
        return index

    # -- reading -----------------------------------------------------------------------------

    def __getitem__(self, name: str | bytes) -> str:
        index = self._index
        if index is None:
            index = self._build_index()
        values = index.get(_as_key(name))
        if values is None:
            raise KeyError(name)
        if len(values) == 1:
            return decode_header_value(values[0])
        return ", ".join([decode_header_value(value) for value in values])

    @overload
    def get(self, name: str | bytes) -> str | None: ...

    @overload
    def get(self, name: str | bytes, default: str | _T) -> str | _T: ...

    def get(self, name: str | bytes, default: Any = None) -> Any:
        """The value (repeated fields joined with ``", "``), or ``default``."""
        index = self._index
        if index is None:
            index = self._build_index()
        values = index.get(_as_key(name))
        if values is None:
            return default
        if len(values) == 1:
            return decode_header_value(values[0])
        return ", ".join([decode_header_value(value) for value in values])

    def get_list(self, name: str | bytes) -> list[str]:
        """Every value of ``name``, one per field, in order (commas are not split)."""
        index = self._index
        if index is None:
            index = self._build_index()
        return [decode_header_value(value) for value in index.get(_as_key(name), ())]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, (str, bytes)):
            return False
        index = self._index
        if index is None:
            index = self._build_index()
        return _as_key(name) in index

    def __len__(self) -> int:
        """The number of distinct names (``len(h.raw)`` counts fields)."""
        index = self._index
        if index is None:
            index = self._build_index()
        return len(index)

    def __iter__(self) -> Iterator[str]:
        """Distinct lower-cased names, in order of first appearance."""
        index = self._index
        if index is None:
            index = self._build_index()
        return iter(list(index))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every field as ``(lower-cased name, value)``, in order."""
        return [
            (name.decode("latin-1").lower(), decode_header_value(value))
            for name, value in self._fields
        ]

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """Every field as ``(name, value)`` bytes with the original casing, in order (a copy)."""
        return list(self._fields)

    # -- writing -----------------------------------------------------------------------------

    def add(self, name: str | bytes, value: str | bytes) -> None:
        """Append a field (after any existing ones of the same name)."""
        raw_name = _encode_name(name)
        raw_value = _encode_value(value, raw_name)
        self._fields.append((raw_name, raw_value))
        index = self._index
        if index is not None:
            index.setdefault(raw_name.decode("latin-1").lower(), []).append(raw_value)

    def insert(self, position: int, name: str | bytes, value: str | bytes) -> None:
        """Insert a field before index ``position`` of :attr:`raw` (``0``: first)."""
        raw_name = _encode_name(name)
        raw_value = _encode_value(value, raw_name)
        self._fields.insert(position, (raw_name, raw_value))
        self._index = None

    def _replace(self, key: str, new_fields: list[tuple[bytes, bytes]]) -> bool:
        """Put ``new_fields`` where the first field named ``key`` was, dropping all the others.
        Appends if there was none. Returns whether any field was removed."""
        kept: list[tuple[bytes, bytes]] = []
        position = -1
        for field in self._fields:
            if field[0].decode("latin-1").lower() == key:
                if position < 0:
                    position = len(kept)
            else:
                kept.append(field)
        if position < 0:
            kept.extend(new_fields)
        else:
            kept[position:position] = new_fields
        self._fields = kept
        self._index = None
        return position >= 0

    def __setitem__(self, name: str | bytes, value: str | bytes) -> None:
        """Replace every field of ``name`` by one, at the position of the first."""
        raw_name = _encode_name(name)
        raw_value = _encode_value(value, raw_name)
        self._replace(_as_key(raw_name), [(raw_name, raw_value)])

    def __delitem__(self, name: str | bytes) -> None:
        """Remove every field of ``name``; ``KeyError`` if there is none."""
        if not self._replace(_as_key(name), []):
            raise KeyError(name)

    @overload
    def pop(self, name: str | bytes) -> str: ...

    @overload
    def pop(self, name: str | bytes, default: str | _T) -> str | _T: ...

    def pop(self, name: str | bytes, default: Any = _MISSING) -> Any:
        """Remove every field of ``name`` and return the joined value (or ``default``)."""
        value = self.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(name)
            return default
        self._replace(_as_key(name), [])
        return value

    def setdefault(self, name: str | bytes, default: str | bytes = "") -> str:
        """Return the value of ``name``, adding it with ``default`` first if absent."""
        value = self.get(name)
        if value is None:
            self.add(name, default)
            value = self[name]
        return value

    def update(self, headers: HeaderTypes = None, /, **kwargs: str) -> None:  # type: ignore[override]
        """For each name in ``headers``, replace all its fields by the ones given there."""
        fields = [] if headers is None else _validated(headers)
        for name, value in kwargs.items():
            raw_name = _encode_name(name)
            fields.append((raw_name, _encode_value(value, raw_name)))
        grouped: dict[str, list[tuple[bytes, bytes]]] = {}
        for field in fields:
            grouped.setdefault(field[0].decode("latin-1").lower(), []).append(field)
        for key, new_fields in grouped.items():
            self._replace(key, new_fields)

    def clear(self) -> None:
        self._fields = []
        self._index = None

    def copy(self) -> Headers:
        """An independent copy (no re-validation)."""
        return Headers.from_raw(list(self._fields))

    # -- fast paths for the client's own use (no copies, no validation of trusted input) ----

    def lower_names(self) -> list[bytes]:
        """Every field's name, lower-cased, in order (no copy of the fields)."""
        return [name.lower() for name, _ in self._fields]

    def raw_value(self, lower_name: bytes) -> bytes | None:
        """The first raw value of ``lower_name`` (given lower-cased), without building the
        lookup index: a response's headers may never be looked at otherwise."""
        for name, value in self._fields:
            if len(name) == len(lower_name) and name.lower() == lower_name:
                return value
        return None

    def insert_trusted(self, position: int, name: bytes, value: bytes) -> None:
        """Insert a field the caller has already validated (the URL's Host, for instance)."""
        self._fields.insert(position, (name, value))
        self._index = None

    # -- dunder --------------------------------------------------------------------------

    def _comparable(self) -> dict[str, list[bytes]]:
        index = self._index
        if index is None:
            index = self._build_index()
        return index

    def __eq__(self, other: object) -> bool:
        """Equal to Headers, a mapping or a list of pairs with the same values per name
        (names compared case-insensitively; the order of different names does not matter,
        the order of one name's values does)."""
        if isinstance(other, Headers):
            other_headers = other
        else:
            try:
                other_headers = Headers(other)  # type: ignore[arg-type]
            except (TypeError, ValueError, LocalProtocolError):
                return False
        return self._comparable() == other_headers._comparable()

    def __repr__(self) -> str:
        shown = []
        for name, value in self._fields:
            text = name.decode("latin-1")
            if text.lower() in SENSITIVE_HEADERS:
                shown.append((text, "[secure]"))
            else:
                shown.append((text, decode_header_value(value)))
        return f"Headers({shown!r})"


#: What ``Headers(...)`` accepts.
HeaderTypes = (
    Headers
    | Mapping[str, str | bytes]
    | Mapping[bytes, str | bytes]
    | Mapping[str | bytes, str | bytes]
    | Sequence[tuple[str | bytes, str | bytes]]
    | None
)
