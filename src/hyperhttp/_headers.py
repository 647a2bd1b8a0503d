"""Headers: an ordered, case-insensitive multimap that keeps original casing and raw bytes.

Fields are stored as a list of ``(raw_name, value)`` byte pairs, in order, exactly as they
go on (or came off) the wire. Lookups lower-case the name; an index from lower-cased name to
positions is built lazily on the first lookup, so a response whose headers are never
inspected costs nothing beyond the list the parser produced.

Everything inserted from user code is validated: names must be RFC 9110 tokens, values may
not contain CR, LF, NUL or other control characters except HTAB (reliability checklist
R-03). ``str`` values are encoded as ASCII, else UTF-8 (never truncated, never "ignore"),
and the check runs on the encoded bytes. ``Headers.from_raw`` skips validation: it is for
the response parser, whose input llhttp has already checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from ._exceptions import LocalProtocolError

__all__ = [
    "SENSITIVE_HEADERS",
    "HeaderTypes",
    "Headers",
    "validate_header_name",
    "validate_header_value",
]

# Values never shown by repr() (or anywhere else we print headers).
SENSITIVE_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie"}
)

_TOKEN: Final = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
# Bytes forbidden in a field value: C0 controls except HTAB, and DEL.
_BAD_VALUE: Final = bytes(b for b in range(32) if b != 9) + b"\x7f"
_STRIP: Final = b" \t"


def validate_header_name(name: bytes) -> None:
    """Raise LocalProtocolError unless ``name`` is an RFC 9110 token."""
    if not name or not _TOKEN.issuperset(name):
        raise LocalProtocolError(f"invalid header name {name[:60]!r}")


def validate_header_value(value: bytes, name: bytes = b"") -> None:
    """Raise LocalProtocolError if ``value`` has CR, LF, NUL or another control byte.

    The message names the header, never its value (it may be a credential).
    """
    if value.translate(None, _BAD_VALUE) != value:
        label = name.decode("ascii", "replace") or "header"
        raise LocalProtocolError(f"the value of {label!r} contains a control character")


def _encode_name(name: str | bytes) -> bytes:
    if isinstance(name, str):
        try:
            raw = name.encode("ascii")
        except UnicodeEncodeError:
            raise LocalProtocolError("header names must be ASCII tokens") from None
    elif isinstance(name, (bytes, bytearray)):
        raw = bytes(name)
    else:
        raise TypeError(f"header names must be str or bytes, not {type(name).__name__}")
    validate_header_name(raw)
    return raw


def _encode_value(value: str | bytes, name: bytes) -> bytes:
    if isinstance(value, str):
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raw = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise TypeError(
            f"the value of header {name.decode('ascii')!r} must be str or bytes, "
            f"not {type(value).__name__}"
        )
    raw = raw.strip(_STRIP)
    validate_header_value(raw, name)
    return raw


def _decode(value: bytes) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")


class Headers:
    """Ordered, case-insensitive HTTP header fields. See the module docstring."""

    __slots__ = ("_index", "_raw")

    def __init__(self, headers: HeaderTypes = None) -> None:
        self._raw: list[tuple[bytes, bytes]] = []
        self._index: dict[str, list[int]] | None = None
        if headers is None:
            return
        if isinstance(headers, Headers):
            self._raw = list(headers._raw)
            return
        items: Iterable[tuple[Any, Any]]
        items = headers.items() if isinstance(headers, Mapping) else headers
        raw = self._raw
        for name, value in items:
            encoded = _encode_name(name)
            raw.append((encoded, _encode_value(value, encoded)))

    @classmethod
    def from_raw(cls, raw: list[tuple[bytes, bytes]]) -> Headers:
        """Wrap already-validated fields (from the parser); takes ownership of the list."""
        headers = cls.__new__(cls)
        headers._raw = raw
        headers._index = None
        return headers

    # -- internals ----------------------------------------------------------------------------

    def _lookup(self) -> dict[str, list[int]]:
        index = self._index
        if index is None:
            index = {}
            for position, (name, _) in enumerate(self._raw):
                index.setdefault(name.decode("latin-1").lower(), []).append(position)
            self._index = index
        return index

    def _positions(self, name: str | bytes) -> list[int]:
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        return self._lookup().get(key.lower(), [])

    # -- reading ------------------------------------------------------------------------------

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """Every field as ``(name, value)`` bytes, original casing, in order."""
        return self._raw

    def get(self, name: str, default: Any = None) -> Any:
        """All values of ``name`` joined with ``", "``, or ``default``."""
        positions = self._positions(name)
        if not positions:
            return default
        raw = self._raw
        if len(positions) == 1:
            return _decode(raw[positions[0]][1])
        return ", ".join(_decode(raw[p][1]) for p in positions)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return str(value)

    def get_list(self, name: str) -> list[str]:
        """Each value of ``name`` separately (not split on commas)."""
        raw = self._raw
        return [_decode(raw[p][1]) for p in self._positions(name)]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, (str, bytes)):
            return False
        return bool(self._positions(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        """The number of distinct names."""
        return len(self._lookup())

    def keys(self) -> list[str]:
        """Distinct lower-cased names, in first-seen order."""
        return list(self._lookup())

    def values(self) -> list[str]:
        """For each distinct name, its values joined with ``", "``."""
        return [self[name] for name in self._lookup()]

    def items(self) -> list[tuple[str, str]]:
        """``(lower-cased name, joined values)`` per distinct name."""
        return [(name, self[name]) for name in self._lookup()]

    def multi_items(self) -> list[tuple[str, str]]:
        """Every field as ``(lower-cased name, value)``, in order."""
        return [(n.decode("latin-1").lower(), _decode(v)) for n, v in self._raw]

    # -- writing ------------------------------------------------------------------------------

    def add(self, name: str | bytes, value: str | bytes) -> None:
        """Append a field (keeps existing ones of the same name)."""
        encoded = _encode_name(name)
        self._raw.append((encoded, _encode_value(value, encoded)))
        self._index = None

    def insert(self, position: int, name: str | bytes, value: str | bytes) -> None:
        """Insert a field at ``position`` (``Host`` goes first)."""
        encoded = _encode_name(name)
        self._raw.insert(position, (encoded, _encode_value(value, encoded)))
        self._index = None

    def __setitem__(self, name: str | bytes, value: str | bytes) -> None:
        encoded = _encode_name(name)
        field = (encoded, _encode_value(value, encoded))
        positions = self._positions(encoded)
        if not positions:
            self._raw.append(field)
        else:
            self._raw[positions[0]] = field
            for extra in reversed(positions[1:]):
                del self._raw[extra]
        self._index = None

    def __delitem__(self, name: str | bytes) -> None:
        positions = self._positions(name)
        if not positions:
            raise KeyError(name)
        for position in reversed(positions):
            del self._raw[position]
        self._index = None

    def pop(self, name: str, *default: Any) -> Any:
        """Remove every field of ``name``; return their joined values (or ``default``)."""
        if name not in self:
            if default:
                return default[0]
            raise KeyError(name)
        value = self[name]
        del self[name]
        return value

    def setdefault(self, name: str, value: str) -> str:
        """The value of ``name``, adding ``value`` first if absent."""
        if name not in self:
            self.add(name, value)
        return self[name]

    def update(self, headers: HeaderTypes = None, **kwargs: str) -> None:
        """Replace the values of each name given (others are kept)."""
        other = headers if isinstance(headers, Headers) else Headers(headers)
        seen: set[str] = set()
        for name, value in other._raw:
            key = name.decode("latin-1").lower()
            if key not in seen:
                seen.add(key)
                if key in self:
                    del self[key]
            self._raw.append((name, value))
        self._index = None
        for key_name, text in kwargs.items():
            self[key_name.replace("_", "-")] = text

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers.from_raw(list(self._raw))

    # -- comparison and display ---------------------------------------------------------------

    def _normalised(self) -> list[tuple[bytes, bytes]]:
        return sorted((n.lower(), v) for n, v in self._raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._normalised() == other._normalised()
        if isinstance(other, (Mapping, list, tuple)):
            try:
                return self._normalised() == Headers(other)._normalised()
            except (LocalProtocolError, TypeError, ValueError):
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = []
        for name, value in self._raw:
            text = name.decode("latin-1")
            shown.append(
                (text, "[secure]" if text.lower() in SENSITIVE_HEADERS else _decode(value))
            )
        return f"Headers({shown!r})"


HeaderTypes = (
    Headers
    | Mapping[str, str]
    | Mapping[bytes, bytes]
    | Sequence[tuple[str, str]]
    | Sequence[tuple[bytes, bytes]]
    | None
)
