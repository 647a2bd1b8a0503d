"""Run pytest-httpserver's own test suite against this shim (hyperhttp.testing underneath).

Downloads the pytest-httpserver sdist (its tests are not copied into this repository), unpacks
only its ``tests/`` directory into a temporary directory, and runs it with the current
interpreter, where ``pytest_httpserver`` must be this compatibility package.

    python compat/pytest-httpserver/check_upstream_suite.py [--version 1.2.*] [pytest args]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="1.2.*")
    args, pytest_args = parser.parse_known_args()

    import pytest_httpserver

    if not getattr(pytest_httpserver, "__hyperhttp_compat__", False):
        print("pytest_httpserver is not the hyperhttp shim; install it first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="upstream-suite-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(work),
                f"pytest-httpserver=={args.version}",
            ],
            check=True,
        )
        [sdist] = work.glob("pytest_httpserver-*.tar.gz")
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if "/tests/" in m.name]
            if hasattr(tarfile, "data_filter"):
                archive.extractall(work, members=members, filter="data")
            else:  # Python < 3.10.12 has no extraction filters
                archive.extractall(work, members=members)
        [tests] = work.glob("pytest_httpserver-*/tests")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)]
        command += ["-W", "ignore::DeprecationWarning", *pytest_args]
        # run from the temporary directory so the sdist's own package is never imported
        return subprocess.run(command, cwd=str(work), check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
