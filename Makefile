# One place for every developer task; each target creates/uses the local venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYDIRS := $(wildcard server tests bench)

.PHONY: install run test test-python lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Start the server for an editor (stdio, embedded default store, no configuration).
run:
	@./scripts/groundhog serve

lint: $(STAMP)
	$(BIN)/ruff check $(PYDIRS)
	$(BIN)/ruff format --check $(PYDIRS)

typecheck: $(STAMP)
	$(BIN)/mypy

test-python: $(STAMP)
	$(BIN)/pytest

# Everything CI runs: lint, types, all tests.
test: lint typecheck test-python

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
