"""The Python examples of docs/testing-server.md run as written."""

from __future__ import annotations

import http.client
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug import Response

import hyperhttp.testing
from hyperhttp.testing import HTTPServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing-server.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_block_runs(code: str, httpserver: HTTPServer) -> None:
    if code.lstrip().startswith("from pytest_httpserver"):
        pytest.importorskip("pytest_httpserver")  # the compat package (make test installs it)
    namespace: dict[str, Any] = {
        "httpserver": httpserver,
        "requests": requests,
        "time": time,
        "http": http,
        "Response": Response,
        "pytest": pytest,
        **{name: getattr(hyperhttp.testing, name) for name in hyperhttp.testing.__all__},
    }
    exec(compile(code, str(DOC), "exec"), namespace)
    try:
        for name, value in list(namespace.items()):  # run the test functions a block defines
            if name.startswith("test_") and callable(value):
                value(httpserver)
    finally:
        for value in namespace.values():
            if isinstance(value, HTTPServer) and value is not httpserver and value.is_running():
                value.stop()
