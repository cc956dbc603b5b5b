"""The augmentation probe: the shape of its report on a tiny budget (no timing asserts here)."""

import json

import keras
import numpy as np
import pytest

from digit_recog.augment import Augmentation, augmentation_layers
from lab import augment_probe


@pytest.mark.slow
def test_probe_reports_ours_against_stock_for_every_layer_and_the_epoch(tmp_path):
    output = tmp_path / "augment_probe.json"
    report = augment_probe.main(["--images", "256", "--rounds", "1", "--output", str(output)])
    assert json.loads(output.read_text()) == json.loads(json.dumps(report))
    layers = report["layer_seconds_per_55000_images"]
    assert set(layers) == {
        f"{name}{stock}"
        for name in ("max_filter_3x3", "stroke_width", "blur", "geometry")
        for stock in ("", "_stock")
    }
    assert set(report["epoch_seconds"]) == {"default_model", "default_model_stock"}
    assert set(report["speedup_vs_stock"]) == {
        "max_filter_3x3",
        "stroke_width",
        "blur",
        "geometry",
        "default_model",
    }
    assert all(seconds > 0 for seconds in [*layers.values(), *report["epoch_seconds"].values()])
    assert "cpu_features" in report["machine"]


def test_probe_rejects_a_budget_below_one_batch():
    with pytest.raises(SystemExit):
        augment_probe.main(["--images", "10", "--output", ""])


def test_stock_twins_are_the_stock_ops_with_the_same_settings():
    stroke_width, blur, geometry = augmentation_layers(
        Augmentation(stroke_width=0.7, blur=0.8, rotation=0.1, zoom=0.2, translation=0.05)
    )
    [stock_stroke], [stock_blur] = augment_probe.stock_twins(stroke_width), augment_probe.stock_twins(blur)
    assert type(stock_stroke) is augment_probe.StockRandomStrokeWidth and stock_stroke.factor == 0.7
    assert type(stock_blur) is keras.layers.RandomGaussianBlur and stock_blur.name == blur.name
    assert (stock_blur.sigma, stock_blur.kernel_size) == (blur.sigma, blur.kernel_size)
    rotation, zoom, translation = augment_probe.stock_twins(geometry)
    assert (rotation.factor, zoom.height_factor, translation.width_factor) == ((-0.1, 0.1), 0.2, 0.05)
    scaling = keras.layers.Rescaling(0.5)
    assert augment_probe.stock_twins(scaling) == [scaling]


def test_stock_stroke_width_does_what_ours_does():
    images = np.random.default_rng(3).uniform(size=(8, 28, 28, 1)).astype(np.float32)
    ours = augment_probe.RandomStrokeWidth(0.7, seed=5)
    stock = augment_probe.StockRandomStrokeWidth(0.7, seed=5)
    np.testing.assert_array_equal(
        np.asarray(ours(images, training=True)), np.asarray(stock(images, training=True))
    )


def test_the_stock_twin_of_a_warp_chains_keras_geometry_then_keeps_slant_and_elastic_distortion():
    augmentation = Augmentation(0.1, 0.2, 0.05, shear=0.3, elastic_alpha=34.0, elastic_sigma=6.0)
    [warp] = augmentation_layers(augmentation)
    *chained, rest = augment_probe.stock_twins(warp)
    assert [layer.name for layer in chained] == ["random_rotation", "random_zoom", "random_translation"]
    assert (rest.rotation, rest.shear, rest.elastic_alpha, rest.elastic_sigma) == (0.0, 0.3, 34.0, 6.0)
