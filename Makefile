# Two commands: `make demo` and `make test`. Each creates/refreshes .venv from pyproject.toml
# (re-installing only when pyproject.toml changed) and then runs.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PY := $(VENV)/bin/python
JOBS ?= auto

.PHONY: demo test venv bench clean

# Tests start hundreds of Python processes (simulators, CLI runs): let Python cache the
# project's own byte code (site-packages is compiled at install) where the environment says not to.
unexport PYTHONDONTWRITEBYTECODE

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,explore,host,sweep,verify,train]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m hwgen demo

test: $(STAMP)
	$(PY) -m ruff check hwgen sim boards
	$(PY) -m mypy
	$(PY) -m pytest -n $(JOBS) --maxschedchunk 1 -q -rfE --durations=30

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf build .pytest_cache
