"""Model: architecture as specified, self-contained on raw pixels, and clear errors on bad input."""

import keras
import numpy as np
import pytest

from digit_recog import config
from digit_recog.artifacts import MissingArtifactError
from digit_recog.modeling.cnn import ConvBlock, ModelConfig, build_cnn, inference_model
from digit_recog.modeling.export import save_model
from digit_recog.modeling.presets import PRESETS, get_preset
from digit_recog.reading.predict import (
    ModelFileError,
    accuracy,
    layer_outputs,
    load_trained_model,
    predict_probabilities,
    to_model_input,
)


@pytest.fixture(scope="module")
def default_model():
    return build_cnn(PRESETS["default"].model, seed=0)


def test_seed_preset_is_the_original_network():
    model = build_cnn(PRESETS["seed"].model)
    assert model.count_params() == 232_650
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 2 and kinds.count("Dense") == 3 and kinds.count("Dropout") == 2


def test_a_seed_gives_the_same_initial_weights():
    config = PRESETS["fast"].model
    first, again, other = (build_cnn(config, seed=seed).get_weights() for seed in (3, 3, 4))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, other, strict=True))


def test_stride_applies_to_the_first_convolution_of_a_block():
    model = build_cnn(ModelConfig(conv_blocks=(ConvBlock(8, kernel_size=4, strides=2, convs=2, pool=False),)))
    first, second = (layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert first.strides == (2, 2) and second.strides == (1, 1)
    assert model.get_layer("conv1_1").output.shape[1:] == (13, 13, 8)  # (28 - 4) / 2 + 1
    assert model.get_layer("conv1_2").output.shape[1:] == (10, 10, 8)  # 13 - 4 + 1


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_maps_raw_pixels_to_probabilities(name, mnist):
    (images, _), _ = mnist
    probabilities = predict_probabilities(build_cnn(PRESETS[name].model, seed=0), images[:8])
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()


def test_save_and_load_round_trip_with_plain_keras(default_model, mnist, tmp_path):
    (images, _), _ = mnist
    raw = images[:16, :, :, np.newaxis]  # uint8 0-255, exactly what a user has
    path = save_model(default_model, tmp_path / "model.keras")
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(raw, verbose=0), default_model.predict(raw, verbose=0), atol=1e-6
    )
    # Only Keras's own layers, no augmentation: nothing of this package is needed to load it.
    assert all(type(layer).__module__.startswith("keras.") for layer in reloaded.layers)
    assert not any(layer.name.startswith("random_") for layer in reloaded.layers)


def test_inference_model_drops_augmentation_and_shares_weights(default_model):
    network = inference_model(default_model)
    kept = [layer.name for layer in default_model.layers if not layer.name.startswith("random_")]
    assert len(kept) < len(default_model.layers)
    assert [layer.name for layer in network.layers] == kept
    assert network.count_params() == default_model.count_params()
    assert network.get_layer("conv1_1") is default_model.get_layer("conv1_1")


def test_augmentation_is_inactive_at_inference(default_model, mnist):
    (images, _), _ = mnist
    batch = to_model_input(images[:4])
    np.testing.assert_array_equal(default_model(batch, training=False), default_model(batch, training=False))


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((28, 28), (1, 28, 28, 1)), ((5, 28, 28), (5, 28, 28, 1)), ((5, 28, 28, 1), (5, 28, 28, 1))],
)
def test_accepted_input_shapes(shape, expected):
    assert to_model_input(np.zeros(shape, dtype=np.uint8)).shape == expected


@pytest.mark.parametrize("shape", [(32, 32), (5, 28, 28, 3), (784,), (5, 1, 28, 28)])
def test_wrong_shapes_are_named(shape):
    with pytest.raises(ValueError, match=rf"got \({shape[0]},"):
        to_model_input(np.zeros(shape))


def test_prescaled_pixels_are_rejected():
    with pytest.raises(ValueError, match="scaled to \\[0, 1\\]"):
        to_model_input(np.full((28, 28), 0.5, dtype=np.float32))


def test_layer_outputs_shapes(default_model, mnist):
    (images, _), _ = mnist
    conv, pooled = layer_outputs(default_model, images[:2], ["relu1_1", "pool1"])
    assert conv.shape == (2, 26, 26, 32) and pooled.shape == (2, 13, 13, 32)


def test_dense_and_dropout_lengths_must_agree():
    with pytest.raises(ValueError, match="one dropout rate per dense layer"):
        ModelConfig(conv_blocks=(ConvBlock(8),), dense_units=(64, 32), dropout_rates=(0.1,))


def test_missing_model_says_which_notebook_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "MODEL_PATH", tmp_path / "absent.keras")
    with pytest.raises(MissingArtifactError, match="run notebooks/03_train.ipynb first"):
        load_trained_model(tmp_path / "absent.keras")


def test_a_missing_model_of_ones_own_is_not_told_to_rerun_a_notebook(tmp_path):
    with pytest.raises(MissingArtifactError, match="absent.keras does not exist") as raised:
        load_trained_model(tmp_path / "absent.keras")
    assert "rerun" not in str(raised.value) and "run notebooks" not in str(raised.value)


def test_damaged_model_file_is_named(tmp_path):
    path = tmp_path / "damaged.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelFileError, match="damaged.keras could not be loaded"):
        load_trained_model(path)


def test_preset_overrides_and_unknown_names():
    recipe = get_preset("seed", epochs=3, batch_size=None)
    assert recipe.train.epochs == 3 and recipe.train.batch_size == PRESETS["seed"].train.batch_size
    with pytest.raises(KeyError, match="choose one of"):
        get_preset("resnet-9000")
    with pytest.raises(KeyError, match="unknown training settings"):
        get_preset("seed", epoch=3)


def test_accuracy_counts_the_most_probable_digit(default_model, mnist):
    (images, labels), _ = mnist
    predicted = predict_probabilities(default_model, images[:64]).argmax(axis=1)
    expected = np.mean(predicted == labels[:64])
    assert accuracy(default_model, images[:64], labels[:64]) == pytest.approx(expected)
    assert accuracy(default_model, images[:64], predicted) == 1.0
