"""Architectures: raw pixels in, ten probabilities out, sizes as published, saveable with plain Keras."""

import keras
import numpy as np
import pytest

from digit_recog import plots
from digit_recog.experiments import architecture_comparison
from digit_recog.modeling import architectures
from digit_recog.modeling.train import TrainConfig


@pytest.fixture(scope="module")
def raw_images(mnist):
    (images, _), _ = mnist
    return images[:8, :, :, np.newaxis]  # uint8 0-255, exactly what a user has


@pytest.mark.parametrize("name", sorted(architectures.ARCHITECTURES))
def test_builder_maps_raw_pixels_to_probabilities(name, raw_images):
    keras.utils.set_random_seed(0)
    probabilities = architectures.ARCHITECTURES[name]().predict(raw_images, verbose=0)
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()


@pytest.mark.parametrize(
    ("name", "params"), [("keras_io_convnet", 34_826), ("original_cnn", 232_650), ("mlp", 235_146)]
)
def test_published_parameter_counts(name, params):
    assert architectures.ARCHITECTURES[name]().count_params() == params


@pytest.mark.parametrize("name", sorted(architectures.ARCHITECTURES))
def test_save_and_load_round_trip_with_plain_keras(name, raw_images, tmp_path):
    keras.utils.set_random_seed(0)
    model = architectures.ARCHITECTURES[name]()
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(raw_images, verbose=0), model.predict(raw_images, verbose=0), atol=1e-6
    )


def test_unknown_architecture_is_named(mnist):
    (images, labels), _ = mnist
    with pytest.raises(KeyError, match="unknown architectures \\['lenet'\\]"):
        architecture_comparison.compare_architectures(
            ["lenet"], images, labels, images, labels, TrainConfig(epochs=1)
        )


@pytest.mark.slow
def test_compare_trains_each_under_the_same_budget_and_tests_last(mnist):
    (images, labels), (test_images, test_labels) = mnist
    recipe = TrainConfig(epochs=1, batch_size=128, lr_schedule="constant", seed=1)
    results, models = architecture_comparison.compare_architectures(
        ["mlp", "keras_io_convnet"],
        images[:1000],
        labels[:1000],
        images[-500:],
        labels[-500:],
        recipe,
        verbose=0,
    )
    assert list(results["architecture"]) == ["mlp", "keras_io_convnet"] and set(models) == set(
        results["architecture"]
    )
    assert (results["epochs"] == 1).all() and (results["val_accuracy"] > 0.5).all()
    assert "test_accuracy" not in results
    reported = architecture_comparison.add_test_accuracy(
        results, models, test_images[:500], test_labels[:500]
    )
    assert reported["test_accuracy"].between(0.5, 1.0).all()
    assert plots.architecture_comparison(reported).axes
