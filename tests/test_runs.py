"""Runs: a tweak trains into runs/<run_name>/, never over the shipped model; runs are listed and promoted."""

import json
import zipfile

import pytest

from digit_recog import config, runs
from digit_recog.artifacts import MissingArtifactError


@pytest.fixture
def project(tmp_path, outputs_in_tmp_path):
    """config's output paths moved into ``tmp_path``, with a shipped model and its reports."""
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
    _fake_training(run, preset="fast", val_accuracy=0.9)  # a finished run: its training.json written
    with pytest.raises(runs.RunExistsError, match="already holds a run named 'quick'"):
        runs.new_training_run("quick", "fast", promote=False)
    assert runs.new_training_run("quick", "fast", promote=False, overwrite=True).name == "quick"


def test_an_unnamed_run_is_named_after_its_preset_and_time(project):
    run = runs.new_training_run(None, "fast", promote=False)
    assert run.name.startswith("fast-") and run.reports_dir.parent == project / "runs"


def test_only_promote_writes_to_the_shipped_paths(project):
    staging = runs.new_training_run(None, "default", promote=True)
    assert staging == runs.promotion_run() and staging.is_shipped  # until the pipeline promotes it
    assert staging.model.parent == config.RUNS_DIR / runs.PROMOTING and runs.run_names() == []
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
    import keras

    from digit_recog.reading.verdict import Thresholds, save_thresholds

    run = runs.new_training_run("better", "default", promote=False)
    _fake_training(run, preset="default", val_accuracy=0.996)
    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]).save(
        run.model
    )
    save_thresholds(Thresholds(0.1, 0.5), run.model)
    written = runs.promote("better")
    shipped = runs.shipped()
    assert shipped.model.read_bytes() == run.model.read_bytes()
    assert shipped.figure("accuracy_loss.png").read_bytes() == b"png of better"
    assert json.loads(shipped.training.read_text())["best_epoch_metrics"]["val_accuracy"] == 0.996
    assert shipped.model in written


def test_a_run_without_training_json_is_unfinished_listed_and_replaced_by_the_next_of_its_name(project):
    run = runs.new_training_run("halfway", "fast", promote=False)
    run.checkpoint.parent.mkdir(parents=True)
    run.checkpoint.write_bytes(b"epoch 1")  # interrupted: a checkpoint, no training.json
    split = runs.split_destination("halfway", 1000, 7)
    split.write_bytes(b"split of 02")
    assert runs.unfinished_run_names() == ["halfway"]
    assert "halfway" not in runs.run_names()
    again = runs.new_training_run("halfway", "fast", promote=False)  # no RunExistsError
    assert not again.checkpoint.exists() and split.read_bytes() == b"split of 02"


def test_overwriting_a_run_clears_its_reports_figures_and_tensorboard_logs(project):
    run = runs.new_training_run("old", "fast", promote=False)
    _fake_training(run, preset="fast", val_accuracy=0.9)
    run.metrics.write_text("{}")
    run.tensorboard_dir.mkdir(parents=True)
    (run.tensorboard_dir / "events.out").write_bytes(b"old curves")
    runs.new_training_run("old", "fast", promote=False, overwrite=True)
    assert not run.metrics.exists() and not run.figure("accuracy_loss.png").exists()
    assert not run.tensorboard_dir.exists() and not run.model.exists()


def test_one_run_name_given_as_a_string_is_that_one_run():
    assert runs.run_name_list("mytry") == ["mytry"]
    assert runs.run_name_list(["a", "b"]) == ["a", "b"]
    assert runs.run_name_list(None) is None


def test_floors_stop_the_shipped_model_only_and_none_switches_them_off(project, monkeypatch, capsys):
    monkeypatch.delenv(runs.BATCH_RUN_VARIABLE, raising=False)
    quick = runs.run_paths("quick")
    assert not runs.floors_strict(quick) and runs.floors_strict(runs.shipped())
    runs.check_floor("test accuracy", 0.51, None, strict=True)
    assert capsys.readouterr().out == ""
    runs.check_floor("test accuracy", 0.9951, 0.993, strict=True)
    assert capsys.readouterr().out == "test accuracy 0.9951 clears its floor of 0.993\n"
    runs.check_floor("test accuracy", 0.51, 0.993, strict=runs.floors_strict(quick))
    assert "below the floor 0.993" in capsys.readouterr().out
    with pytest.raises(runs.FloorError, match="test accuracy 0.5100 is below the floor 0.993"):
        runs.check_floor("test accuracy", 0.51, 0.993, strict=runs.floors_strict(runs.shipped()))
    monkeypatch.setenv(runs.BATCH_RUN_VARIABLE, "1")  # make run and the replay keep every floor strict
    assert runs.floors_strict(quick)


def test_looking_at_the_shipped_model_writes_its_reports_aside_unless_the_pipeline_asks(project):
    shipped = runs.shipped()
    aside = runs.writes_of(shipped)
    assert aside.metrics == project / "runs" / "_shipped" / "metrics.json"
    assert aside.model == shipped.model  # still reads the shipped model
    assert runs.writes_of(shipped, update_shipped_reports=True) == shipped
    assert runs.writes_of(runs.run_paths("quick")) == runs.run_paths("quick")
    aside.reports_dir.mkdir(parents=True)
    assert runs.unfinished_run_names() == []  # the aside folder is no run


def test_an_interrupted_training_says_in_one_line_what_was_kept(project):
    run = runs.run_paths("quick")
    run.checkpoint.parent.mkdir(parents=True)
    with zipfile.ZipFile(run.checkpoint, "w") as checkpoint:  # a whole .keras archive, as Keras saves it
        checkpoint.writestr("config.json", "{}")
    with pytest.raises(runs.TrainingInterrupted) as caught, runs.interruptible(run):
        raise KeyboardInterrupt
    (line,) = caught.value._render_traceback_()  # what IPython shows instead of a traceback
    assert "runs/quick/checkpoints/best_val_loss.keras" in line and "replaces it" in line


def test_training_shows_a_progress_bar_only_in_an_interactive_session(monkeypatch):
    monkeypatch.delenv(runs.BATCH_RUN_VARIABLE, raising=False)
    assert runs.training_verbosity() == 1
    monkeypatch.setenv(runs.BATCH_RUN_VARIABLE, "1")
    assert runs.training_verbosity() == 2


def test_restore_refuses_when_outputs_are_not_the_repository(project, monkeypatch):
    monkeypatch.setattr(config, "OUTPUT_ROOT", project)
    with pytest.raises(RuntimeError, match="nothing to restore"):
        runs.restore()


def test_restore_outside_a_git_checkout_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(config, "OUTPUT_ROOT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    with pytest.raises(RuntimeError, match="needs a git checkout"):
        runs.restore()


def test_a_shipped_model_its_version_does_not_record_is_flagged(project, monkeypatch):
    monkeypatch.setattr(config, "MODEL_VERSION_PATH", project / "models" / "model_version.json")
    config.MODEL_VERSION_PATH.write_text(json.dumps({"version": 6, "sha256": "0" * 64}))
    assert "is not the model" in runs.shipped_model_problem()
    from digit_recog.artifacts import file_sha256

    config.MODEL_VERSION_PATH.write_text(json.dumps({"version": 6, "sha256": file_sha256(config.MODEL_PATH)}))
    assert runs.shipped_model_problem() is None


def test_a_busy_port_is_skipped():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert runs.free_port(port) != port
