"""Exported models (ONNX, LiteRT, SavedModel) answer like the .keras model, and every bad input says why.

The parity test exports the shipped model in every format and reads all 10,000 MNIST test images with
each: the same digit every time, probabilities within 1e-4.
"""

import importlib.util
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from digit_images import SHIPPED_MODEL, draw_digit, needs_shipped_model
from digit_recog import cli, config
from digit_recog.artifacts import MissingArtifactError
from digit_recog.modeling.export import (
    EXPORT_FORMATS,
    ExportError,
    MissingPackageError,
    OutputExistsError,
    UnknownFormatError,
    export_model,
    export_model_file,
    thresholds_path,
)
from digit_recog.reading import runtimes
from digit_recog.reading.predict import load_reader, load_trained_model, predict_probabilities, read_digit
from digit_recog.reading.runtimes import ExportedModelError, load_exported_model

TOLERANCE = 1e-4
OUT_NAMES = {"onnx": "model.onnx", "litert": "model.tflite", "saved_model": "saved_model"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """The shipped model exported in every format, into a temporary folder."""
    if not SHIPPED_MODEL.is_file():
        pytest.skip(f"{SHIPPED_MODEL} is missing: run notebooks/03_train.ipynb first")
    folder = tmp_path_factory.mktemp("exported")
    return {name: export_model_file(SHIPPED_MODEL, name, folder / OUT_NAMES[name]) for name in EXPORT_FORMATS}


@pytest.fixture(scope="module")
def test_images_and_keras_probabilities(mnist):
    _, (test_images, _) = mnist
    model = load_trained_model(SHIPPED_MODEL)
    return test_images, predict_probabilities(model, test_images)


def _saved_model_probabilities(folder: Path, images: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(folder))  # kept in a name: serve() needs its variables alive
    batch = images[..., None].astype(np.float32)
    return np.concatenate([loaded.serve(batch[i : i + 1000]).numpy() for i in range(0, len(batch), 1000)])


@pytest.mark.slow
@needs_shipped_model
@pytest.mark.parametrize("format_name", EXPORT_FORMATS)
def test_every_format_reads_all_test_images_like_keras(
    format_name, exported, test_images_and_keras_probabilities
):
    images, expected = test_images_and_keras_probabilities
    if format_name == "saved_model":
        found = _saved_model_probabilities(exported[format_name], images)
    else:
        found = predict_probabilities(load_exported_model(exported[format_name]), images)
    assert found.shape == expected.shape == (10_000, 10)
    assert np.array_equal(found.argmax(axis=1), expected.argmax(axis=1))
    assert np.abs(found - expected).max() < TOLERANCE


@needs_shipped_model
@pytest.mark.parametrize("digit", ["0", "1", "4", "7"])
def test_serving_runtimes_read_drawings_like_keras(digit, exported):
    keras_reading = read_digit(load_trained_model(SHIPPED_MODEL), draw_digit(digit))
    for path in (exported["onnx"], exported["litert"]):
        reading = read_digit(load_reader(path), draw_digit(digit))
        assert reading.digit == keras_reading.digit == int(digit)
        assert np.abs(reading.probabilities - keras_reading.probabilities).max() < TOLERANCE


@pytest.fixture
def exported_dir(tmp_path, monkeypatch) -> Path:
    """``config.EXPORTED_MODELS_DIR`` moved to a temporary folder, where ``auto`` looks for the ONNX file."""
    folder = tmp_path / "exported"
    monkeypatch.setattr(config, "EXPORTED_MODELS_DIR", folder)
    return folder


@needs_shipped_model
def test_auto_reads_with_onnx_only_when_exported_from_this_very_model(exported, exported_dir, tmp_path):
    assert not isinstance(load_reader(SHIPPED_MODEL), runtimes.ExportedModel)  # nothing exported: Keras
    exported_dir.mkdir()
    shutil.copy(exported["onnx"], exported_dir / (SHIPPED_MODEL.stem + ".onnx"))
    reader = load_reader(SHIPPED_MODEL)
    assert reader.runtime == "onnxruntime"
    assert not isinstance(load_reader(SHIPPED_MODEL, runtime="keras"), runtimes.ExportedModel)

    retrained = tmp_path / SHIPPED_MODEL.name  # another model under the same name: the export is stale
    shutil.copy(config.ORIGINAL_RECIPE_MODEL_PATH, retrained)
    assert not isinstance(load_reader(retrained), runtimes.ExportedModel)
    with pytest.raises(ExportedModelError, match="was not exported from .*--force"):
        load_reader(retrained, runtime="onnx")


def test_missing_runtime_names_the_package_to_install(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"anything")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    with pytest.raises(MissingPackageError, match=r"pip install onnxruntime==1\.31\.1"):
        load_exported_model(path)


def test_missing_export_package_names_it(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real_find_spec(name, *a)
    )
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(MissingPackageError, match=r"pip install tf2onnx==1\.17\.0"):
        export_model(model, "onnx", tmp_path / "model.onnx")


def test_missing_exported_file_says_to_export(tmp_path):
    with pytest.raises(MissingArtifactError, match="does not exist yet: run `digit-recog export`"):
        load_exported_model(tmp_path / "none.onnx")


@pytest.mark.parametrize("name", ["model.onnx", "model.tflite"])
def test_corrupt_exported_file_is_named(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x08\x07 this is not a model at all" * 20)
    with pytest.raises(ExportedModelError, match=f"{name} could not be loaded .*--force"):
        load_exported_model(path)


def test_unknown_format_is_refused(tmp_path, capsys):
    with pytest.raises(
        UnknownFormatError, match="unknown export format 'tfjs': expected one of onnx, litert"
    ):
        export_model_file(SHIPPED_MODEL, "tfjs", tmp_path / "model")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", "--format", "tfjs"])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "invalid choice: 'tfjs'" in capsys.readouterr().err


def _onnx_identity_model(path: Path, shape: list) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["pixels"], ["probabilities"])],
        "wrong_shape",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return path


def test_exported_model_with_the_wrong_input_shape_is_refused(tmp_path):
    path = _onnx_identity_model(tmp_path / "wrong.onnx", ["N", 32, 32, 3])
    with pytest.raises(
        ExportedModelError, match=r"wrong.onnx takes inputs of shape \('N', 32, 32, 3\); expected"
    ):
        load_exported_model(path)


def test_model_with_the_wrong_input_shape_is_not_exported(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(
        ExportError, match=r"takes inputs of shape \(None, 32, 32, 3\); expected \(N, 28, 28, 1\)"
    ):
        export_model(model, "litert", tmp_path / "model.tflite")
    assert not (tmp_path / "model.tflite").exists()


@needs_shipped_model
@pytest.mark.parametrize("format_name", ["litert", "saved_model"])
def test_existing_output_is_kept_without_force_and_replaced_with_it(format_name, tmp_path, capsys):
    out = tmp_path / OUT_NAMES[format_name]
    if format_name == "saved_model":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    else:
        out.write_bytes(b"mine")
    with pytest.raises(OutputExistsError, match="exists .*pass --force to replace it"):
        export_model_file(SHIPPED_MODEL, format_name, out)
    status = cli.main(["export", "--format", format_name, "--out", str(out), "--model", str(SHIPPED_MODEL)])
    assert status == cli.EXIT_USAGE and "--force" in capsys.readouterr().err
    assert (out / "keep.txt").exists() if format_name == "saved_model" else out.read_bytes() == b"mine"

    cli.main(["export", "--format", format_name, "--out", str(out), "--force", "--model", str(SHIPPED_MODEL)])
    assert f"wrote {out}" in capsys.readouterr().out
    if format_name == "saved_model":
        assert (out / "saved_model.pb").is_file() and not (out / "keep.txt").exists()
    else:
        assert load_exported_model(out).predict(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)
    # no temporary files left behind: the export and the verdict thresholds that travel with it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, thresholds_path(out).name])


@needs_shipped_model
def test_litert_model_answers_threads_reading_at_once(exported, mnist):
    """The app reads from several threads; LiteRT's interpreter must not mix their inputs."""
    from concurrent.futures import ThreadPoolExecutor

    _, (test_images, _) = mnist
    reader = load_exported_model(exported["litert"])
    batches = [test_images[i : i + n][..., None].astype(np.float32) for i, n in enumerate([1, 7, 1, 32] * 8)]
    expected = [reader.predict(batch) for batch in batches]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(reader.predict, batches))
    assert all(np.array_equal(a, b) for a, b in zip(expected, found))


def test_cli_export_all_refuses_a_single_out(capsys, tmp_path):
    status = cli.main(
        ["export", "--format", "all", "--out", str(tmp_path / "x"), "--model", str(SHIPPED_MODEL)]
    )
    assert status == cli.EXIT_USAGE
    assert "--out names one file or folder" in capsys.readouterr().err


def test_cli_export_without_a_model_names_the_notebook(capsys, tmp_path):
    status = cli.main(["export", "--format", "onnx", "--model", str(tmp_path / "none.keras")])
    assert status == cli.EXIT_USAGE
    assert "none.keras does not exist yet: run notebooks/03_train.ipynb" in capsys.readouterr().err
