# The two set-up commands: `make run` (the app with demo data) and `make test` (lint + all tests).
# `make test-fast` runs the tests not marked slow, for local work (docs/testing.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
# In parallel: one pytest-xdist worker per core, each with its own test database (pytest-django
# adds the worker's name to it) and its own live server port. `--dist loadgroup` sends the tests
# marked xdist_group("processes") (Celery kill, concurrency, production collectstatic) to one
# worker together: they run one after another there, beside the ordinary tests on the other
# workers, and never two at once. One run, one report, and each worker still runs its tests in
# pytest-django's order (transactional tests after the others). PYTEST_XDIST= runs serially.
PYTEST_XDIST ?= -n auto --dist loadgroup

.PHONY: run test test-fast lint format bench loadtest migrate seed clean messages

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo --if-empty

run: seed
	bash scripts/run-dev.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint
	$(BIN)/python -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_XDIST) -m "not slow" $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The production stack on loopback (PostgreSQL, Redis, gunicorn, Celery) under locust; ~3 minutes.
loadtest: $(STAMP)
	$(BIN)/python loadtest/run.py $(LOADTEST_ARGS)

# Gather new texts into locale/es/LC_MESSAGES/django.po (needs GNU gettext's xgettext), then
# compile the .mo with polib (no msgfmt needed). Translate the new msgstr entries and run it again.
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l es --no-location --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=loadtest
	$(BIN)/python scripts/compile_messages.py

clean:
	rm -rf var/ .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
