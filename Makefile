# smalltown: `make run` starts the town, `make test` runs every test. Both set up .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP  := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed

JS_DEPS    := tests/js/node_modules/.package-lock.json

.PHONY: run test lint typecheck typecheck-js format services bench-store clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable ".[dev]"
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/smalltown run

# The official convex npm clients, for the protocol tests, and TypeScript, for the page's
# type check (versions pinned by the lock file).
$(JS_DEPS): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error

test: $(TEST_STAMP) $(JS_DEPS) services lint typecheck typecheck-js
	$(BIN)/pytest

# The page's JavaScript checked against its JSDoc types (tests/js/tsconfig.json); writes nothing.
typecheck-js: $(JS_DEPS)
	tests/js/node_modules/.bin/tsc --project tests/js/tsconfig.json

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests scripts deploy examples
	$(BIN)/ruff format --check src tests scripts deploy examples

# The Python type check of src/smalltown: strict for store/, runtime/ and engine/ (the
# settings are [tool.mypy] in pyproject.toml); writes nothing but mypy's cache.
typecheck: $(TEST_STAMP)
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff format src tests scripts deploy examples
	$(BIN)/ruff check --fix src tests scripts deploy examples

services:
	bash scripts/test-services.sh

bench-store: $(TEST_STAMP)
	$(BIN)/smalltown bench store --database $${SMALLTOWN_DATABASE_URL:-sqlite:///./data/bench.db}

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache src/*.egg-info tests/js/node_modules
