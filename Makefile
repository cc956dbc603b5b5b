# digit-recog: `make run` trains and evaluates everything, `make test` checks everything.
# Both create .venv and install the pinned requirements first; no virtual environment need be active.

PYTHON_SYSTEM ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/0*.ipynb))
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MPLBACKEND := Agg

.DEFAULT_GOAL := help
.PHONY: help install run test lint format clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Create .venv and install pinned requirements and the package (editable)

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

run: install ## Run every notebook in order, in place: data checks, split, training, evaluation, figures
	@for notebook in $(NOTEBOOKS); do \
		echo "== $$notebook"; \
		$(PYTHON) -m papermill --kernel python3 --log-output --cwd notebooks $$notebook $$notebook || exit 1; \
	done

test: install lint ## Lint, run the unit tests, then replay every notebook with nbval (shrunk budgets)
	$(PYTHON) -m pytest
	$(PYTHON) tests/replay_notebooks.py

lint: install ## Check code and notebooks with ruff
	$(VENV)/bin/ruff check src tests notebooks

format: install ## Format code and notebooks with ruff, and sort imports
	$(VENV)/bin/ruff check --select I --fix src tests notebooks
	$(VENV)/bin/ruff format src tests notebooks

clean: ## Remove .venv and caches (committed artefacts are kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache models/checkpoints src/*.egg-info
