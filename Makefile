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
# and h2load (HTTP/2 clients), curl, nginx. Installed only when missing and apt-get exists;
# otherwise those tests skip and say why. Debian's nginx package may start a system nginx
# on port 80: the tests never use it, so it is stopped again.
SYSTEM_DEPS := nghttpd:nghttp2-server h2load:nghttp2-client curl:curl nginx:nginx-light
system-deps:
	@missing=""; \
	for pair in $(SYSTEM_DEPS); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "missing:$$missing (no apt-get): the tests that need them will skip"; exit 0; fi; \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends $$missing >/dev/null) \
	  || echo "could not install$$missing: the tests that need them will skip"; \
	if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi

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
