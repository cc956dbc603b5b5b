"""Augmentation: each transform acts in training only, and stroke width moves ink the right way."""

import keras
import numpy as np
import pytest

from digit_recog.augment import (
    Augmentation,
    RandomGaussianBlurByMatmul,
    RandomStrokeWidth,
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


def test_every_transform_has_a_layer_named_random():
    chosen = augmentation_layers(
        Augmentation(rotation=0.1, zoom=0.1, translation=0.1, stroke_width=0.5, blur=1)
    )
    assert len(chosen) == 5 and all(layer.name.startswith("random_") for layer in chosen)
    assert augmentation_layers(Augmentation()) == []


@pytest.mark.parametrize("index", range(3))
def test_builtin_transforms_change_images_only_in_training(index, strokes):
    keras.utils.set_random_seed(0)  # before the layer exists, so its random draws are the same every run
    layer = augmentation_layers(Augmentation(rotation=0.1, zoom=0.1, blur=1.0))[index]
    np.testing.assert_allclose(np.asarray(layer(strokes, training=False)), strokes, atol=1e-6)
    # Blur reaches each image with probability 1/2: 64 images make "none changed" vanishingly unlikely.
    assert not np.allclose(np.asarray(layer(np.repeat(strokes, 32, axis=0), training=True)), strokes[0])


def test_preview_shows_each_copy_differently(strokes):
    raw = (strokes[..., 0] * 255).astype(np.uint8)
    copies = preview(raw, Augmentation(rotation=0.05, stroke_width=1.0), copies=3)
    assert copies.shape == (3, 2, 28, 28) and copies.max() <= 1.0
    assert not np.allclose(copies[0], copies[1])


def test_every_augmentation_layer_is_recognised_by_type():
    chosen = augmentation_layers(
        Augmentation(rotation=0.1, zoom=0.1, translation=0.1, stroke_width=0.5, blur=1)
    )
    assert all(is_augmentation(layer) for layer in chosen)
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
