# The README's commands. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# `make run` installs only what the app needs; tests and lint add the dev tools.
RUNTIME := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.dev-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint format bench demo clean

$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Development server: SQLite in the project folder, tasks in-process, demo data.
run: export DEBUG = 1
run: $(RUNTIME)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_cohort --if-empty --patients 60 --seed 1
	$(PY) manage.py demo_users
	$(PY) manage.py runserver $(HOST):$(PORT)

test: export LUTETIA_TESTING = 1
test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadgroup -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) staticfiles lutetia.sqlite3*
