# The course's entry points. Quick start: `make demo`, then `make test`.
#
#   make setup      .venv/ with torch (CPU), the autograder package (editable, test, postgres
#                   and hub extras), the Jupyter kernel nbgrader uses, Debian's chromium for
#                   browser tests, PostgreSQL and JupyterHub's proxy (npm) for the deployment tests
#   make demo       grade a small sample class of each assignment in ./demo-course and print the scores
#   make test       the whole test suite on TEST_WORKERS pytest-xdist workers (default 2; 0: one
#                   process), browser tests too when chromium is present
#   make test-stock nbgrader's own autograde tests run stock again, checked against the record
#                   tests/nbgrader_stock.json (RECORD=1 writes it, after a new nbgrader pin)
#   make release    regenerate release/ from source/ (nbgrader generate_assignment)
#   make solutions  regenerate solutions/ from source/ (executed worked solutions)
#                   Both are `python scripts/regenerate.py release|solutions`; without .venv/ they
#                   run with $(PYTHON) when the package is installed there, and set nothing up.
#   make bench      stock nbgrader vs `autograder grade` on synthetic classes (40 and 8 students, each assignment),
#                   with the fast path's profile by phase
#   make bench-scale  a class of N students (default 1000) on the local pool and on a local Dask cluster:
#                   speed, every process's peak memory, memory and /dev/shm flat, nothing left behind
#   make bench-submit   `autograder serve` vs a stock collect/autograde/feedback loop: submit to fetchable feedback
#   make fuzz       the long fuzzing run (FUZZ_EXAMPLES batches of FUZZ_BATCH broken submissions)
#   make lab        JupyterLab with nbgrader's extensions for this course
#   make hub        the course on a JupyterHub on 127.0.0.1 (as root; see docs/deploy.md)

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

.PHONY: setup demo test test-stock release solutions bench bench-submit bench-scale lab hub clean-demo chromium deploy-deps hub-venv fuzz

setup: $(STAMP)

# Re-run only when the package metadata changes (or the venv is missing).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first and pinned by itself, so no dependency pulls in a CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test,postgres,hub]'
	@# The kernel nbgrader starts for validate/autograde: this venv's python.
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (jacobians course)" >/dev/null
	@$(MAKE) --no-print-directory chromium
	@$(MAKE) --no-print-directory deploy-deps
	@$(MAKE) --no-print-directory hub-venv
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

# Debian's PostgreSQL (the tests start throw-away clusters with its initdb) and JupyterHub's
# proxy, configurable-http-proxy, from npm into the venv (JupyterHub finds it on PATH).
CHP_VERSION := 5.3.0
deploy-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing postgresql and npm (Debian) for the deployment tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
	      $$(command -v npm >/dev/null || echo npm) >/dev/null \
	      || echo "WARNING: could not install postgresql/npm; PostgreSQL and hub tests will be skipped"; \
	  else \
	    echo "NOTE: apt-get install postgresql npm as root, or the PostgreSQL and hub tests are skipped"; \
	  fi; \
	fi
	@if command -v npm >/dev/null && [ ! -x $(VENV)/bin/configurable-http-proxy ]; then \
	  npm install --silent --no-fund --no-audit --prefix $(VENV)/npm configurable-http-proxy@$(CHP_VERSION) >/dev/null \
	    && ln -sf ../npm/node_modules/.bin/configurable-http-proxy $(VENV)/bin/configurable-http-proxy \
	    || echo "WARNING: could not install configurable-http-proxy; hub tests will be skipped"; \
	fi

# On the hub every user runs the course's Python as themselves, but the venv's base interpreter
# may lie where they cannot reach it (pyenv under /root).  .venv-hub has the same packages,
# hard-linked (no copy, no download), on Debian's python3.11.
HUB_VENV := .venv-hub
HUB_PYTHON ?= /usr/bin/python3.11
hub-venv: $(HUB_VENV)/.stamp
$(HUB_VENV)/.stamp: pyproject.toml
	@if [ -x $(HUB_PYTHON) ]; then \
	  rm -rf $(HUB_VENV) && cp -al $(VENV) $(HUB_VENV) && rm -f $(HUB_VENV)/.setup-stamp \
	  && ln -sfn $(HUB_PYTHON) $(HUB_VENV)/bin/python3 \
	  && sed -i 's|^home = .*|home = $(dir $(HUB_PYTHON))|; s|^executable = .*|executable = $(HUB_PYTHON)|' $(HUB_VENV)/pyvenv.cfg \
	  && grep -rlIZ '$(CURDIR)/$(VENV)/' $(HUB_VENV)/bin $(HUB_VENV)/share/jupyter/kernels \
	     | xargs -0r sed -i 's|$(CURDIR)/$(VENV)/|$(CURDIR)/$(HUB_VENV)/|g' \
	  && touch $@; \
	else echo "NOTE: $(HUB_PYTHON) is missing (apt-get install python3.11-venv); hub tests will be skipped"; fi

# The course on a JupyterHub on 127.0.0.1:8000 with an instructor and two students (their
# passwords are printed), GRADE_ON_SUBMIT's assignments graded as they are submitted
# (GRADE_ON_SUBMIT= for none); Ctrl-C stops it.  Root only: it creates Unix accounts.
GRADE_ON_SUBMIT ?= jacobians
hub: setup
	$(PY) deploy/hub/course.py setup --demo-users
	cd deploy/hub && GRADE_ON_SUBMIT="$(GRADE_ON_SUBMIT)" $(CURDIR)/$(HUB_VENV)/bin/python -m jupyterhub -f jupyterhub_config.py

demo: setup
	$(PY) -m autograder.dev.demo

# pytest's exit 5 ("no tests collected") is reported, not treated as a failure.
TEST_WORKERS ?= 2
test: setup
	@$(PY) -m pytest tests -n $(TEST_WORKERS) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$status

# Minutes: stock nbgrader starts a kernel for every notebook of its own tests.
RECORD ?=
test-stock: setup
	AUTOGRADER_STOCK_LIVE=1 AUTOGRADER_STOCK_RECORD=$(RECORD) $(PY) -m pytest tests/test_nbgrader_dropin.py \
	  -k recorded_stock_outcomes $(PYTEST_ARGS)

# An instructor's own environment: no .venv/, and $(PYTHON) has the package installed (pip).
# Evaluated once per make run, only without the venv; `make test` always sets up (CI relies on it).
INSTALLED := $(if $(wildcard $(PY)),,$(shell $(PYTHON) -c 'import importlib.metadata as m; m.version("jacobians-autograder")' >/dev/null 2>&1 && echo yes))
REGENERATE_PY := $(if $(INSTALLED),$(PYTHON),$(PY))

release: $(if $(INSTALLED),,setup)
	$(REGENERATE_PY) scripts/regenerate.py release

solutions: $(if $(INSTALLED),,setup)
	$(REGENERATE_PY) scripts/regenerate.py solutions

bench: setup
	$(PY) bench/bench_autograde.py

bench-submit: setup
	$(PY) bench/bench_submit.py

# Not part of `make test`: minutes (N=1000: the class is built, graded twice and checked).
N ?= 1000
bench-scale: setup
	$(PY) bench/bench_scale.py --students $(N)

# Minutes: FUZZ_EXAMPLES grading batches (default 20) of FUZZ_BATCH fuzzed students (default 24).
fuzz: setup
	FUZZ_LONG=1 $(PY) -m pytest tests/test_fuzz.py -q -s $(PYTEST_ARGS)

lab: setup
	$(PY) scripts/lab.py

clean-demo:
	rm -rf demo-course
