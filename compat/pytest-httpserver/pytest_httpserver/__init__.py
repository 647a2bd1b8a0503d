"""pytest-httpserver's API, served by hyperhttp.testing (hyperhttp-pytest-httpserver-compat)."""

from hyperhttp.testing import (
    METHOD_ALL,
    URI_DEFAULT,
    BakedHTTPServer,
    BlockingHTTPServer,
    BlockingRequestHandler,
    Error,
    HeaderValueMatcher,
    HTTPServer,
    HTTPServerError,
    NoHandlerError,
    RequestHandler,
    RequestMatcher,
    RequestMatcherKwargs,
    URIPattern,
    WaitingSettings,
)

#: Marks this package as hyperhttp's shim (hyperhttp's plugin looks for it).
__hyperhttp_compat__ = True

__all__ = [
    "METHOD_ALL",
    "URI_DEFAULT",
    "BakedHTTPServer",
    "BlockingHTTPServer",
    "BlockingRequestHandler",
    "Error",
    "HTTPServer",
    "HTTPServerError",
    "HeaderValueMatcher",
    "NoHandlerError",
    "RequestHandler",
    "RequestMatcher",
    "RequestMatcherKwargs",
    "URIPattern",
    "WaitingSettings",
]
