"""Request bodies: what ``content=``, ``data=``, ``files=`` and ``json=`` turn into.

A body is a :class:`RequestBody`: an async iterable of bytes that knows its length when it
can (so the request gets ``Content-Length``, else chunked framing) and whether it can be
sent twice (``replayable``), which redirects and retries consult before re-sending. A one-shot
body (a generator, an async iterator, a non-seekable file) raises ``StreamConsumed`` on its
second use instead of silently sending nothing.
"""

from __future__ import annotations

import io
import json as jsonlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import IO, Any, Final
from urllib.parse import quote_plus

from ._exceptions import StreamConsumed

__all__ = [
    "CHUNK_SIZE",
    "AsyncIterableBody",
    "ByteBody",
    "FileBody",
    "IterableBody",
    "MultipartBody",
    "RequestBody",
    "RequestContent",
    "RequestData",
    "RequestFiles",
    "encode_request",
]

# Reads from files and generators are sent in pieces of this size: large enough that the
# per-write overhead vanishes, small enough to keep memory flat for multi-GB uploads.
CHUNK_SIZE: Final = 64 * 1024

RequestContent = str | bytes | bytearray | memoryview | Iterable[bytes] | AsyncIterable[bytes]
RequestData = Mapping[str, Any]
FileContent = IO[bytes] | bytes | str
FileTypes = (
    FileContent
    | tuple[str | None, FileContent]
    | tuple[str | None, FileContent, str | None]
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
RequestFiles = Mapping[str, FileTypes] | Iterable[tuple[str, FileTypes]]


class RequestBody:
    """Base class of request bodies: iterate with ``async for``; see the module docstring."""

    content_length: int | None = None
    replayable: bool = True

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError  # pragma: no cover

    def read_bytes(self) -> bytes | None:
        """The whole body if it is in memory already, else ``None``."""
        return None


class ByteBody(RequestBody):
    """A body held in memory."""

    __slots__ = ("content", "content_length")

    replayable = True

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.content_length = len(content)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.content:
            yield self.content

    def read_bytes(self) -> bytes:
        """The body."""
        return self.content


class IterableBody(RequestBody):
    """A body from a sync iterable of bytes. Lists and tuples can be replayed; others not."""

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self._iterable = iterable
        self.replayable = isinstance(iterable, (list, tuple))
        self._used = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._used and not self.replayable:
            raise StreamConsumed("this request body is a one-shot iterator and was already sent")
        self._used = True
        for chunk in self._iterable:
            yield _as_bytes(chunk)


class AsyncIterableBody(RequestBody):
    """A body from an async iterable of bytes (one-shot)."""

    replayable = False

    def __init__(self, iterable: AsyncIterable[bytes]) -> None:
        self._iterable = iterable
        self._used = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._used:
            raise StreamConsumed("this request body is an async iterator and was already sent")
        self._used = True
        async for chunk in self._iterable:
            yield _as_bytes(chunk)


class FileBody(RequestBody):
    """A body read from a binary file object in ``CHUNK_SIZE`` pieces.

    The length comes from the file's size when it is a real file; a seekable file is
    rewound to where it started on every send, so it can be replayed.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._start: int | None
        try:
            self._start = file.tell() if file.seekable() else None
        except (OSError, ValueError, AttributeError):
            self._start = None
        self.replayable = self._start is not None
        self.content_length = _file_remaining(file, self._start)
        self._used = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._used:
            if self._start is None:
                raise StreamConsumed("this request body is a non-seekable file, already sent")
            self._file.seek(self._start)
        self._used = True
        read = self._file.read
        while True:
            chunk = read(CHUNK_SIZE)
            if not chunk:
                return
            yield _as_bytes(chunk)


def _file_remaining(file: IO[bytes], start: int | None) -> int | None:
    try:
        size = os.fstat(file.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        if isinstance(file, io.BytesIO) and start is not None:
            return len(file.getbuffer()) - start
        return None
    return max(size - (start or 0), 0)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    raise TypeError(f"request body chunks must be bytes, not {type(chunk).__name__}")


# -- multipart/form-data ------------------------------------------------------------------


def _quote_param(value: str) -> str:
    # WHATWG HTML form encoding for multipart parameter values: only these three are escaped.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class _Part:
    __slots__ = ("content", "file", "head")

    def __init__(self, head: bytes, content: bytes | None, file: FileBody | None) -> None:
        self.head = head
        self.content = content
        self.file = file

    @property
    def length(self) -> int | None:
        if self.content is not None:
            return len(self.head) + len(self.content) + 2
        assert self.file is not None
        if self.file.content_length is None:
            return None
        return len(self.head) + self.file.content_length + 2


class MultipartBody(RequestBody):
    """A ``multipart/form-data`` body; files are streamed from disk, not loaded."""

    def __init__(
        self, data: RequestData | None, files: RequestFiles, boundary: bytes | None = None
    ) -> None:
        self.boundary = boundary or os.urandom(16).hex().encode("ascii")
        self._parts: list[_Part] = []
        for name, value in (data or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                self._add_field(name, item)
        items = files.items() if isinstance(files, Mapping) else files
        for name, spec in items:
            self._add_file(name, spec)
        lengths = [part.length for part in self._parts]
        tail = len(self.boundary) + 6
        self.content_length = None if None in lengths else sum(lengths) + tail  # type: ignore[arg-type]
        self.replayable = all(p.file is None or p.file.replayable for p in self._parts)

    @property
    def content_type(self) -> str:
        """The Content-Type header value, with the boundary."""
        return f"multipart/form-data; boundary={self.boundary.decode('ascii')}"

    def _add_field(self, name: str, value: object) -> None:
        if isinstance(value, bytes):
            content = value
        elif isinstance(value, str):
            content = value.encode("utf-8")
        elif isinstance(value, bool):
            content = b"true" if value else b"false"
        elif isinstance(value, (int, float)):
            content = str(value).encode("ascii")
        else:
            raise TypeError(f"form field {name!r} must be str, bytes, int or float")
        head = b'--%b\r\nContent-Disposition: form-data; name="%b"\r\n\r\n' % (
            self.boundary,
            _quote_param(name).encode("utf-8"),
        )
        self._parts.append(_Part(head, content, None))

    def _add_file(self, name: str, spec: FileTypes) -> None:
        filename: str | None
        content_type: str | None = None
        extra: Mapping[str, str] = {}
        if isinstance(spec, tuple):
            filename, fileobj = spec[0], spec[1]
            if len(spec) > 2:
                content_type = spec[2]
            if len(spec) > 3:
                extra = spec[3]
        else:
            fileobj = spec
            filename = os.path.basename(str(getattr(spec, "name", "upload")))
        if content_type is None:
            content_type = "application/octet-stream"
        disposition = f'form-data; name="{_quote_param(name)}"'
        if filename is not None:
            disposition += f'; filename="{_quote_param(filename)}"'
        lines = [f"--{self.boundary.decode('ascii')}", f"Content-Disposition: {disposition}"]
        for key, val in extra.items():
            if any(c in key + val for c in "\r\n\0"):
                raise ValueError("multipart part headers must not contain CR, LF or NUL")
            lines.append(f"{key}: {val}")
        lines.append(f"Content-Type: {content_type}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        if isinstance(fileobj, str):
            self._parts.append(_Part(head, fileobj.encode("utf-8"), None))
        elif isinstance(fileobj, bytes):
            self._parts.append(_Part(head, fileobj, None))
        else:
            self._parts.append(_Part(head, None, FileBody(fileobj)))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part.head
            if part.content is not None:
                yield part.content
            else:
                assert part.file is not None
                async for chunk in part.file:
                    yield chunk
            yield b"\r\n"
        yield b"--%b--\r\n" % self.boundary


# -- entry point --------------------------------------------------------------------------


def _dumps_json(value: Any) -> bytes:
    # Compact separators: smaller bodies, and what users assert on (b'{"name":"Alice"}').
    return jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def _urlencode(data: RequestData) -> bytes:
    pairs: list[str] = []
    for key, value in data.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is None:
                text = ""
            elif isinstance(item, bool):
                text = "true" if item else "false"
            else:
                text = str(item)
            pairs.append(f"{quote_plus(str(key))}={quote_plus(text)}")
    return "&".join(pairs).encode("ascii")


def encode_request(
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any = None,
) -> tuple[list[tuple[bytes, bytes]], RequestBody | None]:
    """Turn the body arguments of a request into (headers to add, body).

    The headers are only ``Content-Type`` (when implied); framing headers
    (``Content-Length`` / ``Transfer-Encoding``) are decided later from the body.
    """
    given = sum(x is not None for x in (content, json)) + (data is not None or files is not None)
    if given > 1:
        raise TypeError("give only one of content=, json=, or data=/files=")
    if content is not None:
        if isinstance(content, (bytes, bytearray, memoryview)):
            return [], ByteBody(bytes(content))
        if isinstance(content, str):
            return [], ByteBody(content.encode("utf-8"))
        if hasattr(content, "read"):
            return [], FileBody(content)  # type: ignore[arg-type]
        if isinstance(content, AsyncIterable):
            return [], AsyncIterableBody(content)
        if isinstance(content, Iterable):
            return [], IterableBody(content)
        raise TypeError(f"unsupported content type {type(content).__name__}")
    if json is not None:
        return [(b"Content-Type", b"application/json")], ByteBody(_dumps_json(json))
    if files:
        body = MultipartBody(data, files)
        return [(b"Content-Type", body.content_type.encode("ascii"))], body
    if data is not None:
        if not isinstance(data, Mapping):
            raise TypeError("data= must be a mapping (use content= for raw bytes)")
        return (
            [(b"Content-Type", b"application/x-www-form-urlencoded")],
            ByteBody(_urlencode(data)),
        )
    return [], None


def iter_chunks(data: bytes, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Slice ``data`` into pieces of at most ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
