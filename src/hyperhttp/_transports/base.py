"""The transport seam: everything below the client implements :class:`AsyncTransport`."""

from __future__ import annotations

from types import TracebackType

from .._models import Request, Response

__all__ = ["AsyncTransport"]


class AsyncTransport:
    """Sends one request and returns its response, body unread.

    ``Client(transport=...)`` accepts any subclass: the network transport, ``MockTransport``,
    or your own. The client handles everything above a single exchange (auth, redirects,
    cookies, retries, hooks); a transport only moves one request and one response.
    """

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request``; return the response with its body still to be read."""
        raise NotImplementedError  # pragma: no cover

    async def aclose(self) -> None:
        """Release every resource (connections, sockets)."""

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
