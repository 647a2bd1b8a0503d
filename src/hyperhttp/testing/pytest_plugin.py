"""pytest plugin of hyperhttp.testing: the ``httpserver`` fixtures.

Registered through the ``pytest11`` entry point ``hyperhttp``. When the real pytest-httpserver
is installed too, both would define the same fixture names and whichever plugin loads last
would silently win; instead this plugin steps aside (its fixtures are not registered) and
says so in the session header. Import from ``hyperhttp.testing`` directly, or uninstall
pytest-httpserver, to use ours.
"""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["upstream_pytest_httpserver_installed"]

_FIXTURES_PLUGIN = "hyperhttp-testing-fixtures"
_STEP_ASIDE = (
    "hyperhttp.testing: pytest-httpserver is installed, so its httpserver fixtures are used "
    "and hyperhttp's are disabled (uninstall pytest-httpserver, or install "
    "hyperhttp-pytest-httpserver-compat instead of it, to switch)"
)


def upstream_pytest_httpserver_installed() -> bool:
    """True when the importable ``pytest_httpserver`` is the real one, not our compat shim."""
    spec = importlib.util.find_spec("pytest_httpserver")
    if spec is None or not spec.origin:
        return False
    try:
        with open(spec.origin, encoding="utf-8") as handle:
            return "__hyperhttp_compat__" not in handle.read()
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    if importlib.util.find_spec("werkzeug") is None:
        return  # hyperhttp installed without the "testing" extra: nothing to offer
    if upstream_pytest_httpserver_installed():
        config.stash[_stepped_aside] = True
        return
    if not config.pluginmanager.has_plugin(_FIXTURES_PLUGIN):
        from . import _fixtures

        config.pluginmanager.register(_fixtures, _FIXTURES_PLUGIN)


_stepped_aside = pytest.StashKey[bool]()


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.stash.get(_stepped_aside, False):
        return _STEP_ASIDE
    return None
