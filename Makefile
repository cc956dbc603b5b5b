# digit-recog: `make run` trains, evaluates and draws the pipeline, `make test` checks everything.
# Both create .venv and install the pinned requirements first; no virtual environment need be active.
# On an NVIDIA machine, `make install GPU=1` installs TensorFlow with CUDA instead of the CPU build.

PYTHON_SYSTEM ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
GPU ?= 0
INSTALLED := $(VENV)/.installed$(if $(filter 1,$(GPU)),-gpu)
LAB_PORT ?= 8888
TENSORBOARD_PORT ?= 6006
# The pipeline (data, training, evaluation, figures, robustness); the search and the architecture
# comparison (06, 07) take longer and run with `make experiments`.
EXPERIMENTS := notebooks/06_tune.ipynb notebooks/07_architectures.ipynb notebooks/10_other_writers.ipynb
NOTEBOOKS := $(filter-out $(EXPERIMENTS) notebooks/09_compare_runs.ipynb,$(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb)))
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 2

.DEFAULT_GOAL := help
.PHONY: help install run experiments notebooks lab tensorboard restore test bench bench-shipped bench-quick serve export site tune-distributed lint format clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Create .venv and install pinned requirements and the package (editable)

$(INSTALLED): requirements.txt requirements-gpu.txt pyproject.toml
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	if [ "$(GPU)" = 1 ]; then \
		$(PYTHON) -m pip uninstall --quiet --yes tensorflow-cpu && \
		$(PYTHON) -m pip install --quiet -r requirements-gpu.txt; fi
	$(PYTHON) -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

run: install ## Run the pipeline notebooks in place with the shipped recipe (03 promotes its model), then the Results table, model card and ONNX export
	@$(MAKE) --no-print-directory notebooks RUN="$(NOTEBOOKS)"
	$(PYTHON) -m lab.results_table
	$(PYTHON) -m digit_recog.model_card
	$(VENV)/bin/digit-recog export --format onnx --force

experiments: install ## Run the search (06), the architecture comparison (07) and the other writers' transfer matrix (10), in place
	@$(MAKE) --no-print-directory notebooks RUN="$(EXPERIMENTS)"

# Each notebook runs in place, its figures inline, with every parameter given explicitly (the shipped recipe in
# src/digit_recog/pipeline.py, whatever the parameters cells say now); 03_train promotes its model to the
# shipped one. Then papermill's injected cell, TensorFlow's start-up log lines and colour codes are cleaned out.
notebooks:
	$(PYTHON) -m digit_recog.pipeline $(RUN)

# The file browser starts in notebooks/ but reaches the whole project (runs/, figures/, reports/).
lab: install ## Open JupyterLab on the project, at notebooks/, with the project's environment as kernel (LAB_PORT=8888)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
		--ServerApp.port=$(LAB_PORT) --ServerApp.port_retries=50 \
		$(if $(filter 0,$(shell id -u)),--allow-root)

tensorboard: install ## Open TensorBoard on every training run's logs, HParams included (TENSORBOARD_PORT=6006)
	@test -d runs/tensorboard || { echo "no TensorBoard logs in runs/tensorboard yet: train a run with notebooks/03_train.ipynb (or make run) first" >&2; exit 1; }
	@port=$$($(PYTHON) -m digit_recog.runs free-port $(TENSORBOARD_PORT)) && \
		if [ "$$port" != "$(TENSORBOARD_PORT)" ]; then echo "port $(TENSORBOARD_PORT) is busy: TensorBoard uses $$port"; fi && \
		$(VENV)/bin/tensorboard --logdir runs/tensorboard --port $$port

restore: install ## Put the committed shipped model, its thresholds, reports and figures back (from git's HEAD)
	$(VENV)/bin/digit-recog runs restore

test: install lint ## Lint, run the unit tests, then replay every notebook with nbval (shrunk budgets)
	$(PYTHON) -m pytest
	$(PYTHON) tests/replay_notebooks.py

bench: install ## Benchmark the presets against the original recipe; table in docs/benchmark.md (93 min on 2 AVX2 cores)
	$(PYTHON) -m lab.benchmark --update-docs

bench-shipped: install ## The shipped recipe, 3 seeds, against the original recipe (2 runs) in one run (about 25 min on 2 cores)
	$(PYTHON) -m lab.benchmark --presets many_writers --seeds 3 --models-dir models/benchmark_shipped \
		--output lab/reports/benchmark_shipped.json --figure lab/figures/accuracy_vs_time_shipped.png

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
