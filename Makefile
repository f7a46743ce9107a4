# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed

.PHONY: run test test-broker test-browser lint format stop-db bench-locate clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(DEPS)
	$(PY) -m portal.launcher run

test: $(DEPS)
	$(PY) -m portal.launcher test $(ARGS)

# Tests that start a real Celery worker process (CI runs them against Redis and PostgreSQL).
test-broker: $(DEPS)
	$(PY) -m portal.launcher test -m broker $(ARGS)

# Browser journeys in Debian's Chromium (scripts/install-browser.sh installs it); `make test` runs
# them too, and skips them with a reason where Chromium is missing (outside CI).
test-browser: $(DEPS)
	$(PY) -m portal.launcher test -m browser tests/browser $(ARGS)

lint: $(DEPS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEPS)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

stop-db: $(DEPS)
	$(PY) -m portal.launcher stop-db

bench-locate: $(DEPS)
	DEBUG=1 $(PY) manage.py bench_locate

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
