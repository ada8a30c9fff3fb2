# The two commands: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test install browser lint bench clean

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
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

# The event pipeline measured end to end (bench/pipeline.py); results in docs/BENCHMARKS.md.
# BENCH_EVENTS=20000 for a quicker run. Uses DATABASE_URL/REDIS_URL when set, else embedded.
bench: install
	$(PY) -m bench.pipeline

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache staticfiles
