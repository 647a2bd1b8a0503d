"""Exceptions of the test server (names and hierarchy as pytest-httpserver's)."""

from __future__ import annotations

__all__ = ["Error", "HTTPServerError", "NoHandlerError", "NoMethodFoundForMatchingHeaderValueError"]


class Error(Exception):
    """Base class of every exception raised by :mod:`hyperhttp.testing`."""


class NoHandlerError(Error):
    """An expectation matched, but no response was defined for it."""


class HTTPServerError(Error):
    """The server cannot do what was asked (already running, not running, failed to start)."""


class NoMethodFoundForMatchingHeaderValueError(Error):
    """A :class:`HeaderValueMatcher` has no comparison function for a header name."""
