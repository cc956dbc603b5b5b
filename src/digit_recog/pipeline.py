"""``make run``: the pipeline notebooks with the shipped recipe, whatever their parameters cells say now.

Every parameter of every pipeline notebook is given to papermill explicitly (``RECIPE`` below), so an edit
typed into a notebook in JupyterLab and autosaved never changes what ``make run`` trains. After each run
the written notebook is tidied for git (:func:`digit_recog.notebook_outputs.tidy_outputs`): papermill's
``injected-parameters`` cell is dropped, so the committed notebook shows its own defaults, and a Run All
in JupyterLab never replays ``promote=True``. ``03_train`` with ``promote=True`` trains into
``runs/_promoting/``; right after it, the pipeline makes that the shipped model with the checks and the
staged swap of ``digit-recog runs promote`` (:func:`digit_recog.runs.promote_trained`).

    python -m digit_recog.pipeline notebooks/01_explore.ipynb ... notebooks/08_robustness.ipynb

``RECIPE`` holds each notebook's parameters as they read in the committed ``parameters`` cell, and the
few that only the pipeline sets (``promote=True`` in ``03_train``, ``update_shipped_reports=True`` in
``04``, ``05`` and ``08``); ``tests/test_pipeline.py`` checks that the two cannot drift apart. Values are
anything JSON can hold: numbers, strings, None, lists and dictionaries.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from digit_recog import config, runs
from digit_recog.notebook_outputs import tidy_file
from digit_recog.runs import BATCH_RUN_VARIABLE  # set for the kernels: one line per epoch in the outputs

# Parameters only the pipeline sets; the committed cells read False for each.
PIPELINE_ONLY = {
    "03_train.ipynb": {"promote": True},
    "04_evaluate.ipynb": {"update_shipped_reports": True},
    "05_visualize.ipynb": {"update_shipped_reports": True},
    "08_robustness.ipynb": {"update_shipped_reports": True},
}

# The shipped recipe: every parameter of each pipeline notebook (the committed cells' defaults), plus the
# pipeline's own switches above.
RECIPE: dict[str, dict] = {
    "01_explore.ipynb": {"sample_rows": 3, "sample_cols": 8, "sample_seed": 0, "save_figures": True},
    "02_preprocess.ipynb": {
        "validation_size": 5000,
        "seed": 42,
        "augmentation_preset": "default",
        "run_name": None,
    },
    "03_train.ipynb": {
        "preset": "many_writers",
        "epochs": None,
        "batch_size": None,
        "learning_rate": None,
        "lr_schedule": None,
        "label_smoothing": None,
        "early_stopping_patience": None,
        "outlier_images": None,
        "training_sets": None,
        "seed": 42,
        "train_subset": None,
        "run_name": None,
        "overwrite_run": False,
        **PIPELINE_ONLY["03_train.ipynb"],
    },
    "04_evaluate.ipynb": {
        "min_test_accuracy": 0.993,
        "run_name": None,
        "mistakes_shown": 12,
        **PIPELINE_ONLY["04_evaluate.ipynb"],
    },
    "05_visualize.ipynb": {
        "grid_rows": 3,
        "grid_cols": 5,
        "mistakes_in_grid": 3,
        "sample_seed": 0,
        "hard_cases": 4,
        "feature_image": 0,
        "run_name": None,
        **PIPELINE_ONLY["05_visualize.ipynb"],
    },
    "08_robustness.ipynb": {
        "test_subset": 2000,
        "seed": 42,
        "strengths": {
            "shift": [0, 2, 4, 6, 8],
            "rotate": [0, 15, 30, 45, 60],
            "scale": [0.5, 0.7, 1.0, 1.2, 1.4],
            "thickness": [-1, 0, 1, 2, 3],
            "blur": [0, 1, 1.5, 2, 3],
            "low_resolution": [28, 14, 10, 7, 5],
            "noise": [0, 40, 80, 120, 160],
            "invert": [0, 1],
        },
        "example_index": 0,
        "min_clean_accuracy": 0.98,
        "run_name": None,
        "hands_per_style": 12,
        "non_digits_per_kind": 120,
        "other_writers_subset": None,
        **PIPELINE_ONLY["08_robustness.ipynb"],
    },
}


def parameters_of(name: str) -> dict:
    """The parameters ``make run`` gives notebook ``name`` (e.g. ``"03_train.ipynb"``); {} for others."""
    return dict(RECIPE.get(Path(name).name, {}))


def cell_defaults(notebook: nbformat.NotebookNode) -> dict:
    """The values the cell tagged ``parameters`` assigns, read as literals (``x = 3  # comment``)."""
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            return {
                target.id: ast.literal_eval(statement.value)
                for statement in tree.body
                if isinstance(statement, ast.Assign)
                for target in statement.targets
                if isinstance(target, ast.Name)
            }
    return {}


def modified_notebooks(paths: list[Path]) -> list[str]:
    """The notebooks among ``paths`` that differ from git's index (edited or autosaved); [] outside git."""
    try:
        found = subprocess.run(
            ["git", "diff", "--name-only", "--", *map(str, paths)],
            cwd=config.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return []
    return found.stdout.split()


def run_notebook(path: Path) -> None:
    """Execute notebook ``path`` in place with papermill and its ``RECIPE`` parameters, then tidy it."""
    import papermill  # imports nbclient and the kernel machinery: only when running notebooks

    os.environ[BATCH_RUN_VARIABLE] = "1"
    papermill.execute_notebook(
        str(path),
        str(path),
        parameters=parameters_of(path.name),
        kernel_name="python3",
        log_output=True,
        cwd=str(config.NOTEBOOKS_DIR),
    )
    tidy_file(path)


def main(argv: list[str] | None = None) -> int:
    """Run each notebook named on the command line, in order; warn first about locally edited ones."""
    paths = [Path(name) for name in (argv if argv is not None else sys.argv[1:])]
    edited = modified_notebooks(paths)
    if edited:
        print(
            f"note: {', '.join(edited)} differ from git (edits or autosave); make run ignores their "
            "parameters cells and overwrites them with the shipped recipe's run",
            flush=True,
        )
    for path in paths:
        print(f"== {path}", flush=True)
        run_notebook(path)
        if PIPELINE_ONLY.get(path.name, {}).get("promote"):
            try:  # the checks and the staged swap of `digit-recog runs promote`
                written = runs.promote_trained()
            except (runs.PromoteError, OSError) as error:
                print(f"make run: error: {error}", file=sys.stderr, flush=True)
                return 2
            print(f"promoted the trained model: {', '.join(runs.shown_paths(written))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
