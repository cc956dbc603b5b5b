"""Runs: a tweak trains into runs/<run_name>/, never over the shipped model; runs are listed and promoted."""

import json

import pytest

from digit_recog import config, runs
from digit_recog.artifacts import MissingArtifactError


@pytest.fixture
def project(tmp_path, monkeypatch):
    """config's output paths moved into ``tmp_path``, with a shipped model and its reports."""
    for name, relative in {
        "RUNS_DIR": "runs",
        "SPLIT_PATH": "data/processed/split_indices.npz",
        "MODEL_PATH": "models/digit_recog_mnist_cnn.keras",
        "CHECKPOINT_PATH": "models/checkpoints/best_val_loss.keras",
        "REPORTS_DIR": "reports",
        "FIGURES_DIR": "figures",
    }.items():
        monkeypatch.setattr(config, name, tmp_path / relative)
    shipped = runs.shipped()
    _fake_training(shipped, preset="default", val_accuracy=0.995)
    return tmp_path


def _fake_training(paths: runs.RunPaths, preset: str, val_accuracy: float) -> None:
    paths.model.parent.mkdir(parents=True, exist_ok=True)
    paths.model.write_bytes(f"model of {paths.name}".encode())
    paths.reports_dir.mkdir(parents=True, exist_ok=True)
    paths.history.write_text(json.dumps({"val_accuracy": [val_accuracy - 0.01, val_accuracy]}))
    paths.training.write_text(
        json.dumps(
            {
                "preset": preset,
                "epochs_run": 2,
                "best_epoch": 2,
                "train_seconds": 12.5,
                "train_images": 1000,
                "train_config": {"batch_size": 64, "learning_rate": 0.001},
                "best_epoch_metrics": {"val_accuracy": val_accuracy, "val_loss": 0.1},
                "machine": {"cpu_model": "Test CPU", "gpus": []},
            }
        )
    )
    paths.figures_dir.mkdir(parents=True, exist_ok=True)
    paths.figure("accuracy_loss.png").write_bytes(b"png of " + paths.name.encode())


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "a\\b", "", ".hidden", "shipped", "x" * 65, "sp ace", None]
)
def test_run_names_that_are_not_plain_folder_names_are_refused(name):
    with pytest.raises(runs.RunNameError, match="cannot name a run folder"):
        runs.check_run_name(name)


def test_a_training_run_writes_under_its_own_folder_and_is_never_overwritten_silently(project):
    run = runs.new_training_run("quick", "fast", promote=False)
    assert run.model == project / "runs" / "quick" / "model.keras"
    assert not run.is_shipped
    run.model.parent.mkdir(parents=True)  # what saving the model does
    with pytest.raises(runs.RunExistsError, match="already holds a run named 'quick'"):
        runs.new_training_run("quick", "fast", promote=False)
    assert runs.new_training_run("quick", "fast", promote=False, overwrite=True).name == "quick"


def test_an_unnamed_run_is_named_after_its_preset_and_time(project):
    run = runs.new_training_run(None, "fast", promote=False)
    assert run.name.startswith("fast-") and run.reports_dir.parent == project / "runs"


def test_only_promote_writes_to_the_shipped_paths(project):
    assert runs.new_training_run(None, "default", promote=True) == runs.shipped()
    with pytest.raises(ValueError, match="give one of them"):
        runs.new_training_run("quick", "default", promote=True)


def test_a_later_notebook_pointed_at_a_missing_run_names_the_notebook_to_run(project):
    assert runs.existing_run(None) == runs.shipped()
    with pytest.raises(MissingArtifactError, match="03_train.ipynb .* -p run_name nope"):
        runs.existing_run("nope")


def test_a_run_uses_its_own_split_when_02_wrote_one(project):
    assert runs.run_paths("mine").split == config.SPLIT_PATH
    own = runs.split_destination("mine", 1000, 7)
    own.parent.mkdir(parents=True)
    own.write_bytes(b"split")
    assert runs.run_paths("mine").split == own
    assert runs.split_destination(None, config.VALIDATION_SIZE, config.SEED) == config.SPLIT_PATH
    with pytest.raises(ValueError, match="not the shipped one"):
        runs.split_destination(None, 1000, 7)


def test_the_table_lists_the_shipped_model_first_then_each_run(project):
    _fake_training(runs.new_training_run("quick", "fast", promote=False), preset="fast", val_accuracy=0.97)
    table = runs.runs_table()
    assert list(table["run"]) == ["shipped", "quick"]
    assert list(table["val_accuracy"]) == [0.995, 0.97]
    assert table.loc[1, "preset"] == "fast" and table.loc[1, "batch_size"] == 64
    assert set(runs.histories()) == {"shipped", "quick"}


def test_promote_copies_a_run_over_the_shipped_model(project):
    run = runs.new_training_run("better", "default", promote=False)
    _fake_training(run, preset="default", val_accuracy=0.996)
    written = runs.promote("better")
    shipped = runs.shipped()
    assert shipped.model.read_bytes() == b"model of better"
    assert shipped.figure("accuracy_loss.png").read_bytes() == b"png of better"
    assert json.loads(shipped.training.read_text())["best_epoch_metrics"]["val_accuracy"] == 0.996
    assert shipped.model in written
