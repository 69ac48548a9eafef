# The course's entry points. Quick start: `make demo`, then `make test`.
#
#   make setup      .venv/ with torch (CPU), the autograder package (editable, test extras),
#                   the Jupyter kernel nbgrader uses, and Debian's chromium for browser tests
#   make demo       grade a small sample class in ./demo-course and print the scores
#   make test       the whole test suite (browser tests too when chromium is present)
#   make release    regenerate release/ from source/ (nbgrader generate_assignment)
#   make solutions  regenerate solutions/ from source/ (executed worked solutions)
#   make bench      stock nbgrader vs `autograder grade` on a synthetic class
#   make fuzz       the long fuzzing run (FUZZ_EXAMPLES batches of FUZZ_BATCH broken submissions)
#   make lab        JupyterLab with nbgrader's extensions for this course

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.setup-stamp
ASSIGNMENT := jacobians
PYTEST_ARGS ?=
# nbgrader shells out to `alembic`, `jupyter` and the kernel's python: find the venv's first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test release solutions bench lab clean-demo chromium fuzz

setup: $(STAMP)

# Re-run only when the package metadata changes (or the venv is missing).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first and pinned by itself, so no dependency pulls in a CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	@# The kernel nbgrader starts for validate/autograde: this venv's python.
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (jacobians course)" >/dev/null
	@$(MAKE) --no-print-directory chromium
	@touch $(STAMP)

# Debian's chromium drives the browser tests (Playwright cannot download its own here).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (Debian) for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "WARNING: could not install chromium; browser tests will be skipped"; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "WARNING: could not install chromium; browser tests will be skipped"; \
	  else \
	    echo "NOTE: /usr/bin/chromium is missing (apt-get install chromium as root); browser tests will be skipped"; \
	  fi; \
	fi

demo: setup
	$(PY) -m autograder.demo

# pytest's exit 5 ("no tests collected") is reported, not treated as a failure.
test: setup
	@$(PY) -m pytest tests $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$status

release: setup
	$(PY) scripts/regenerate.py release

solutions: setup
	$(PY) scripts/regenerate.py solutions

bench: setup
	$(PY) bench/bench_autograde.py

# Minutes: FUZZ_EXAMPLES grading batches (default 20) of FUZZ_BATCH fuzzed students (default 24).
fuzz: setup
	FUZZ_LONG=1 $(PY) -m pytest tests/test_fuzz.py -q -s $(PYTEST_ARGS)

lab: setup
	$(PY) scripts/lab.py

clean-demo:
	rm -rf demo-course
