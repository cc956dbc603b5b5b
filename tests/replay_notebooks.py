"""Replay every notebook with nbval, on shrunk budgets, without touching committed artefacts.

Each notebook is copied into a temporary folder with papermill's parameter injection (a smaller
training run, a lower accuracy floor), and nbval executes the copies in order with
``--nbval-lax``: every cell must run without error, and cells tagged ``nbval-check-output`` must
reproduce their committed output. ``DIGIT_RECOG_OUTPUT_DIR`` sends everything the notebooks
write into the temporary folder; the script fails if any committed artefact changed anyway.

Usage: python tests/replay_notebooks.py [extra pytest arguments]
"""

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from papermill.parameterize import parameterize_notebook

from digit_recog.runs import BATCH_RUN_VARIABLE

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
ARTEFACT_DIRS = ["models", "figures", "reports", "data", "notebooks"]

# Small enough to replay in minutes on two cores, big enough that training visibly works.
REPLAY_PARAMETERS = {
    # 03 trains a run of its own, which 04, 05, 08 and 09 then read, as a user's experiment would.
    "03_train.ipynb": {
        "train_subset": 4000,
        "epochs": 2,
        "batch_size": 64,
        "outlier_images": 300,
        "run_name": "replay",
    },
    "04_evaluate.ipynb": {"min_test_accuracy": 0.5, "run_name": "replay"},
    "05_visualize.ipynb": {"run_name": "replay"},
    "06_tune.ipynb": {
        "max_epochs": 2,
        "max_trials": 2,
        "hyperband_iterations": 1,
        "train_subset": 600,
        "min_val_accuracy": 0.1,
    },
    "07_architectures.ipynb": {
        "names": ["mlp", "keras_io_convnet"],
        "epochs": 1,
        "train_subset": 1000,
        "min_val_accuracy": 0.3,
    },
    "08_robustness.ipynb": {
        "test_subset": 300,
        "min_clean_accuracy": 0.5,
        "run_name": "replay",
        "hands_per_style": 3,
        "non_digits_per_kind": 10,
        "other_writers_subset": 300,
    },
    "10_other_writers.ipynb": {"preset": "fast", "epochs": 1, "train_subset": 500, "test_subset": 200},
    "09_compare_runs.ipynb": {"run_names": ["replay"]},
}


def fingerprint(root: Path) -> dict[str, str]:
    """SHA-256 of every file under the committed artefact folders."""
    digests = {}
    for folder in ARTEFACT_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "checkpoints" not in path.parts and ".ipynb_checkpoints" not in path.parts:
                digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def prepare_copies(target: Path) -> list[Path]:
    """Write each notebook, with its replay parameters injected, into ``target``."""
    target.mkdir(parents=True)
    copies = []
    for source in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        parameters = REPLAY_PARAMETERS.get(source.name)
        if parameters:
            notebook = parameterize_notebook(notebook, parameters)
        copy = target / source.name
        nbformat.write(notebook, copy)
        copies.append(copy)
    return copies


def main(pytest_args: list[str]) -> int:
    before = fingerprint(PROJECT_ROOT)
    with tempfile.TemporaryDirectory(prefix="digit-recog-replay-") as tmp:
        tmp_path = Path(tmp)
        copies = prepare_copies(tmp_path / "notebooks")
        # Without MPLBACKEND the kernel draws figures inline, as in Jupyter and in the committed outputs.
        env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
        env["DIGIT_RECOG_OUTPUT_DIR"] = str(tmp_path / "outputs")
        env[BATCH_RUN_VARIABLE] = "1"  # floors stay strict, training logs one line per epoch
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(PROJECT_ROOT / "tests" / "nbval_sanitize.cfg"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            *pytest_args,
            *map(str, copies),
        ]
        print("replaying", ", ".join(copy.name for copy in copies), "with", REPLAY_PARAMETERS, flush=True)
        status = subprocess.run(command, cwd=tmp_path, env=env).returncode
    after = fingerprint(PROJECT_ROOT)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if changed:
        print("the replay changed committed artefacts:", ", ".join(changed), file=sys.stderr)
        return status or 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
