# Quickstart: `make demo` and `make test` on a fresh clone need only python3 and the package registry.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test docs browser stress fuzz lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/chainrule demo

# The HTML reports are checked in a real browser (tests/test_explain_browser.py): Debian's
# chromium, driven by playwright. Installed here when missing and apt-get can (CI runs as
# root on Debian); without one the browser test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	    || echo "could not install chromium: the browser test will skip"; \
	  else echo "no chromium (apt-get install chromium): the browser test will skip"; fi; }

# lint-imports checks the layering contract in pyproject.toml (docs/architecture.md).
# pytest also builds the site (tests/test_docs.py: `mkdocs build --strict`, running every
# page's examples) and runs every notebook (tests/test_notebooks.py).
test: $(STAMP) browser
	$(PY) -m pytest
	$(PY) -m ruff check src tests tools
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

# The documentation site, into site/ (open site/index.html; no server or network needed).
# Warnings are errors: a broken link or a failing example stops the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# The long robustness runs that `make test` leaves out (pytest -m stress): 100 saves killed
# at random moments, 30 training runs killed and resumed, 20,000 mutated model files and
# two minutes of fuzzing the loader.
stress: $(STAMP)
	$(PY) -m pytest -m stress

# Fuzz the model-file loader for FUZZ_SECONDS (coverage-guided when atheris is installed);
# a crashing input is kept and its path printed.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(PY) tests/fuzz_model_files.py -max_total_time=$(FUZZ_SECONDS)

lint: $(STAMP)
	$(PY) -m ruff check src tests tools

typecheck: $(STAMP)
	$(PY) -m mypy

# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, set on some machines for old OpenBLAS builds, slow a
# current NumPy: the benchmarks run without them (every contestant alike).
bench: $(STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
