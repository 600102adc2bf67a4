# dnoctl: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench venv judges clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

## Embedded demo: SQLite, in-process worker and simulators; prints the URL and a login.
demo: venv
	$(BIN)/python manage.py run_embedded

## The DCC's own tools (npm), which the tests use as judges of what dnoctl signs and sends.
judges: tests/judges/node_modules/.installed

tests/judges/node_modules/.installed: tests/judges/package.json tests/judges/package-lock.json
	cd tests/judges && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Whole test suite against throwaway PostgreSQL and Redis on loopback.
test: venv
	bash scripts/ensure_system_packages.sh
	$(MAKE) --no-print-directory judges
	$(BIN)/python scripts/with_services.py -- $(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks (not tests): each prints its figure and a same-run baseline ratio.
bench: venv
	bash scripts/ensure_system_packages.sh
	$(BIN)/python scripts/with_services.py -- $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var/ test-artefacts/ tests/judges/node_modules/
