# The two commands: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# mypy's Django plugin imports the settings but never connects: without DATABASE_URL /
# REDIS_URL, placeholders spare a type check starting the embedded servers.
MYPY := DATABASE_URL=$${DATABASE_URL:-postgresql://typecheck@localhost/typecheck} \
	REDIS_URL=$${REDIS_URL:-redis://localhost/0} $(PY) -m mypy

.PHONY: demo test install browser lint graphql-schema bench bench-pipeline bench-data bench-reads bench-time clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Playwright drives Debian's chromium when present (or PLAYWRIGHT_CHROMIUM_EXECUTABLE);
# otherwise it downloads its own build once.
browser: install
	@if [ -z "$$PLAYWRIGHT_CHROMIUM_EXECUTABLE" ] && ! command -v chromium >/dev/null 2>&1 \
	    && ! command -v chromium-browser >/dev/null 2>&1; then \
	    $(VENV)/bin/playwright install chromium; fi

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py load_demo
	$(PY) manage.py run_demo

test: install browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MYPY)
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

# The GraphQL schema as SDL, committed at the root (a test fails when it is stale).
graphql-schema: install
	$(PY) manage.py export_graphql_schema

# Benchmarks; results in docs/BENCHMARKS.md. Use DATABASE_URL/REDIS_URL when set, else embedded.
bench: bench-pipeline bench-reads bench-time

# The event pipeline end to end (bench/pipeline.py). BENCH_EVENTS=20000 for a quicker run.
bench-pipeline: install
	$(PY) -m bench.pipeline

# 1,000,000 shipments and their orders, milestones and invoices across 50 tenants.
bench-data: install
	$(PY) -m bench.read_data

# Reads at production size through the selectors and HTTP (runs bench-data when needed).
bench-reads: install
	$(PY) -m bench.reads

# Clock sweep, exception queue and change feed at production size (bench/time_and_change.py;
# needs bench-data).
bench-time: install
	$(PY) -m bench.time_and_change

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MYPY)

clean:
	rm -rf $(VENV) .pytest_cache staticfiles
