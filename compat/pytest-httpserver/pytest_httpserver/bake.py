"""``pytest_httpserver.bake``: the baked-defaults proxy."""

from hyperhttp.testing import BakedHTTPServer

__all__ = ["BakedHTTPServer"]
