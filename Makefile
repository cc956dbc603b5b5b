# digit-recog: `make run` trains, evaluates and draws the pipeline, `make test` checks everything.
# Both create .venv and install the pinned requirements first; no virtual environment need be active.

PYTHON_SYSTEM ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The pipeline (data, training, evaluation, figures, robustness); the search and the architecture
# comparison (06, 07) take longer and run with `make experiments`.
EXPERIMENTS := notebooks/06_tune.ipynb notebooks/07_architectures.ipynb
NOTEBOOKS := $(filter-out $(EXPERIMENTS),$(sort $(wildcard notebooks/0*.ipynb)))
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MPLBACKEND := Agg
export TF_CPP_MIN_LOG_LEVEL := 2

.DEFAULT_GOAL := help
.PHONY: help install run experiments notebooks test bench bench-quick serve export site tune-distributed lint format clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Create .venv and install pinned requirements and the package (editable)

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

run: install ## Run the pipeline notebooks in order, in place, then rewrite README's Results table
	@$(MAKE) --no-print-directory notebooks RUN="$(NOTEBOOKS)"
	$(PYTHON) -m lab.results_table

experiments: install ## Run the hyperparameter search (06) and the architecture comparison (07), in place
	@$(MAKE) --no-print-directory notebooks RUN="$(EXPERIMENTS)"

notebooks:
	@for notebook in $(RUN); do \
		echo "== $$notebook"; \
		$(PYTHON) -m papermill --kernel python3 --log-output --cwd notebooks $$notebook $$notebook || exit 1; \
	done

test: install lint ## Lint, run the unit tests, then replay every notebook with nbval (shrunk budgets)
	$(PYTHON) -m pytest
	$(PYTHON) tests/replay_notebooks.py

bench: install ## Benchmark the presets against the original recipe (about 95 min on 2 AVX2 cores)
	$(PYTHON) -m lab.benchmark --update-readme

bench-quick: install ## Benchmark on a subset, 2 epochs, 2 seeds (a few minutes; writes lab/reports/benchmark_quick.json)
	$(PYTHON) -m lab.benchmark --quick

serve: install ## Start the drawing web app on http://127.0.0.1:8000
	$(VENV)/bin/digit-recog serve --host 127.0.0.1 --port 8000

export: install ## Export the shipped model to ONNX, LiteRT and a SavedModel under models/exported/ (git-ignored)
	$(VENV)/bin/digit-recog export --format all --force

site: install ## Write site/: the drawing page reading digits in the browser, no server (fetches onnxruntime-web with npm)
	$(VENV)/bin/digit-recog export --format web --out site --force

WORKERS ?= 2
tune-distributed: install ## Hyperparameter search, a chief and 2 workers here (WORKERS=4 for 4); writes best_hparams.json
	$(PYTHON) -m digit_recog.experiments.distributed --workers $(WORKERS) --save

lint: install ## Check code and notebooks with ruff, and the import contracts with import-linter
	$(VENV)/bin/ruff check src tests notebooks lab
	$(VENV)/bin/lint-imports

format: install ## Format code and notebooks with ruff, and sort imports
	$(VENV)/bin/ruff check --select I --fix src tests notebooks lab
	$(VENV)/bin/ruff format src tests notebooks lab

clean: ## Remove .venv and caches (committed artefacts are kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache models/checkpoints src/*.egg-info
