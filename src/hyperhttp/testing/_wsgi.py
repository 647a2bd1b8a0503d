"""The werkzeug boundary: RawRequest -> WSGI environ -> werkzeug Request, Response -> Reply.

werkzeug objects are what handlers see (pytest-httpserver compatibility); nothing below this
module uses them.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from werkzeug import Response

from ._faults import Fault
from ._wire import RawRequest, Reply

__all__ = ["build_environ", "coerce_response", "to_reply"]


_BASE_ENVIRON: dict[str, Any] = {
    "SCRIPT_NAME": "",
    "wsgi.version": (1, 0),
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": True,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.input_terminated": True,
}
_HEADER_KEYS: dict[bytes, str] = {}


def _environ_key(name: bytes) -> str:
    key = _HEADER_KEYS.get(name)
    if key is None:
        upper = name.decode("latin-1").upper().replace("-", "_")
        key = upper if upper in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + upper
        if len(_HEADER_KEYS) < 4096:
            _HEADER_KEYS[name] = key
    return key


def build_environ(raw: RawRequest) -> dict[str, Any]:
    """A PEP 3333 environ for ``raw`` (the body is fully buffered already)."""
    target = raw.target
    if target.startswith((b"http://", b"https://")):  # absolute-form: keep path and query
        rest = target.split(b"://", 1)[1]
        slash = rest.find(b"/")
        target = rest[slash:] if slash >= 0 else b"/"
    path, _, query = target.partition(b"?")
    if b"#" in path:
        path = path.split(b"#", 1)[0]
    raw_target = raw.target.decode("latin-1")
    environ = _BASE_ENVIRON.copy()
    environ["REQUEST_METHOD"] = raw.method
    environ["PATH_INFO"] = (
        unquote_to_bytes(path).decode("latin-1") if b"%" in path else path.decode("latin-1")
    )
    environ["QUERY_STRING"] = query.decode("latin-1")
    environ["RAW_URI"] = environ["REQUEST_URI"] = raw_target
    environ["SERVER_NAME"] = raw.server[0]
    environ["SERVER_PORT"] = str(raw.server[1])
    environ["SERVER_PROTOCOL"] = "HTTP/" + raw.http_version
    environ["REMOTE_ADDR"] = raw.client[0]
    environ["REMOTE_PORT"] = raw.client[1]
    environ["wsgi.url_scheme"] = raw.scheme
    environ["wsgi.input"] = io.BytesIO(raw.body)
    for name, value_b in raw.headers:
        key = _environ_key(name)
        if key == "CONTENT_LENGTH":  # only when the client sent one, like any WSGI server
            environ[key] = str(len(raw.body))  # the buffered body's length is authoritative
            continue
        value = value_b.decode("latin-1")
        if key in environ and key != "CONTENT_TYPE":
            environ[key] += ("; " if key == "HTTP_COOKIE" else ", ") + value
        else:
            environ[key] = value
    return environ


def coerce_response(value: Any) -> Response:
    """Accept what handlers may return: a Response, ``str``/``bytes``, or ``None``."""
    if isinstance(value, Response):
        return value
    if value is None:
        return Response("")
    if isinstance(value, (str, bytes)):
        return Response(value)
    raise TypeError(f"handler returned {type(value).__name__}, expected a werkzeug Response")


def to_reply(response: Response, environ: dict[str, Any], fault: Fault | None) -> Reply:
    """Run ``response`` as a WSGI app and collect status, headers and body for the writer."""
    if (
        type(response).get_wsgi_response is Response.get_wsgi_response
        and response.is_sequence
        and not response.direct_passthrough
        and type(response.response) is list
        and response.status_code not in (304, 412)
    ):  # fast path for plain buffered responses: same bytes, a fraction of the work
        headers = response.headers.to_wsgi_list()
        # (werkzeug's "in"/get() raise and catch an exception when the header is absent)
        if not any(name.lower() == "location" for name, _ in headers):
            data = b"".join(
                x if isinstance(x, bytes) else str(x).encode("utf-8") for x in response.response
            )
            _, _, reason = response.status.partition(" ")
            return Reply(response.status_code, reason, headers, data, fault)
    app_iter, status, headers = response.get_wsgi_response(environ)
    code_text, _, reason = status.partition(" ")
    code = int(code_text)
    header_list = [(str(n), str(v)) for n, v in headers]
    close = getattr(app_iter, "close", None)
    body: bytes | Iterator[bytes]
    if response.is_sequence or isinstance(app_iter, (list, tuple)):
        body = b"".join(app_iter)
        if close is not None:
            close()
        close = None
    else:
        body = iter(app_iter)
    return Reply(
        status=code,
        reason=reason,
        headers=header_list,
        body=body,
        fault=fault,
        on_close=close,
    )
