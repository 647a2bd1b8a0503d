"""``pytest_httpserver.pytest_plugin``: the fixtures (hyperhttp's plugin registers them).

Listing this module in ``pytest_plugins`` or ``-p`` keeps working: it provides the same
fixture objects as hyperhttp's own plugin.
"""

from hyperhttp.testing._fixtures import (
    PluginHTTPServer,
    get_httpserver_listen_address,
    httpserver,
    httpserver_ipv4,
    httpserver_ipv6,
    httpserver_listen_address,
    httpserver_ssl_context,
    make_httpserver,
    make_httpserver_ipv4,
    make_httpserver_ipv6,
)

__all__ = [
    "PluginHTTPServer",
    "get_httpserver_listen_address",
    "httpserver",
    "httpserver_ipv4",
    "httpserver_ipv6",
    "httpserver_listen_address",
    "httpserver_ssl_context",
    "make_httpserver",
    "make_httpserver_ipv4",
    "make_httpserver_ipv6",
]
