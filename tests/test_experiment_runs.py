"""A tweak in 03_train writes a run of its own and leaves the shipped model and reports byte-identical;
04_evaluate, pointed at that run, evaluates it and writes into it too."""

import hashlib
import json
import shutil

import papermill
import pytest

from digit_recog import config

SHIPPED_FILES = ["models/digit_recog_mnist_cnn.keras", "reports/training.json", "reports/metrics.json"]


def _digests(root) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in SHIPPED_FILES}


@pytest.mark.slow
def test_a_quick_run_never_touches_the_shipped_model(tmp_path, monkeypatch):
    root = tmp_path / "project"
    for name in [*SHIPPED_FILES, "data/processed/split_indices.npz"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config.PROJECT_ROOT / name, root / name)
    before = _digests(root)
    monkeypatch.setenv("DIGIT_RECOG_OUTPUT_DIR", str(root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run = {"run_name": "quick", "preset": "fast", "epochs": 1, "train_subset": 2000}
    for notebook, parameters in [
        ("03_train.ipynb", run),
        ("04_evaluate.ipynb", {"run_name": "quick", "min_test_accuracy": None}),
    ]:
        papermill.execute_notebook(
            config.NOTEBOOKS_DIR / notebook,
            tmp_path / notebook,
            parameters=parameters,
            kernel_name="python3",
            cwd=str(config.NOTEBOOKS_DIR),
            progress_bar=False,
        )
    assert _digests(root) == before
    quick = root / "runs" / "quick"
    for name in ["model.keras", "history.json", "training.json", "metrics.json", "figures/accuracy_loss.png"]:
        assert (quick / name).is_file(), name
    training = json.loads((quick / "training.json").read_text())
    assert training["parameters"]["epochs"] == 1 and training["preset"] == "fast"
    assert training["machine"]["cpu_model"] and training["finished_at"]
    assert list((root / "runs" / "tensorboard" / "quick").rglob("events.out.tfevents.*"))
    assert json.loads((quick / "metrics.json").read_text())["test_samples"] == 10_000

    with pytest.raises(papermill.PapermillExecutionError, match="already holds a run named 'quick'"):
        papermill.execute_notebook(
            config.NOTEBOOKS_DIR / "03_train.ipynb",
            tmp_path / "again.ipynb",
            parameters=run,
            kernel_name="python3",
            cwd=str(config.NOTEBOOKS_DIR),
            progress_bar=False,
        )
