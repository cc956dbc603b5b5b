"""Augmentation: each transform acts in training only, and stroke width moves ink the right way."""

from dataclasses import replace

import keras
import numpy as np
import pytest

from digit_recog.augment import (
    Augmentation,
    RandomAffine,
    RandomGaussianBlurByMatmul,
    RandomStrokeWidth,
    affine_matrices,
    augmentation_layers,
    is_augmentation,
    max_filter_3x3,
    preview,
)


@pytest.fixture
def strokes():
    """Two images with a 3-pixel-wide vertical bar, values in [0, 1] as after the model's rescaling."""
    images = np.zeros((2, 28, 28, 1), dtype=np.float32)
    images[:, 4:24, 12:15] = 1.0
    return images


def test_stroke_width_is_identity_at_inference(strokes):
    layer = RandomStrokeWidth(1.0, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(strokes, training=False)), strokes)


def test_stroke_width_thickens_or_thins_within_one_pixel(strokes):
    changed = np.asarray(RandomStrokeWidth(1.0, seed=1)(np.repeat(strokes, 32, axis=0), training=True))
    ink = changed.sum(axis=(1, 2, 3))
    original = strokes[0].sum()
    assert (ink > original).any() and (ink < original).any()
    assert changed.min() >= 0 and changed.max() <= 1
    assert (changed[:, :, :10] == 0).all() and (changed[:, :, 17:] == 0).all()  # at most a pixel further


def test_stroke_width_layer_round_trips_through_its_config():
    layer = RandomStrokeWidth(0.5, seed=3, name="random_stroke_width")
    again = RandomStrokeWidth.from_config(layer.get_config())
    assert (again.factor, again.seed, again.name) == (0.5, 3, "random_stroke_width")


@pytest.mark.parametrize(
    ("chained", "geometry"),
    [(False, ["random_affine"]), (True, ["random_rotation", "random_zoom", "random_translation"])],
)
def test_every_transform_has_a_layer_named_random(chained, geometry):
    chosen = augmentation_layers(
        Augmentation(
            rotation=0.1, zoom=0.1, translation=0.1, stroke_width=0.5, blur=1, chained_geometry=chained
        )
    )
    assert [layer.name for layer in chosen] == ["random_stroke_width", "random_blur", *geometry]
    assert augmentation_layers(Augmentation()) == []
    assert augmentation_layers(Augmentation(chained_geometry=True)) == []


@pytest.mark.parametrize("index", range(4))
def test_builtin_transforms_change_images_only_in_training(index, strokes):
    keras.utils.set_random_seed(0)  # before the layer exists, so its random draws are the same every run
    layers = augmentation_layers(Augmentation(rotation=0.1, zoom=0.1, blur=1.0, chained_geometry=True))
    layer = [*layers, RandomAffine(0.1, 0.1, 0.1)][index]
    np.testing.assert_allclose(np.asarray(layer(strokes, training=False)), strokes, atol=1e-6)
    # Blur reaches each image with probability 1/2: 64 images make "none changed" vanishingly unlikely.
    assert not np.allclose(np.asarray(layer(np.repeat(strokes, 32, axis=0), training=True)), strokes[0])


def test_preview_shows_each_copy_differently(strokes):
    raw = (strokes[..., 0] * 255).astype(np.uint8)
    copies = preview(raw, Augmentation(rotation=0.05, stroke_width=1.0), copies=3)
    assert copies.shape == (3, 2, 28, 28) and copies.max() <= 1.0
    assert not np.allclose(copies[0], copies[1])


def test_every_augmentation_layer_is_recognised_by_type():
    augmentation = Augmentation(rotation=0.1, zoom=0.1, translation=0.1, stroke_width=0.5, blur=1)
    chosen = augmentation_layers(augmentation) + augmentation_layers(
        replace(augmentation, chained_geometry=True)
    )
    assert len(chosen) == 8 and all(is_augmentation(layer) for layer in chosen)
    assert not is_augmentation(keras.layers.Rescaling(1 / 255, name="random_but_not_augmentation"))


def test_max_filter_equals_keras_max_pooling_including_the_borders():
    images = np.random.default_rng(0).normal(size=(4, 28, 28, 1)).astype(np.float32)
    stock = keras.ops.max_pool(images, 3, strides=1, padding="same")
    np.testing.assert_array_equal(np.asarray(max_filter_3x3(images)), np.asarray(stock))
    np.testing.assert_array_equal(
        np.asarray(-max_filter_3x3(-images)), -np.asarray(keras.ops.max_pool(-images, 3, 1, "same"))
    )


@pytest.mark.parametrize("sigma", [0.2, 1.0])
def test_blur_by_matmul_matches_keras_blur_draw_for_draw(sigma):
    images = np.random.default_rng(1).uniform(size=(64, 28, 28, 1)).astype(np.float32)
    settings = {"factor": 1.0, "kernel_size": 5, "sigma": sigma, "value_range": (0, 1)}
    keras.utils.set_random_seed(7)
    stock = keras.layers.RandomGaussianBlur(**settings)
    keras.utils.set_random_seed(7)
    ours = RandomGaussianBlurByMatmul(**settings)
    for _ in range(3):  # several batches: the random draws stay in step
        expected = np.asarray(stock(images, training=True))
        np.testing.assert_allclose(np.asarray(ours(images, training=True)), expected, atol=1e-6)
    assert not np.allclose(expected, images)  # the comparison saw some blurred images
    np.testing.assert_array_equal(np.asarray(ours(images, training=False)), images)


def test_blur_by_matmul_round_trips_through_keras_serialisation():
    layer = RandomGaussianBlurByMatmul(
        factor=1.0, kernel_size=5, sigma=0.8, value_range=(0, 1), name="random_blur"
    )
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert (
        isinstance(again, RandomGaussianBlurByMatmul)
        and again.kernel_size == (5, 5)
        and again.name == "random_blur"
    )


def test_blur_by_matmul_takes_a_single_image_and_only_channels_last():
    image = np.random.default_rng(2).uniform(size=(28, 28, 1)).astype(np.float32)
    settings = {"factor": (1.0, 1.0), "kernel_size": 5, "sigma": 1.0, "value_range": (0, 1)}  # always blurs
    blurred = np.asarray(RandomGaussianBlurByMatmul(**settings, seed=0)(image, training=True))
    assert blurred.shape == image.shape and blurred.std() < image.std()
    with pytest.raises(ValueError, match="channels-last"):
        RandomGaussianBlurByMatmul(**settings, data_format="channels_first")


def _affine(images, angle=0.0, zoom=1.0, shift_x=0.0, shift_y=0.0):
    transform = affine_matrices(
        *(np.full(len(images), v, "float32") for v in (angle, zoom, shift_x, shift_y)), (28, 28)
    )
    return np.asarray(keras.ops.image.affine_transform(images, transform))


@pytest.mark.parametrize(
    ("stock", "ours"),
    [
        (keras.layers.RandomRotation((0.05, 0.05), fill_mode="constant"), {"angle": 0.05 * 2 * np.pi}),
        (keras.layers.RandomZoom((0.2, 0.2), fill_mode="constant"), {"zoom": 1.2}),
        (keras.layers.RandomZoom((-0.15, -0.15), fill_mode="constant"), {"zoom": 0.85}),
        (
            keras.layers.RandomTranslation((0.1, 0.1), (-0.2, -0.2), fill_mode="constant"),
            {"shift_x": -5.6, "shift_y": 2.8},
        ),
    ],
)
def test_affine_matrices_move_pixels_as_keras_layers_do(stock, ours):
    images = np.random.default_rng(4).uniform(size=(2, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(_affine(images, **ours), np.asarray(stock(images, training=True)), atol=1e-4)


def test_affine_matrices_compose_shift_after_rotation_about_the_centre():
    dot = np.zeros((1, 28, 28, 1), np.float32)
    dot[0, 10, 12] = 1
    moved = _affine(dot, angle=np.pi / 2, shift_x=3, shift_y=-2)  # quarter turn: (10, 12) -> (15, 10)
    assert [tuple(p) for p in np.argwhere(moved[0, ..., 0] > 0.5)] == [(13, 13)]


def test_random_affine_draws_within_its_limits_and_only_in_training():
    keras.utils.set_random_seed(0)
    dot = np.zeros((256, 28, 28, 1), np.float32)
    dot[:, 13:15, 13:15] = 1
    layer = RandomAffine(rotation=0.0, zoom=0.0, translation=0.1)
    np.testing.assert_array_equal(np.asarray(layer(dot, training=False)), dot)
    moved = np.asarray(layer(dot, training=True))[..., 0]
    rows = (moved.sum(axis=2) * np.arange(28)).sum(axis=1) / moved.sum(axis=(1, 2))
    assert np.abs(rows - 13.5).max() <= 2.8 + 1e-3 and np.abs(rows - 13.5).max() > 2.0  # +-0.1 of 28 pixels
    assert len({round(r, 3) for r in rows}) > 100


def test_random_affine_round_trips_through_keras_serialisation():
    layer = RandomAffine(0.03, 0.1, 0.2, seed=5, name="random_affine")
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(again, RandomAffine)
    assert (again.rotation, again.zoom, again.translation, again.seed) == (0.03, 0.1, 0.2, 5)


def test_blur_factor_sets_how_many_images_get_blurred(strokes):
    images = np.repeat(strokes, 32, axis=0)
    keras.utils.set_random_seed(0)
    [every] = augmentation_layers(Augmentation(blur=1.0, blur_factor=(1.0, 1.0)))
    [some] = augmentation_layers(Augmentation(blur=1.0))
    changed = [
        (~np.isclose(np.asarray(layer(images, training=True)), images).all(axis=(1, 2, 3))).sum()
        for layer in (every, some)
    ]
    assert changed[0] == len(images) and 0 < changed[1] < len(images)
