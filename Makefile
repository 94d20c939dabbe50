# The README's commands. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# `make run` installs only what the app needs; tests and lint add the dev tools.
RUNTIME := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.dev-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# xdist workers: one per core (measured: one more than cores made CI slower, 11.8 vs 10.0 min).
TEST_WORKERS ?= auto

.PHONY: install run test setup lint format bench demo clean lock

# The pinned versions of requirements*.lock (`make lock` regenerates them from pyproject.toml).
$(RUNTIME): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME) requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -r requirements-dev.lock
	touch $(STAMP)

setup: $(STAMP)

# The app's runtime only (README, "On PostgreSQL and Redis").
install: $(RUNTIME)

# Development server: SQLite in the project folder, tasks in-process, demo data.
run: export DEBUG = 1
run: $(RUNTIME)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_cohort --if-empty --patients 60 --seed 1
	$(PY) manage.py demo_users
	$(PY) manage.py runserver $(HOST):$(PORT)

test: export LUTETIA_TESTING = 1
test: $(STAMP)
	@# Bytecode for our own code too: with PYTHONDONTWRITEBYTECODE set (as on CI's machine)
	@# every subprocess a test starts would otherwise compile the project from source again.
	$(PY) -m compileall -q registry api tests bench manage.py gunicorn.conf.py
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) bench/run.py

lock: $(RUNTIME)
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) staticfiles lutetia.sqlite3*
