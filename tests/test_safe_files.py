"""Promoting runs, metadata and saved files: a bad run is refused whole, damaged metadata gives one line
naming the file, saved files get ordinary permissions, and a save killed halfway leaves nothing behind."""

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from digit_recog import cli, config, pipeline, runs
from digit_recog.artifacts import PARTIAL_MARK, atomic_path, write_json
from digit_recog.model_card import model_version
from digit_recog.modeling.export import write_output
from digit_recog.reading.verdict import Thresholds, load_thresholds, save_thresholds

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def digit_reader(path: Path, bias: float = 0.0) -> Path:
    """A small model the model gate accepts: 28x28x1 in, ten probabilities out."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax", bias_initializer=keras.initializers.Constant(bias)),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


@pytest.fixture
def project(tmp_path, outputs_in_tmp_path):
    """config's output paths moved into ``tmp_path``, with a shipped model, its thresholds, version and
    reports."""
    shipped = runs.shipped()
    finished_run(shipped, Thresholds(0.2, 0.8), bias=0.0)
    record = model_version(shipped.model) | {"version": 7}
    config.MODEL_VERSION_PATH.write_text(json.dumps(record | {"content_sha256": "not this model"}))
    return tmp_path


def finished_run(paths: runs.RunPaths, thresholds: Thresholds, bias: float) -> runs.RunPaths:
    """What ``03_train`` leaves in ``paths``: the model, its thresholds, history, summary and a figure."""
    digit_reader(paths.model, bias)
    save_thresholds(thresholds, paths.model)
    paths.reports_dir.mkdir(parents=True, exist_ok=True)
    paths.history.write_text(json.dumps({"val_accuracy": [0.9, 0.95]}))
    paths.training.write_text(json.dumps({"preset": "fast", "epochs_run": 1, "best_epoch": 1}))
    paths.figures_dir.mkdir(parents=True, exist_ok=True)
    paths.figure("accuracy_loss.png").write_bytes(b"png of " + paths.name.encode())
    return paths


def shipped_bytes() -> dict[str, bytes]:
    return {
        str(path.relative_to(config.OUTPUT_ROOT)): path.read_bytes()
        for folder in (config.MODEL_PATH.parent, config.REPORTS_DIR, config.FIGURES_DIR)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def run_cli(capsys, *arguments) -> tuple[int, str, str]:
    status = cli.main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# promote


def test_promoting_a_corrupt_run_is_refused_and_the_shipped_model_stays_byte_identical(project, capsys):
    bad = finished_run(runs.run_paths("bad"), Thresholds(0.1, 0.5), bias=1.0)
    bad.model.write_bytes(b"junk\n")
    before = shipped_bytes()
    status, out, err = run_cli(capsys, "runs", "promote", "bad")
    assert status == cli.EXIT_USAGE and out == ""
    assert len(err.splitlines()) == 1 and "runs/bad/model.keras" in err and "not a .keras file" in err
    assert shipped_bytes() == before
    assert not list(config.MODEL_PATH.parent.glob(f"*{PARTIAL_MARK}*"))


def test_a_run_without_thresholds_or_summary_is_refused_naming_what_it_lacks(project, capsys):
    incomplete = finished_run(runs.run_paths("incomplete"), Thresholds(0.1, 0.5), bias=1.0)
    (incomplete.reports_dir / "model.thresholds.json").unlink()
    incomplete.training.write_text("{")
    before = shipped_bytes()
    status, _, err = run_cli(capsys, "runs", "promote", "incomplete")
    assert status == cli.EXIT_USAGE and len(err.splitlines()) == 1
    assert "runs/incomplete/model.thresholds.json is missing" in err
    assert "runs/incomplete/training.json is not valid JSON" in err
    assert shipped_bytes() == before


def test_promote_moves_model_thresholds_version_and_reports_together_and_keeps_the_previous(project, capsys):
    old_model = config.MODEL_PATH.read_bytes()
    better = finished_run(runs.run_paths("better"), Thresholds(0.01, 0.3), bias=1.0)
    (better.reports_dir / f".metrics{PARTIAL_MARK}1-x.json").write_text("{")  # a killed save's leftover
    status, out, _ = run_cli(capsys, "runs", "promote", "better")
    assert status == cli.EXIT_OK and "promoted better" in out
    assert not list(config.REPORTS_DIR.glob(".*"))
    assert config.MODEL_PATH.read_bytes() == better.model.read_bytes()
    assert load_thresholds(config.MODEL_PATH) == Thresholds(0.01, 0.3)  # where the reader reads them
    assert not (config.REPORTS_DIR / "model.thresholds.json").exists()
    assert model_version(config.MODEL_PATH)["version"] == "8"
    assert json.loads(config.REPORTS_DIR.joinpath("training.json").read_text())["preset"] == "fast"

    status, out, _ = run_cli(capsys, "runs", "restore", "previous")
    assert status == cli.EXIT_OK and "models/digit_recog_mnist_cnn.keras" in out
    assert config.MODEL_PATH.read_bytes() == old_model
    assert load_thresholds(config.MODEL_PATH) == Thresholds(0.2, 0.8)
    assert json.loads(config.MODEL_VERSION_PATH.read_text())["version"] == 7


@pytest.mark.parametrize("model_is_whole", [True, False])
def test_make_run_promotes_what_03_trained_through_the_same_checks(
    project, monkeypatch, capsys, model_is_whole
):
    def trained(path: Path) -> None:  # 03_train with promote=True, as papermill would run it
        staging = runs.new_training_run(None, "fast", promote=True)
        finished_run(staging, Thresholds(0.01, 0.3), bias=1.0)
        if not model_is_whole:
            staging.model.write_bytes(staging.model.read_bytes()[:100])

    monkeypatch.setattr(pipeline, "run_notebook", trained)
    monkeypatch.setattr(pipeline, "modified_notebooks", lambda paths: [])
    before = shipped_bytes()
    if not model_is_whole:
        assert pipeline.main(["notebooks/03_train.ipynb"]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "what 03_train trained cannot be promoted" in err
        assert "runs/_promoting/model.keras" in err and shipped_bytes() == before
        return
    assert pipeline.main(["notebooks/03_train.ipynb"]) == 0
    assert load_thresholds(config.MODEL_PATH) == Thresholds(0.01, 0.3)
    assert not (config.RUNS_DIR / runs.PROMOTING).exists()


# damaged metadata


def test_a_damaged_version_record_gives_one_line_from_version_and_serve(project, capsys, monkeypatch):
    config.MODEL_VERSION_PATH.write_text("[1,2]")
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    err = capsys.readouterr().err
    assert exited.value.code == cli.EXIT_USAGE
    assert len(err.splitlines()) == 1 and "models/model_version.json holds a JSON list" in err

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("the server was started"))
    status, out, err = run_cli(capsys, "serve", "--model", config.MODEL_PATH, "--port", "0")
    assert status == cli.EXIT_USAGE and "serving on" not in out
    assert len(err.splitlines()) == 1 and "models/model_version.json" in err


def test_the_model_card_says_in_one_line_that_the_version_record_is_damaged(project, capsys):
    from digit_recog import model_card

    config.MODEL_VERSION_PATH.write_text('{"version": "seven"}')
    assert model_card.main(["--check"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "models/model_version.json records version 'seven'" in err


def test_a_damaged_training_summary_is_listed_as_damaged(project, capsys):
    finished_run(runs.run_paths("good"), Thresholds(0.1, 0.5), bias=1.0)
    finished_run(runs.run_paths("x"), Thresholds(0.1, 0.5), bias=1.0).training.write_text("{")
    status, out, err = run_cli(capsys, "runs")
    assert status == cli.EXIT_OK and err == ""
    assert "good" in out and "damaged: x: runs/x/training.json is not valid JSON" in out


# export


@pytest.mark.parametrize("kind", ["truncated", "lambda"])
def test_exporting_a_bad_model_says_in_one_line_what_is_wrong(tmp_path, capsys, kind):
    path = tmp_path / f"{kind}.keras"
    if kind == "truncated":
        whole = digit_reader(tmp_path / "whole.keras").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    else:
        keras.Sequential(
            [keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x / 255.0), keras.layers.Flatten()]
        ).save(path)
    out = tmp_path / "exported"
    status, _, err = run_cli(capsys, "export", "--format", "saved_model", "--model", path, "--out", out)
    assert status == cli.EXIT_USAGE and len(err.splitlines()) == 1 and str(path) in err
    assert ("truncated" if kind == "truncated" else "Lambda layer") in err
    assert not out.exists()


# file modes


@pytest.fixture
def umask_002():
    previous = os.umask(0o002)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_get_ordinary_permissions(tmp_path, umask_002):
    assert mode(write_json({"a": 1}, tmp_path / "report.json")) == 0o664

    def write_folder(partial: Path) -> None:
        (partial / "variables").mkdir(parents=True)
        (partial / "variables" / "data").write_bytes(b"weights")

    folder = write_output(tmp_path / "saved_model", False, write_folder, is_folder=True)
    assert mode(folder) == 0o775 and mode(folder / "variables") == 0o775
    assert mode(folder / "variables" / "data") == 0o664


def test_promoted_files_get_ordinary_permissions(project, capsys, umask_002):
    finished_run(runs.run_paths("better"), Thresholds(0.01, 0.3), bias=1.0)
    assert run_cli(capsys, "runs", "promote", "better")[0] == cli.EXIT_OK
    for path in (config.MODEL_PATH, config.MODEL_VERSION_PATH, config.REPORTS_DIR / "training.json"):
        assert mode(path) == 0o664, path


# thresholds file


def test_a_thresholds_file_that_is_not_utf8_or_a_folder_is_named(tmp_path):
    model = tmp_path / "model.keras"
    thresholds = tmp_path / "model.thresholds.json"
    thresholds.write_bytes(b'{"not_a_digit_below": 0.1, "unsure_below": "\xff"}')
    with pytest.raises(ValueError, match=r"model.thresholds.json is not UTF-8"):
        load_thresholds(model)
    thresholds.unlink()
    thresholds.mkdir()
    with pytest.raises(ValueError, match=r"model.thresholds.json is a folder"):
        load_thresholds(model)


# interrupted saves


def killed_python(code: str) -> None:
    """Run ``code`` in a fresh Python, which must die of SIGKILL."""
    environment = os.environ | {"PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "src"), str(PROJECT_ROOT)])}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]


def test_a_save_killed_halfway_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    target = write_json({"kept": True}, tmp_path / "report.json")
    killed_python(
        f"""
        import os, signal
        from digit_recog.artifacts import atomic_path
        with atomic_path({str(target)!r}) as partial:
            partial.write_text('{{"half')
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert json.loads(target.read_text()) == {"kept": True}
    write_json({"kept": False}, target)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.json"]
    with atomic_path(tmp_path / "other.json") as partial:  # a save in progress is no stale one
        write_json({}, tmp_path / "other.json")
        assert partial.exists()


def test_a_checkpoint_save_killed_halfway_leaves_the_previous_checkpoint_whole(tmp_path):
    checkpoint = tmp_path / "checkpoints" / "best_val_loss.keras"
    killed_python(
        f"""
        import os, signal
        from pathlib import Path
        import keras
        from digit_recog.modeling import train

        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
        (saver,) = [
            callback
            for callback in train._callbacks(train.TrainConfig(), Path({str(checkpoint)!r}))
            if "heckpoint" in type(callback).__name__
        ]
        saver.set_model(model)
        saver.on_epoch_end(0, {{"val_loss": 1.0}})

        def killed_while_saving(path, *args, **kwargs):
            Path(path).write_bytes(b"PK half a zip")
            os.kill(os.getpid(), signal.SIGKILL)

        model.save = killed_while_saving
        saver.on_epoch_end(1, {{"val_loss": 0.5}})
        """
    )
    keras.saving.load_model(checkpoint)  # the first epoch's checkpoint, whole
    leftovers = [path for path in checkpoint.parent.iterdir() if path != checkpoint]
    assert leftovers and all(PARTIAL_MARK in path.name for path in leftovers)  # named, for the next save
    with atomic_path(checkpoint) as partial:
        digit_reader(partial)
    assert list(checkpoint.parent.iterdir()) == [checkpoint]


def test_an_interrupted_training_never_offers_a_damaged_checkpoint(tmp_path):
    run = runs.run_paths("quick")
    run = runs.RunPaths(**{**run.__dict__, "checkpoint": tmp_path / "best_val_loss.keras"})
    run.checkpoint.write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(runs.TrainingInterrupted) as caught, runs.interruptible(run):
        raise KeyboardInterrupt
    assert "nothing was kept" in str(caught.value)
