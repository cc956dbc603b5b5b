"""The model gate (``reading.predict.load_trained_model``): a model that cannot read digits is refused with
a message that says what was found, by the library, by ``digit-recog predict`` and by ``digit-recog serve``
before it says it is serving."""

import json
import zipfile
from pathlib import Path

import keras
import pytest

from digit_images import draw_digit, untrained_model_file
from digit_recog import cli
from digit_recog.reading.predict import IncompatibleModelError, ModelFileError, load_trained_model


def small_model(input_shape: tuple[int, ...], classes: int) -> keras.Model:
    return keras.Sequential(
        [keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(classes, activation="softmax")]
    )


def hand_edited(source: Path, target: Path) -> Path:
    """``source`` with one layer's class renamed in its config, as a careless hand edit would leave it."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as edited:
        for item in original.infolist():
            content = original.read(item.filename)
            if item.filename == "config.json":
                model_config = json.loads(content)
                model_config["config"]["layers"][-1]["class_name"] = "Densse"
                content = json.dumps(model_config).encode()
            edited.writestr(item, content)
    return target


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    paths = {name: folder / f"{name}.keras" for name in ("colour32", "three_classes", "corrupt")}
    small_model((32, 32, 3), 10).save(paths["colour32"])
    small_model((28, 28, 1), 3).save(paths["three_classes"])
    paths["corrupt"].write_bytes(b"\x00garbage, not a zip" * 50)
    paths["edited"] = hand_edited(untrained_model_file(folder), folder / "edited.keras")
    paths["folder"] = folder / "folder.keras"
    paths["folder"].mkdir()
    paths["missing"] = folder / "missing.keras"
    return paths


EXPECTED = {
    "colour32": (IncompatibleModelError, r"takes inputs of shape \(32, 32, 3\); expected \(28, 28, 1\)"),
    "three_classes": (IncompatibleModelError, r"outputs shape \(3,\); expected \(10,\)"),
    "corrupt": (ModelFileError, r"it is not a \.keras file \(expected a zip archive"),
    "edited": (ModelFileError, r"could not be loaded as a Keras model \(.*Densse"),
    "folder": (ModelFileError, r"folder\.keras is a folder"),
    "missing": (FileNotFoundError, r"missing\.keras does not exist"),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_library_says_what_is_wrong_with_the_model(models, name):
    error_type, message = EXPECTED[name]
    with pytest.raises(error_type, match=message) as raised:
        load_trained_model(models[name])
    text = str(raised.value)
    assert len(text) < 600, "the message quotes no whole config"
    assert "rerun" not in text.lower(), "a user's own model is not told to rerun a notebook"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_predict_refuses_the_model_with_status_2(capsys, tmp_path, models, name):
    draw_digit("7").save(tmp_path / "seven.png")
    status = cli.main(["predict", str(tmp_path / "seven.png"), "--model", str(models[name])])
    captured = capsys.readouterr()
    assert status == 2 and not captured.out
    assert str(models[name]) in captured.err


@pytest.mark.parametrize("name", ["colour32", "three_classes", "corrupt"])
def test_serve_checks_the_model_before_saying_it_serves(capsys, models, name, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("the server was started"))
    status = cli.main(["serve", "--model", str(models[name]), "--port", "0"])
    captured = capsys.readouterr()
    assert status == 2
    assert "serving on" not in captured.out
    assert str(models[name]) in captured.err
