# The two commands: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# pytest-xdist workers; tests/parallel_workers.py gives each its own Redis databases and
# ports (pytest-django its own test database). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
# Benchmarks run under it: the embedded servers they start (DATABASE_URL / REDIS_URL unset)
# are stopped when they end, as `make test`'s are.
EMBEDDED := $(PY) -m portal.embedded run --
# mypy's Django plugin imports the settings but never connects: without DATABASE_URL /
# REDIS_URL, placeholders spare a type check starting the embedded servers.
# DEBUG is off unless asked, and then SECRET_KEY is required: tools that only import the
# settings (mypy, makemigrations, benchmarks) get a placeholder key unless one is set.
TOOL_KEY := SECRET_KEY=$${SECRET_KEY:-not-a-secret-for-tools-and-benchmarks-only-0123456789}
MYPY := DATABASE_URL=$${DATABASE_URL:-postgresql://typecheck@localhost/typecheck} \
	REDIS_URL=$${REDIS_URL:-redis://localhost/0} $(TOOL_KEY) $(PY) -m mypy
# The demo runs with DEBUG off like production: a key made once for this checkout.
DEMO_SECRET_KEY_FILE := .local/demo-secret-key
DEMO_ENV := SECRET_KEY="$${SECRET_KEY:-$$(cat $(DEMO_SECRET_KEY_FILE))}" DEBUG=0 \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-localhost,127.0.0.1}"

.PHONY: demo test test-steps install browser lint openapi graphql-schema bench bench-load \
	bench-pipeline bench-projection bench-data bench-reads bench-time bench-api bench-api-fuzz \
	bench-pages bench-scaling bench-partitioning bench-wal bench-replica clean

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

$(DEMO_SECRET_KEY_FILE):
	mkdir -p $(dir $@)
	umask 077 && $(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

# gunicorn, a Celery worker and beat with DEBUG off (portal/management/commands/run_demo.py);
# Ctrl-C stops them and the embedded servers.
demo: install $(DEMO_SECRET_KEY_FILE)
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(DEMO_ENV) $(PY) manage.py load_demo
	$(DEMO_ENV) $(PY) manage.py run_demo

# The embedded servers a test run starts are stopped when it ends, whatever its outcome
# (portal/embedded.py `run`); servers that were running before it are left alone.
test: install browser
	$(PY) -m portal.embedded run -- $(MAKE) --no-print-directory test-steps

test-steps:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MYPY)
	$(TOOL_KEY) $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -p tests.parallel_workers -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The GraphQL schema as SDL, committed at the root (a test fails when it is stale).
graphql-schema: install
	$(TOOL_KEY) $(PY) manage.py export_graphql_schema

# Benchmarks; results in docs/BENCHMARKS.md. Use DATABASE_URL/REDIS_URL when set, else embedded.
bench: bench-pipeline bench-reads bench-time bench-api bench-api-fuzz bench-pages bench-load bench-scaling bench-replica

# The projection's lag at given rates and lane counts from the measured per-batch costs
# (bench/queueing.py, a simulation; docs/SCALING.md). Seconds, stdlib only.
bench-scaling: install
	$(EMBEDDED) $(PY) -m bench.queueing

# Monthly partitions of the shipment history against one table at BENCH_HISTORY_ROWS
# (10,000,000) in a scratch database (bench/partitioning.py; docs/SCALING.md). Not part of
# `make bench`: it needs ~6 GB of disk for a while and about ten minutes.
bench-partitioning: install
	$(EMBEDDED) $(PY) -m bench.partitioning

# WAL, table, index and archive bytes per event on a PostgreSQL cluster of its own
# (bench/wal.py, port BENCH_WAL_PORT; docs/SCALING.md).
bench-wal: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.wal

# The partner API at 1,000,000 shipments (bench/api.py, needs bench-data; best on a copy:
# BENCH_READS_DATABASE=...): the REST mirror page with expand, the GraphQL page of 100
# with nested lists (queries and p95), a full change-feed mirror of the largest tenant.
bench-api: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.api

# The API against docs/openapi.yaml with many more examples per operation than `make test`
# (tests/api/test_schemathesis.py; API_FUZZ_EXAMPLES=N to choose).
bench-api-fuzz: install
	API_FUZZ_EXAMPLES=$${API_FUZZ_EXAMPLES:-200} $(EMBEDDED) $(PY) -m pytest tests/api/test_schemathesis.py \
		-q -n0 -p no:cacheprovider --durations=0

# The event pipeline end to end (bench/pipeline.py). BENCH_EVENTS=20000 for a quicker run.
bench-pipeline: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.pipeline

# The projection's CPU per event in process, against DATABASE_URL, which it FLUSHES
# (bench/projection_cpu.py; BENCH_WINDOW=200 for the small batches of a steady load).
bench-projection: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.projection_cpu

# 1,000,000 shipments and their orders, milestones and invoices across 50 tenants.
bench-data: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.read_data

# Reads at production size through the selectors and HTTP (runs bench-data when needed).
bench-reads: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.reads

# Clock sweep, exception queue and change feed at production size (bench/time_and_change.py;
# needs bench-data).
bench-time: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.time_and_change

# List and search through the replica router vs the primary, on a streaming replica this
# starts itself (bench/replica_reads.py; BENCH_REPLICA_SHIPMENTS=20000).
bench-replica: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.replica_reads

# LOAD_CLIENTS (64) partner API clients for LOAD_SECONDS (60) against gunicorn and PostgreSQL
# on loopback (bench/load.py); fails on any 5xx. Results in docs/BENCHMARKS.md.
bench-load: install
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.load

# Every portal page per demo persona: weight (HTML+CSS+JS), p50/p95 server time over
# PAGES_ROUNDS (20) loads, axe serious/critical, 390 px overflow (bench/pages.py; needs
# Chromium, `make browser`). Results in docs/BENCHMARKS.md.
bench-pages: install browser
	$(TOOL_KEY) $(EMBEDDED) $(PY) -m bench.pages

# The committed OpenAPI document (docs/openapi.yaml), regenerated from the code; zero
# warnings allowed. tests/api/test_openapi_document.py fails when the two differ.
openapi: install
	DATABASE_URL=$${DATABASE_URL:-postgresql://schema@localhost/schema} \
	REDIS_URL=$${REDIS_URL:-redis://localhost/0} $(TOOL_KEY) \
	$(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MYPY)

clean:
	rm -rf $(VENV) .pytest_cache staticfiles
