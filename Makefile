# The two commands of the README. Both set the project up on a fresh machine
# (Python >= 3.10, pip and make are all they assume).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test demo lint typecheck pytest bench bench-testserver compat-check clean

$(STAMP): pyproject.toml compat/pytest-httpserver/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e compat/pytest-httpserver
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_h1.py

bench-testserver: $(STAMP)
	$(BIN)/python benchmarks/run_testserver.py

compat-check: $(STAMP)
	$(BIN)/python compat/pytest-httpserver/check_upstream_suite.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
