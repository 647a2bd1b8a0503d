"""``pytest_httpserver.blocking_httpserver``: the synchronous server."""

from hyperhttp.testing import BlockingHTTPServer, BlockingRequestHandler

__all__ = ["BlockingHTTPServer", "BlockingRequestHandler"]
