"""``pytest_httpserver.hooks``: post hooks."""

from hyperhttp.testing import Chain, Delay, Garbage

__all__ = ["Chain", "Delay", "Garbage"]
