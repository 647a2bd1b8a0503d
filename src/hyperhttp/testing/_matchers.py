"""Request matching: URI patterns, query matchers, header value matchers, RequestMatcher.

Semantics follow pytest-httpserver 1.2 so that existing expectations keep matching the same
requests: string URIs match the path exactly, compiled regexes use ``re.match``, query strings
given as ``str``/``bytes`` are compared byte for byte, mappings are compared after parsing with
blank values kept, methods compare upper-cased, and ``Authorization`` values are compared
parsed (so parameter order does not matter).
"""

from __future__ import annotations

import abc
import json as jsonlib
import re
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, ClassVar, TypedDict

from werkzeug import Request
from werkzeug.datastructures import Authorization, MultiDict

from ._errors import NoMethodFoundForMatchingHeaderValueError

__all__ = [
    "METHOD_ALL",
    "UNDEFINED",
    "URI_DEFAULT",
    "BooleanQueryMatcher",
    "HeaderValueMatcher",
    "MappingQueryMatcher",
    "QueryMatcher",
    "RequestMatcher",
    "RequestMatcherKwargs",
    "StringQueryMatcher",
    "URIPattern",
    "Undefined",
]

#: A URI that matches every path.
URI_DEFAULT = ""
#: A method that matches every method.
METHOD_ALL = "__ALL"


class Undefined:
    """The type of :data:`UNDEFINED`, the "no JSON expectation" marker."""

    def __repr__(self) -> str:
        return "<UNDEFINED>"


#: Marks ``json=`` as not given (``None`` is a valid JSON value to expect).
UNDEFINED = Undefined()

HVMatcherT = Callable[[str, "str | None", str], bool]


class HeaderValueMatcher:
    """Compares an expected header value with the received one, per header name.

    ``DEFAULT_MATCHERS`` maps header names to ``(actual, expected) -> bool`` functions; names
    missing from it use plain equality, and ``Authorization`` is compared parsed. Pass your own
    mapping to replace the defaults for one expectation.
    """

    DEFAULT_MATCHERS: ClassVar[MutableMapping[str, Callable[[str | None, str], bool]]] = {}

    def __init__(self, matchers: Mapping[str, Callable[[str | None, str], bool]] | None = None):
        self.matchers = self.DEFAULT_MATCHERS if matchers is None else matchers

    @staticmethod
    def authorization_header_value_matcher(actual: str | None, expected: str) -> bool:
        """Compare two Authorization values parsed, so parameter order does not matter."""
        return Authorization.from_header(actual) == Authorization.from_header(expected)

    @staticmethod
    def default_header_value_matcher(actual: str | None, expected: str) -> bool:
        """Plain equality."""
        return actual == expected

    def __call__(self, header_name: str, actual: str | None, expected: str) -> bool:
        try:
            compare = self.matchers[header_name]
        except KeyError:
            raise NoMethodFoundForMatchingHeaderValueError(
                f"No method found for matching header value: {header_name}"
            ) from None
        return compare(actual, expected)


HeaderValueMatcher.DEFAULT_MATCHERS = defaultdict(
    lambda: HeaderValueMatcher.default_header_value_matcher,
    {"Authorization": HeaderValueMatcher.authorization_header_value_matcher},
)


class QueryMatcher(abc.ABC):
    """Base class of query string matchers: compares the two values it computes."""

    def match(self, request_query_string: bytes) -> bool:
        """True when the request's raw query string satisfies this matcher."""
        actual, expected = self.get_comparing_values(request_query_string)
        return bool(actual == expected)

    @abc.abstractmethod
    def get_comparing_values(self, request_query_string: bytes) -> tuple[Any, Any]:
        """Return ``(value from the request, expected value)``."""


class StringQueryMatcher(QueryMatcher):
    """Matches the raw query string exactly (a ``str`` is encoded as UTF-8 first)."""

    def __init__(self, query_string: bytes | str) -> None:
        if not isinstance(query_string, (str, bytes)):
            raise TypeError("query_string must be a string, or a bytes-like object")
        self.query_string = query_string

    def get_comparing_values(self, request_query_string: bytes) -> tuple[bytes, bytes]:
        """The raw request query and the expected one, both bytes."""
        expected = self.query_string
        if isinstance(expected, str):
            expected = expected.encode()
        return request_query_string, expected

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.query_string!r})"


def _parse_query(raw: bytes) -> MultiDict[str, str]:
    return MultiDict(urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True))


class MappingQueryMatcher(QueryMatcher):
    """Matches the parsed query against a mapping (first value per key) or a MultiDict (all).

    Blank values count: ``?a=&b`` parses to ``{"a": "", "b": ""}``, which differs from ``{}``.
    """

    def __init__(self, query_dict: Mapping[str, str] | MultiDict[str, str]) -> None:
        self.query_dict = query_dict

    def get_comparing_values(self, request_query_string: bytes) -> tuple[Any, Any]:
        """The parsed request query and the expected mapping, in comparable shapes."""
        query = _parse_query(request_query_string)
        if isinstance(self.query_dict, MultiDict):
            return query, self.query_dict
        return query.to_dict(), dict(self.query_dict)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.query_dict!r})"


class BooleanQueryMatcher(QueryMatcher):
    """Matches every query (``True``) or none (``False``)."""

    def __init__(self, result: bool) -> None:
        self.result = result

    def get_comparing_values(self, request_query_string: bytes) -> tuple[bool, bool]:
        """``(True, result)``."""
        return True, bool(self.result)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.result!r})"


QueryT = QueryMatcher | str | bytes | Mapping[str, str] | None


def create_query_matcher(query_string: QueryT) -> QueryMatcher:
    """Turn any accepted ``query_string=`` value into a :class:`QueryMatcher`."""
    if isinstance(query_string, QueryMatcher):
        return query_string
    if query_string is None:
        return BooleanQueryMatcher(result=True)
    if isinstance(query_string, (str, bytes)):
        return StringQueryMatcher(query_string)
    if isinstance(query_string, Mapping):
        return MappingQueryMatcher(query_string)
    raise TypeError(f"Unable to cast this type to QueryMatcher: {type(query_string)!r}")


class URIPattern(abc.ABC):
    """Subclass this and implement :meth:`match` to match request paths your own way."""

    @abc.abstractmethod
    def match(self, uri: str) -> bool:
        """Return True when ``uri`` (the request path, without the query) matches."""


class RequestMatcherKwargs(TypedDict, total=False):
    """Keyword arguments shared by ``expect_request()`` and friends (used by ``bake()``)."""

    method: str
    data: str | bytes | None
    data_encoding: str
    headers: Mapping[str, str] | None
    query_string: QueryT
    header_value_matcher: HVMatcherT | None
    json: Any


class RequestMatcher:
    """Describes which requests an expectation accepts.

    :param uri: exact path (``""`` for any), a compiled regex, or a :class:`URIPattern`.
    :param method: the method, or ``METHOD_ALL``; compared case-insensitively.
    :param data: expected raw body (``str`` encoded with ``data_encoding``).
    :param data_encoding: encoding of ``data`` and of the body when comparing ``json``.
    :param headers: header values that must be present and match.
    :param query_string: ``str``/``bytes`` (exact), a mapping or MultiDict, or a QueryMatcher.
    :param header_value_matcher: a :class:`HeaderValueMatcher` or a
        ``(name, actual, expected) -> bool`` callable.
    :param json: a value the body must equal after ``json.loads``; exclusive with ``data``.
    """

    def __init__(
        self,
        uri: str | URIPattern | re.Pattern[str],
        method: str = METHOD_ALL,
        data: str | bytes | None = None,
        data_encoding: str = "utf-8",
        headers: Mapping[str, str] | None = None,
        query_string: QueryT = None,
        header_value_matcher: HVMatcherT | None = None,
        json: Any = UNDEFINED,
    ) -> None:
        if json is not UNDEFINED and data is not None:
            raise ValueError("data and json parameters are mutually exclusive")
        self.uri = uri
        self.method = method if method == METHOD_ALL else method.upper()
        self.query_string = query_string
        self.query_matcher = create_query_matcher(query_string)
        self.json = json
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        if isinstance(data, str):
            data = data.encode(data_encoding)
        self.data = data
        self.data_encoding = data_encoding
        self.header_value_matcher: HVMatcherT = (
            header_value_matcher if header_value_matcher is not None else HeaderValueMatcher()
        )

    def __repr__(self) -> str:
        return (
            f"<{self.__class__.__name__} uri={self.uri!r} method={self.method!r} "
            f"query_string={self.query_string!r} headers={self.headers!r} "
            f"data={self.data!r} json={self.json!r}>"
        )

    def match_uri(self, request: Request) -> bool:
        """True when the request path satisfies ``uri``."""
        path = request.path
        if isinstance(self.uri, URIPattern):
            return self.uri.match(path)
        if isinstance(self.uri, re.Pattern):
            return self.uri.match(path) is not None
        return self.uri in (URI_DEFAULT, path)

    def match_method(self, request: Request) -> bool:
        """True when the request method satisfies ``method``."""
        return self.method in (METHOD_ALL, request.method.upper())

    def match_data(self, request: Request) -> bool:
        """True when no body is expected or the body equals ``data``."""
        return self.data is None or request.get_data() == self.data

    def match_json(self, request: Request) -> bool:
        """True when no JSON is expected or the body parses to a value equal to ``json``."""
        if self.json is UNDEFINED:
            return True
        try:
            received = jsonlib.loads(request.get_data().decode(self.data_encoding))
        except (ValueError, UnicodeDecodeError):
            return False
        return bool(received == self.json)

    def mismatched_headers(self, request: Request) -> tuple[dict[str, str | None], dict[str, str]]:
        """The expected headers that do not match: ``(received values, expected values)``."""
        received: dict[str, str | None] = {}
        expected: dict[str, str] = {}
        for name, value in self.headers.items():
            actual = request.headers.get(name)
            if not self.header_value_matcher(name, actual, value):
                received[name] = actual
                expected[name] = value
        return received, expected

    def difference(self, request: Request) -> list[tuple[str, Any, Any]]:
        """The fields that differ, as ``(field, request value, expected value)`` tuples.

        An empty list means the request matches.
        """
        diff: list[tuple[str, Any, Any]] = []
        if not self.match_uri(request):
            diff.append(("uri", request.path, self.uri))
        if not self.match_method(request):
            diff.append(("method", request.method, self.method))
        if not self.query_matcher.match(request.query_string):
            diff.append(("query_string", request.query_string, self.query_string))
        received, expected = self.mismatched_headers(request)
        if expected:
            diff.append(("headers", received, expected))
        if not self.match_data(request):
            diff.append(("data", request.get_data(), self.data))
        if not self.match_json(request):
            diff.append(("json", request.get_data(), self.json))
        return diff

    def match(self, request: Request) -> bool:
        """True when the request satisfies every field of this matcher."""
        if type(self).difference is not RequestMatcher.difference:
            return not self.difference(request)  # a subclass decides through difference()
        return (  # same fields as difference(), stopping at the first mismatch
            self.match_uri(request)
            and self.match_method(request)
            and self.query_matcher.match(request.query_string)
            and not self.mismatched_headers(request)[1]
            and self.match_data(request)
            and self.match_json(request)
        )
