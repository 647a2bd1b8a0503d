# The two commands of the README. Both set the project up on a fresh machine
# (Python >= 3.10, pip and make are all they assume).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test demo lint typecheck pytest bench bench-h2 bench-testserver compat-check clean system-deps

$(STAMP): pyproject.toml compat/pytest-httpserver/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e compat/pytest-httpserver
	touch $(STAMP)

# Debian packages some tests use as independent peers: nghttpd (an HTTP/2 server), nghttp
# and h2load (HTTP/2 clients), curl. Installed only when missing and apt-get exists;
# otherwise those tests skip and say why.
system-deps:
	@command -v nghttpd >/dev/null 2>&1 && command -v h2load >/dev/null 2>&1 && \
	  command -v curl >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq nghttp2-server nghttp2-client curl \
	    >/dev/null) || \
	  echo "nghttp2/curl could not be installed: their HTTP/2 interop tests will skip"

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_h1.py

bench-h2: $(STAMP)
	$(BIN)/python benchmarks/run_h2.py

bench-testserver: $(STAMP)
	$(BIN)/python benchmarks/run_testserver.py

compat-check: $(STAMP)
	$(BIN)/python compat/pytest-httpserver/check_upstream_suite.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
