"""Benchmark: hyperhttp.testing.HTTPServer vs pytest-httpserver 1.2, same machine, same run.

Measures, for each server:
  * start() and stop() time (median of several cycles, ephemeral port);
  * requests/s served to the same client: ``wrk`` (keep-alive, several connections) when it
    is available (installed from Debian's packages if possible), plus a single keep-alive
    ``http.client`` loop (the kind of client most tests use).

pytest-httpserver runs in its own venv (benchmarks/.venvs/pytest-httpserver-1.2, created on
first use); each server runs in a child process so they never share an interpreter. Results
are printed and written into docs/performance.md between the "testserver" markers, leaving the
rest of that file alone.

Usage:  python benchmarks/run_testserver.py [--duration 3] [--connections 16] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _harness import write_doc as harness_write_doc
from _machine import VENVS_DIR

ROOT = Path(__file__).resolve().parent.parent
VENV = VENVS_DIR / "pytest-httpserver-1.2"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- testserver-bench:start -->", "<!-- testserver-bench:end -->"

# Runs inside each child interpreter. Prints one JSON line with start/stop timings, then the
# port of a running server, then serves until stdin closes.
CHILD = textwrap.dedent(
    """
    import http.client, json, statistics, sys, time
    if sys.argv[1] == "ours":
        from hyperhttp.testing import HTTPServer
    else:
        from pytest_httpserver import HTTPServer

    starts, stops = [], []
    for _ in range(int(sys.argv[2])):
        server = HTTPServer(host="127.0.0.1")
        t0 = time.perf_counter(); server.start(); t1 = time.perf_counter()
        server.stop(); t2 = time.perf_counter()
        starts.append(t1 - t0); stops.append(t2 - t1)

    server = HTTPServer(host="127.0.0.1")
    server.start()
    server.expect_request("/bench").respond_with_data("hello, world")

    # single keep-alive http.client loop (upstream closes the connection after each response;
    # http.client then reconnects transparently, so both are measured with the same code)
    n = int(sys.argv[3]); conn = http.client.HTTPConnection("127.0.0.1", server.port)
    t0 = time.perf_counter()
    for _ in range(n):
        conn.request("GET", "/bench"); conn.getresponse().read()
    loop_rps = n / (time.perf_counter() - t0)
    conn.close()
    server.clear_log()
    print(json.dumps({
        "start_ms": statistics.median(starts) * 1000,
        "stop_ms": statistics.median(stops) * 1000,
        "httpclient_rps": loop_rps,
        "port": server.port,
    }), flush=True)
    sys.stdin.read()
    server.stop()
    """
)


def ensure_upstream_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "pytest-httpserver==1.2.*"],
            check=True,
        )
    return python


def ensure_wrk() -> str | None:
    wrk = shutil.which("wrk")
    if wrk is None and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wrk = shutil.which("wrk")
    return wrk


def run_wrk(wrk: str, port: int, duration: float, connections: int) -> float:
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "5s",
            f"http://127.0.0.1:{port}/bench",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return float(match.group(1)) if match else 0.0


def launch(kind: str, python: str, args: argparse.Namespace) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [python, "-c", CHILD, kind, str(args.cycles), str(args.requests)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # werkzeug logs every request there
        text=True,
        cwd=str(ROOT),
    )


def measure_both(
    upstream_python: str, args: argparse.Namespace, wrk: str | None
) -> tuple[dict[str, float], dict[str, float]]:
    """Start/stop and http.client numbers from each child, then wrk rounds interleaved.

    Alternating the wrk runs (ours, upstream, ours, ...) and taking medians keeps a change
    in machine load during the run from favouring either server.
    """
    results: list[dict[str, float]] = []
    children: list[subprocess.Popen[str]] = []
    try:
        for kind, python in (("ours", sys.executable), ("upstream", upstream_python)):
            child = launch(kind, python, args)
            children.append(child)
            assert child.stdout is not None
            results.append(json.loads(child.stdout.readline()))  # sequential: no overlap
        if wrk is not None:
            rounds: list[list[float]] = [[], []]
            for _ in range(args.rounds):
                for index, result in enumerate(results):
                    port = int(result["port"])
                    rounds[index].append(run_wrk(wrk, port, args.duration, args.connections))
            for index, result in enumerate(results):
                result["wrk_rps"] = statistics.median(rounds[index])
    finally:
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=30)
    return results[0], results[1]


def render(ours: dict[str, float], upstream: dict[str, float], args: argparse.Namespace) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}x" if b else "n/a"

    rows = [
        ("start() (median)", "start_ms", "ms", False),
        ("stop() (median)", "stop_ms", "ms", False),
        ("keep-alive http.client loop, 1 connection", "httpclient_rps", "req/s", True),
    ]
    if "wrk_rps" in ours:
        label = f"wrk, {args.connections} connections (median of {args.rounds} interleaved runs)"
        rows.append((label, "wrk_rps", "req/s", True))
    lines = [
        START,
        "## Test server",
        "",
        f"`python benchmarks/run_testserver.py` ({time.strftime('%Y-%m-%d')}, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs). Same machine, same run; "
        "pytest-httpserver 1.2 in its own venv; each server in its own process; "
        "response body `hello, world`.",
        "",
        "| measure | hyperhttp.testing | pytest-httpserver 1.2 | ours vs upstream |",
        "|---|---:|---:|---:|",
    ]
    for label, key, unit, higher_is_better in rows:
        a, b = ours[key], upstream[key]
        better = ratio(a, b) + " more" if higher_is_better else ratio(b, a) + " faster"
        lines.append(f"| {label} | {a:,.1f} {unit} | {b:,.1f} {unit} | {better} |")
    lines += [
        "",
        "Upstream's stop() waits for werkzeug's serve_forever poll interval (0.5 s) and its "
        "server closes the connection after every response; ours stops its event loop at "
        "once and keeps connections alive. The http.client loop runs in the server's own "
        "process (client and server share the GIL), as in a test; wrk is a separate process. "
        "The benchmark machine is shared, so absolute numbers move between runs by tens of "
        "percent; compare the ratios, which come from the same run.",
        END,
    ]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    """Replace the test-server section of docs/performance.md (or append it)."""
    harness_write_doc(DOC, section, begin=START, end=END, head="# Performance\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=20, help="start/stop cycles")
    parser.add_argument("--requests", type=int, default=2000, help="http.client loop length")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()

    upstream_python = str(ensure_upstream_venv())
    wrk = ensure_wrk()
    if wrk is None:
        print("wrk not available: only the http.client loop is measured", file=sys.stderr)
    ours, upstream = measure_both(upstream_python, args, wrk)
    section = render(ours, upstream, args)
    print(section)
    if not args.no_write:
        write_doc(section)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
