"""Perturbations for the robustness study: shapes kept, neutral strengths harmless, effects as named."""

import json

import numpy as np
import pytest
from scipy import ndimage

from digit_images import untrained_model_file
from digit_recog import robustness


@pytest.fixture(scope="module")
def digits(mnist) -> tuple[np.ndarray, np.ndarray]:
    _, (test_images, test_labels) = mnist
    return test_images[:40], test_labels[:40]


@pytest.mark.parametrize("kind", sorted(robustness.PERTURBATIONS))
def test_every_perturbation_keeps_the_batch_shape_and_dtype(digits, kind):
    images, _ = digits
    for strength in robustness.PERTURBATIONS[kind].strengths:
        perturbed = robustness.perturb(images, kind, strength)
        assert perturbed.shape == images.shape and perturbed.dtype == np.uint8


@pytest.mark.parametrize("kind", sorted(robustness.PERTURBATIONS))
def test_neutral_strength_leaves_images_unchanged(digits, kind):
    images, _ = digits
    neutral = robustness.PERTURBATIONS[kind].neutral
    assert np.abs(robustness.perturb(images, kind, neutral).astype(int) - images).max() <= 1


def test_shift_moves_the_centre_of_mass(digits):
    images, _ = digits
    before = ndimage.center_of_mass(images[0].astype(float))
    after = ndimage.center_of_mass(robustness.shift_xy(images[:1], dx=3, dy=-2)[0].astype(float))
    assert np.subtract(after, before) == pytest.approx((-2, 3), abs=0.3)  # (rows, columns)


def test_thickness_and_blur_move_ink_the_expected_way(digits):
    images, _ = digits
    thicker, thinner = robustness.thickness(images, 1), robustness.thickness(images, -1)
    assert (thicker > 127).sum() > (images > 127).sum() > (thinner > 127).sum()
    assert robustness.blur(images, 2).max() < images.max()


def test_invert_gives_the_negative(digits):
    images, _ = digits
    np.testing.assert_array_equal(robustness.invert(images, 1), 255 - images)


def test_unknown_perturbation_is_rejected(digits):
    images, _ = digits
    with pytest.raises(ValueError, match="unknown perturbation 'smudge'"):
        robustness.perturb(images, "smudge", 1)


def test_robustness_table_has_a_row_per_strength_and_preprocessing(digits, tmp_path):
    import keras

    images, labels = digits
    model = keras.saving.load_model(untrained_model_file(tmp_path))
    table = robustness.robustness_report(model, images, labels, {"shift": [0, 4], "invert": [0, 1]})
    assert len(table) == 8
    assert set(table["preprocessing"]) == {"none", "preprocess"}
    assert table["accuracy"].between(0, 1).all() and (table["samples"] == len(labels)).all()
    by_strength = table.set_index(["perturbation", "strength", "preprocessing"])["accuracy"]
    # Preprocessing undoes an inversion exactly, whatever the model.
    assert by_strength["invert", 1.0, "preprocess"] == by_strength["invert", 0.0, "preprocess"]


def test_other_writers_digits_are_mnist_style():
    images, labels = robustness.other_writers_digits()
    assert images.shape == (1797, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    centres = np.array([ndimage.center_of_mass(image) for image in images[:200]])
    np.testing.assert_allclose(centres.mean(axis=0), [13.5, 13.5], atol=0.5)  # centred by mass, as MNIST


def test_other_writers_accuracies_are_saved_for_the_markdown_table(tmp_path):
    path = robustness.save_other_writers(
        {"scikit-learn digits": {"shipped": 0.9594, "original_recipe": 0.8926}},
        {"scikit-learn digits": 1797},
        tmp_path / "o.json",
    )
    assert json.loads(path.read_text()) == {
        "sets": {
            "scikit-learn digits": {
                "images": 1797,
                "accuracy": {"original_recipe": 0.8926, "shipped": 0.9594},
            }
        }
    }


def test_the_test_writers_sets_come_in_order_and_shrink_to_a_limit():
    sets = robustness.other_writers_test_sets(limit=40)
    assert list(sets) == list(robustness.OTHER_WRITERS_TEST_SETS)
    assert all(len(images) == len(labels) <= 40 for images, labels in sets.values())


def test_scoring_several_models_on_sets_of_any_size_traces_each_model_once(digits, tmp_path):
    """08 scores the run, the original recipe and the uncalibrated model on sets of many sizes, uint8 and
    float32: ``model.predict`` retraced for each new shape, dtype and model until TensorFlow warned."""
    import logging

    import keras

    from digit_recog.reading import predict

    images, labels = digits
    warnings = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        path = untrained_model_file(tmp_path)
        models = [keras.saving.load_model(path) for _ in range(3)]
        for model in models:
            robustness.robustness_report(model, images[:37], labels[:37], {"invert": [0, 1]})
            for size in (1, 5, 300, 700):
                batch = np.resize(images, (size, 28, 28))
                assert predict.predict_probabilities(model, batch).shape == (size, 10)
                assert predict.predict_probabilities(model, batch.astype(np.float32)).shape == (size, 10)
    finally:
        logger.removeHandler(handler)
    assert [predict._forward_pass(model).experimental_get_tracing_count() for model in models] == [1, 1, 1]
    assert not [message for message in warnings if "retracing" in message]
