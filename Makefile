# Quickstart: `make demo` and `make test` on a fresh clone need only python3 and the package registry.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/chainrule demo

test: $(STAMP)
	$(PY) -m pytest
	$(PY) -m ruff check src tests
	$(PY) -m mypy

lint: $(STAMP)
	$(PY) -m ruff check src tests

typecheck: $(STAMP)
	$(PY) -m mypy

# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, set on some machines for old OpenBLAS builds, slow a
# current NumPy: the benchmarks run without them (every contestant alike).
bench: $(STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
