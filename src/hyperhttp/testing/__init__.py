"""hyperhttp.testing: a real local HTTP server for tests, compatible with pytest-httpserver.

Switch from pytest-httpserver by changing ``from pytest_httpserver import ...`` to
``from hyperhttp.testing import ...``; the pytest fixtures (``httpserver`` and friends) come
with the plugin. See ``docs/testing-server.md``.
"""

import importlib.util as _importlib_util

if _importlib_util.find_spec("werkzeug") is None:  # pragma: no cover - needs the extra missing

    def __getattr__(name: str) -> object:
        raise ImportError(
            f"hyperhttp.testing.{name} needs werkzeug: pip install 'hyperhttp[testing]'"
        )

else:
    from ._bake import BakedHTTPServer
    from ._blocking import BlockingHTTPServer, BlockingRequestHandler
    from ._errors import (
        Error,
        HTTPServerError,
        NoHandlerError,
        NoMethodFoundForMatchingHeaderValueError,
    )
    from ._faults import Fault
    from ._handlers import HandlerType, RequestHandler, RequestHandlerBase, RequestHandlerList
    from ._hooks import Chain, Delay, Garbage
    from ._httpserver import (
        DEFAULT_LISTEN_HOST,
        DEFAULT_LISTEN_PORT,
        HTTPServer,
        HTTPServerBase,
        Waiting,
        WaitingSettings,
    )
    from ._matchers import (
        METHOD_ALL,
        UNDEFINED,
        URI_DEFAULT,
        BooleanQueryMatcher,
        HeaderValueMatcher,
        MappingQueryMatcher,
        QueryMatcher,
        RequestMatcher,
        RequestMatcherKwargs,
        StringQueryMatcher,
        URIPattern,
    )
    from ._tls import TestCertificates, default_certificates
    from ._wire import ServerLimits

__all__ = [
    "DEFAULT_LISTEN_HOST",
    "DEFAULT_LISTEN_PORT",
    "METHOD_ALL",
    "UNDEFINED",
    "URI_DEFAULT",
    "BakedHTTPServer",
    "BlockingHTTPServer",
    "BlockingRequestHandler",
    "BooleanQueryMatcher",
    "Chain",
    "Delay",
    "Error",
    "Fault",
    "Garbage",
    "HTTPServer",
    "HTTPServerBase",
    "HTTPServerError",
    "HandlerType",
    "HeaderValueMatcher",
    "MappingQueryMatcher",
    "NoHandlerError",
    "NoMethodFoundForMatchingHeaderValueError",
    "QueryMatcher",
    "RequestHandler",
    "RequestHandlerBase",
    "RequestHandlerList",
    "RequestMatcher",
    "RequestMatcherKwargs",
    "ServerLimits",
    "StringQueryMatcher",
    "TestCertificates",
    "URIPattern",
    "Waiting",
    "WaitingSettings",
    "bake",
    "default_certificates",
]


def bake(server: "HTTPServer", **kwargs: object) -> "BakedHTTPServer":
    """``server.bake(**kwargs)`` as a function: ``expect_*`` defaults for one server."""
    return BakedHTTPServer(server, **kwargs)
