"""``HTTPServer.bake()``: a proxy with default keyword arguments for ``expect_*``."""

from __future__ import annotations

import re
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._handlers import RequestHandler
from ._matchers import URIPattern

if TYPE_CHECKING:
    from ._httpserver import HTTPServer

__all__ = ["BakedHTTPServer"]


class BakedHTTPServer:
    """Wraps an :class:`HTTPServer`; ``expect_*`` calls get the baked keyword defaults.

    Call-time keywords win over baked ones. Everything else (``url_for``, ``check``...) is
    forwarded to the server. As a context manager it starts the server if it is not running
    and stops it on exit only if it started it.
    """

    def __init__(self, server: HTTPServer, **kwargs: Any) -> None:
        self._server = server
        self._defaults = kwargs
        self._depth = 0
        self._started = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} defaults={self._defaults!r} server={self._server!r}>"

    def __enter__(self) -> BakedHTTPServer:
        if self._depth == 0:
            self._started = not self._server.is_running()
            self._server.__enter__()
        self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0 and self._started:
            self._started = False
            self._server.__exit__(exc_type, exc, tb)

    def _merged(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**self._defaults, **kwargs}

    def bake(self, **kwargs: Any) -> BakedHTTPServer:
        """A new proxy whose defaults are these plus ``kwargs`` (which win)."""
        return self.__class__(self._server, **self._merged(kwargs))

    def expect_request(
        self, uri: str | URIPattern | re.Pattern[str], **kwargs: Any
    ) -> RequestHandler:
        """``HTTPServer.expect_request`` with the baked defaults."""
        return self._server.expect_request(uri, **self._merged(kwargs))

    def expect_oneshot_request(
        self, uri: str | URIPattern | re.Pattern[str], **kwargs: Any
    ) -> RequestHandler:
        """``HTTPServer.expect_oneshot_request`` with the baked defaults."""
        return self._server.expect_oneshot_request(uri, **self._merged(kwargs))

    def expect_ordered_request(
        self, uri: str | URIPattern | re.Pattern[str], **kwargs: Any
    ) -> RequestHandler:
        """``HTTPServer.expect_ordered_request`` with the baked defaults."""
        return self._server.expect_ordered_request(uri, **self._merged(kwargs))
