# One venv, pinned requirements. `make run` installs what the service runs (requirements.txt);
# the test and bench targets add requirements-dev.txt. One stamp per file, so neither reinstalls the other.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: install install-runtime run test test-fast bench clean

$(RUNTIME_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt $(RUNTIME_STAMP)
	$(PIP) -r requirements-dev.txt
	touch $@

## install-runtime: the venv with what the service runs (no TensorFlow, no test tools)
install-runtime: $(RUNTIME_STAMP)

## install: the runtime plus tests, bench and their peers
install: $(DEV_STAMP)

## run: schema, demo data (into an empty database only), a persistent Redis (unless REDIS_URL is set) and every process of the Procfile
run: $(RUNTIME_STAMP)
	$(PY) manage.py db upgrade
	$(PY) manage.py seed-demo --if-empty
	$(PY) manage.py run

## test: the import rules, bandit (high severity), then every test, including real Celery workers, SQLite and PostgreSQL
test: $(DEV_STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/bandit -q -c pyproject.toml -r api workers forecasting config jobs commands -lll
	$(PY) -m pytest

## test-fast: unit tests only: no Redis, PostgreSQL or worker processes, no full-size training
test-fast: $(DEV_STAMP)
	$(PY) -m pytest -m "not integration and not slow"

## bench: speed, memory, size and accuracy figures, reference beside ours
bench: $(DEV_STAMP)
	$(PY) -m bench.run

clean:
	rm -rf var/ .pytest_cache
