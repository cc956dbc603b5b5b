"""Run All as JupyterLab does it: the committed notebook, its parameters cell edited, run by nbclient (not
papermill, which would replace that cell). A quick 03_train writes a run of its own and leaves the shipped
model, thresholds, reports and figures byte-identical; 04, 05, 08 and 09 then take that run without error."""

import hashlib
import re
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from digit_recog import config

SHIPPED = ["models", "reports", "figures", "data/processed"]
# What a user types into each parameters cell: a quick run, then the later notebooks pointed at it.
QUICK_TRAINING = {"preset": '"fast"', "epochs": "1", "train_subset": "2000", "outlier_images": "100"}


def _edited(name: str, values: dict[str, str]) -> nbformat.NotebookNode:
    """Notebook ``name`` as committed, with ``values`` typed over its parameters cell's assignments."""
    notebook = nbformat.read(config.NOTEBOOKS_DIR / name, as_version=4)
    cell = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    for key, value in values.items():
        cell.source, found = re.subn(rf"^{key} = [^#\n]*", f"{key} = {value}  ", cell.source, flags=re.M)
        assert found == 1, key
    return notebook


def _run_all(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}},
    )
    return client.execute()


def _fingerprint(root) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in SHIPPED
        for path in sorted((root / folder).rglob("*"))
        if path.is_file() and "checkpoints" not in path.parts
    }


def _outputs_text(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.fixture
def project_copy(tmp_path, monkeypatch):
    """A copy of the shipped files where the kernels write (DIGIT_RECOG_OUTPUT_DIR), as a fresh clone has."""
    for folder in SHIPPED:
        shutil.copytree(
            config.PROJECT_ROOT / folder,
            tmp_path / folder,
            ignore=shutil.ignore_patterns("tuner", "checkpoints", "exported", "benchmark*"),
        )
    monkeypatch.setenv("DIGIT_RECOG_OUTPUT_DIR", str(tmp_path))
    monkeypatch.delenv("DIGIT_RECOG_BATCH_RUN", raising=False)  # an interactive session
    return tmp_path


@pytest.mark.slow
def test_run_all_of_an_edited_train_notebook_writes_a_run_and_the_later_notebooks_follow_it(project_copy):
    before, repository_before = _fingerprint(project_copy), _fingerprint(config.PROJECT_ROOT)
    trained = _run_all(_edited("03_train.ipynb", QUICK_TRAINING))
    (run_name,) = [path.parent.name for path in (project_copy / "runs").glob("*/training.json")]
    assert run_name.startswith("fast-")  # named automatically: preset and time
    assert f"saved runs/{run_name}/model.keras" in _outputs_text(trained)
    assert _fingerprint(project_copy) == before, "Run All in 03_train changed the shipped files"

    later = {
        "04_evaluate.ipynb": {"run_name": f'"{run_name}"'},
        "05_visualize.ipynb": {"run_name": f'"{run_name}"'},
        "08_robustness.ipynb": {
            "run_name": f'"{run_name}"',
            "test_subset": "300",
            "hands_per_style": "3",
            "non_digits_per_kind": "10",
            "min_clean_accuracy": "None",
        },
        "09_compare_runs.ipynb": {"run_names": f'"{run_name}"'},  # one name, given as a string
    }
    evaluated = _run_all(_edited("04_evaluate.ipynb", later["04_evaluate.ipynb"]))
    assert f"run:                 {run_name}" in _outputs_text(evaluated)
    for name in ["05_visualize.ipynb", "08_robustness.ipynb", "09_compare_runs.ipynb"]:
        _run_all(_edited(name, later[name]))
    assert (project_copy / "runs" / run_name / "metrics.json").is_file()
    assert _fingerprint(project_copy) == before, "a later notebook changed the shipped files"
    assert _fingerprint(config.PROJECT_ROOT) == repository_before


@pytest.mark.slow
def test_evaluating_the_shipped_model_leaves_its_committed_reports_alone(project_copy):
    before = _fingerprint(project_copy)
    evaluated = _run_all(_edited("04_evaluate.ipynb", {"mistakes_shown": "4"}))
    assert "saved runs/_shipped/metrics.json" in _outputs_text(evaluated)
    assert _fingerprint(project_copy) == before
