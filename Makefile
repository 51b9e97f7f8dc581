# Two commands: `make run` and `make test`. Each does all of its own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SETUP  := $(VENV)/.setup-done
ASSETS := static/vendor/.installed

.PHONY: run test lint typecheck unit bench setup assets data clean

run: setup data
	$(BIN)/streamlit run app.py

test: setup lint typecheck
	$(BIN)/pytest

setup: $(SETUP) $(ASSETS)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Our Patch needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(SETUP): requirements.txt requirements-dev.txt requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c requirements.lock
	touch $@

# Leaflet and plugins from the npm registry (pinned in package-lock.json), served by the app.
$(ASSETS): package.json package-lock.json | $(SETUP)
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python -m mapping.vendor
	touch $@

assets: $(ASSETS)

# First data load: prepares the embedded central-Helsinki extract in the data folder.
data: $(SETUP)
	$(BIN)/python -m layers categories > /dev/null

lint: $(SETUP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(SETUP)
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -m "not browser"

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .mypy_cache .ruff_cache
