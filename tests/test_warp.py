"""Warping: the affine map matches Keras's, slant leans strokes, and Simard's field has the expected size."""

import keras
import numpy as np
import pytest

from digit_recog import warp
from digit_recog.augment import Augmentation, RandomWarp, affine_matrices, augmentation_layers


def _vectors(count, *values):
    return [np.full(count, value, "float32") for value in values]


def test_affine_coordinates_read_where_keras_affine_transform_does():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(6, 28, 28, 1)).astype("float32")
    angle, zoom = rng.uniform(-0.5, 0.5, 6).astype("float32"), rng.uniform(0.8, 1.2, 6).astype("float32")
    shift_x, shift_y = rng.uniform(-3, 3, (2, 6)).astype("float32")
    stock = keras.ops.image.affine_transform(images, affine_matrices(angle, zoom, shift_x, shift_y, (28, 28)))
    [no_shear] = _vectors(6, 0.0)
    x, y = warp.affine_coordinates(angle, zoom, no_shear, shift_x, shift_y, (28, 28))
    np.testing.assert_allclose(np.asarray(warp.bilinear_sample(images, x, y)), np.asarray(stock), atol=1e-4)


def test_bilinear_sample_reads_pixels_exactly_and_black_outside():
    images = np.random.default_rng(1).uniform(size=(2, 5, 7, 3)).astype("float32")
    y, x = np.meshgrid(np.arange(5, dtype="float32"), np.arange(7, dtype="float32"), indexing="ij")
    same = warp.bilinear_sample(images, np.stack([x, x]), np.stack([y, y]))
    np.testing.assert_allclose(np.asarray(same), images, atol=1e-6)
    far = warp.bilinear_sample(images, np.stack([x + 50, x - 9]), np.stack([y, y - 100]))
    assert not np.asarray(far).any()
    halfway = warp.bilinear_sample(images, np.stack([x[:, :-1] + 0.5] * 2), np.stack([y[:, :-1]] * 2))
    np.testing.assert_allclose(np.asarray(halfway), (images[:, :, :-1] + images[:, :, 1:]) / 2, atol=1e-6)


def test_shear_leans_a_vertical_stroke_by_its_amount_per_pixel_of_height():
    bar = np.zeros((1, 28, 28, 1), "float32")
    bar[0, 4:24, 13:15] = 1.0
    x, y = warp.affine_coordinates(*_vectors(1, 0.0, 1.0, 0.3, 0.0, 0.0), (28, 28))
    slanted = np.asarray(warp.bilinear_sample(bar, x, y))[0, ..., 0]
    centres = (slanted * np.arange(28)).sum(axis=1) / np.maximum(slanted.sum(axis=1), 1e-9)
    lean = (centres[22] - centres[5]) / (22 - 5)
    assert lean == pytest.approx(-0.3, abs=0.02)  # reading from x + 0.3 y moves ink the other way


def test_elastic_displacement_is_smooth_and_as_large_as_simards_formula():
    noise = np.random.default_rng(2).uniform(-1, 1, (512, 28, 28, 2)).astype("float32")
    dx, dy = (np.asarray(d) for d in warp.elastic_displacement(noise, sigma=4.0, alpha=34.0))
    # Uniform noise (variance 1/3) through a 2-D Gaussian of sigma 4: std sqrt(1/3) / (2 sqrt(pi) sigma).
    expected = 34.0 * np.sqrt(1 / 3) / (2 * np.sqrt(np.pi) * 4.0)
    assert dx[:, 10:18, 10:18].std() == pytest.approx(expected, rel=0.1)
    assert dy[:, 10:18, 10:18].std() == pytest.approx(expected, rel=0.1)
    neighbours = np.corrcoef(dx[:, 14, 13], dx[:, 14, 14])[0, 1]
    assert neighbours > 0.9


def test_gaussian_matrix_rows_sum_to_one_away_from_the_border():
    matrix = np.asarray(warp.gaussian_matrix(28, 4.0))
    np.testing.assert_allclose(matrix[13].sum(), 1.0, atol=0.02)
    assert matrix[0].sum() < 0.6  # zeros beyond the border take their share


def test_random_warp_changes_images_only_in_training_and_round_trips():
    images = np.zeros((32, 28, 28, 1), "float32")
    images[:, 6:22, 12:16] = 1.0
    layer = RandomWarp(0.03, 0.1, 0.1, shear=0.3, elastic_alpha=34.0, elastic_sigma=4.0, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    warped = np.asarray(layer(images, training=True))
    assert warped.shape == images.shape and warped.min() >= 0 and warped.max() <= 1 + 1e-6
    assert len({round(float(w.sum()), 2) for w in warped}) > 16  # each image its own warp
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(again, RandomWarp)
    assert (again.shear, again.elastic_alpha, again.elastic_sigma, again.rotation) == (0.3, 34.0, 4.0, 0.03)


@pytest.mark.parametrize(
    ("chained", "names"),
    [
        (False, ["random_warp"]),
        (True, ["random_rotation", "random_zoom", "random_translation", "random_warp"]),
    ],
)
def test_slant_or_elastic_distortion_adds_one_warp_layer(chained, names):
    augmentation = Augmentation(0.03, 0.1, 0.1, shear=0.3, elastic_alpha=34.0, chained_geometry=chained)
    chosen = augmentation_layers(augmentation)
    assert [layer.name for layer in chosen] == names
    warp_layer = chosen[-1]
    assert warp_layer.rotation == (0.0 if chained else 0.03) and warp_layer.shear == 0.3
    assert [layer.name for layer in augmentation_layers(Augmentation(elastic_alpha=10.0))] == ["random_warp"]


def test_random_warp_draws_each_images_elastic_strength_between_none_and_alpha():
    images = np.zeros((64, 28, 28, 1), "float32")
    images[:, 6:22, 12:16] = 1.0
    keras.utils.set_random_seed(4)
    layer = RandomWarp(0.0, 0.0, 0.0, elastic_alpha=34.0, elastic_sigma=6.0)
    warped = np.asarray(layer(images, training=True))
    change = np.abs(warped - images).mean(axis=(1, 2, 3))
    assert change.min() < 0.2 * change.max()  # weak and strong distortions in one batch


@pytest.mark.parametrize("bad", [{"shear": -0.1}, {"elastic_alpha": -1.0}, {"elastic_sigma": 0.0}])
def test_augmentation_refuses_a_negative_slant_or_strength_and_a_flat_elastic_field(bad):
    with pytest.raises(ValueError, match=f"{next(iter(bad))}={next(iter(bad.values()))}"):
        Augmentation(**bad)
