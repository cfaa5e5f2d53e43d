# One venv, pinned requirements; every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast bench demo clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## run: demo data + Redis (unless REDIS_URL is set) + API on 127.0.0.1:8000 + worker + beat
run: install
	$(PY) manage.py seed-demo
	$(PY) manage.py run

## test: every test, including real Celery workers on Redis, SQLite and PostgreSQL
test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

## test-fast: skip the tests that train the full production configuration
test-fast: install
	$(PY) -m pytest -m "not slow"

## bench: speed, memory, size and accuracy figures, reference beside ours
bench: install
	$(PY) -m bench.run

clean:
	rm -rf var/ .pytest_cache
