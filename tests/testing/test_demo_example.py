"""examples/testserver_demo.py and examples/demo.py (`make demo`) keep running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testserver_demo.py"


def test_demo_runs_and_prints_a_transcript() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True
    )
    out = result.stdout
    assert "GET /json      -> 200" in out
    assert "GET /auth      -> 401" in out and "welcome, demo" in out
    assert "GET /missing   -> 500" in out
    assert "throughput:" in out


def test_make_demo_shows_http11_and_http2() -> None:
    demo = EXAMPLE.with_name("demo.py")
    result = subprocess.run(
        [sys.executable, str(demo)], capture_output=True, text=True, timeout=60, check=True
    )
    out = result.stdout
    assert "GET  /json" in out and "-> 200 OK" in out
    assert "ReadTimeout" in out
    assert "throughput:" in out
    assert "200 concurrent GETs          -> HTTP/2 in" in out
