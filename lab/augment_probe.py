"""Seconds the augmentation costs per training epoch, this package's layers against Keras's stock ops.

The stroke-width and blur layers compute what ``ops.max_pool`` and Keras's ``RandomGaussianBlur`` would
(the tests check they agree), in ways that avoid slow one-channel kernels on some CPUs; ``RandomAffine``
resamples once where Keras's ``RandomRotation``, ``RandomZoom`` and ``RandomTranslation`` resample three
times. This times, in one process and in alternating rounds so that load on the machine hits both alike:

- each augmentation layer's forward pass on batches of 256 images, and the stock op it replaces;
- one training epoch of the ``default`` preset with this package's layers and with the stock ones.

    python -m lab.augment_probe                 # about 2 minutes on 2 AVX2 cores
    python -m lab.augment_probe --images 2048   # a quick look
"""

import argparse
import json
from dataclasses import replace

import keras
import numpy as np
from keras import layers, ops

from digit_recog import config, data
from digit_recog.artifacts import write_json
from digit_recog.augment import (
    Augmentation,
    RandomAffine,
    RandomGaussianBlurByMatmul,
    RandomStrokeWidth,
    RandomWarp,
    augmentation_layers,
    max_filter_3x3,
)
from digit_recog.machine import machine_info
from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.presets import PRESETS
from lab import paths
from lab.benchmark import seconds_to_run

BATCH_SIZE = 256
# The default preset's network and augmentation settings, with every layer of this package's own.
OURS = replace(
    PRESETS["default"].model,
    augmentation=replace(PRESETS["default"].model.augmentation, chained_geometry=False),
)


class StockRandomStrokeWidth(RandomStrokeWidth):
    """The stroke-width layer as first written: dilation and erosion by ``ops.max_pool``."""

    max_filter = staticmethod(lambda images: ops.max_pool(images, 3, strides=1, padding="same"))


def stock_twins(layer: layers.Layer) -> list[layers.Layer]:
    """The stock-op version of our stroke-width, blur or affine layer, same settings; others as they are."""
    if isinstance(layer, RandomStrokeWidth):
        return [StockRandomStrokeWidth.from_config(layer.get_config())]
    if isinstance(layer, RandomGaussianBlurByMatmul):
        return [layers.RandomGaussianBlur.from_config(layer.get_config())]
    if isinstance(layer, RandomAffine):  # a RandomWarp keeps its slant and elastic field after the three
        chained = Augmentation(layer.rotation, layer.zoom, layer.translation, chained_geometry=True)
        if isinstance(layer, RandomWarp):
            chained = replace(chained, shear=layer.shear, elastic_alpha=layer.elastic_alpha)
            chained = replace(chained, elastic_sigma=layer.elastic_sigma)
        return augmentation_layers(chained)
    return [layer]


def layer_timings(images: np.ndarray, rounds: int) -> dict:
    """Seconds per 55,000-image epoch of each forward pass, ours and the stock op, best of ``rounds``."""
    batch = ops.convert_to_tensor(images[:BATCH_SIZE, ..., np.newaxis].astype("float32") / 255)
    chosen = augmentation_layers(OURS.augmentation)
    stroke_width = next(layer for layer in chosen if isinstance(layer, RandomStrokeWidth))
    blur = next(layer for layer in chosen if isinstance(layer, RandomGaussianBlurByMatmul))
    geometry = next(layer for layer in chosen if isinstance(layer, RandomAffine))
    passes = {
        "max_filter_3x3": max_filter_3x3,
        "max_filter_3x3_stock": StockRandomStrokeWidth.max_filter,
        "stroke_width": stroke_width,
        "stroke_width_stock": keras.Sequential(stock_twins(stroke_width)),
        "blur": blur,
        "blur_stock": keras.Sequential(stock_twins(blur)),
        "geometry": geometry,
        "geometry_stock": keras.Sequential(stock_twins(geometry)),
    }
    compiled = {name: _compiled(step) for name, step in passes.items()}
    best = dict.fromkeys(compiled, float("inf"))
    calls = 20
    for _ in range(rounds):
        for name, step in compiled.items():
            run_calls = lambda step=step: [step(batch) for _ in range(calls)]  # noqa: E731
            best[name] = min(best[name], seconds_to_run(run_calls) / calls)
    batches_per_epoch = np.ceil(55_000 / BATCH_SIZE)
    return {name: round(seconds * batches_per_epoch, 3) for name, seconds in best.items()}


def _compiled(step):
    """``step`` in one TensorFlow graph with the result pulled back, as a training step would run it."""
    import tensorflow as tf  # the probe measures TensorFlow's CPU kernels

    graph = tf.function(
        lambda x: ops.sum(step(x, training=True) if isinstance(step, layers.Layer) else step(x))
    )
    return lambda x: float(graph(x))


def epoch_timings(images: np.ndarray, labels: np.ndarray, rounds: int) -> dict:
    """Seconds per epoch on ``images`` of the default preset's model, our augmentation against stock."""
    ours = build_cnn(OURS)
    stock_layers = [twin for layer in build_cnn(OURS).layers for twin in stock_twins(layer)]
    stock = keras.Sequential(
        [keras.Input(shape=ours.input_shape[1:]), *stock_layers], name=f"{ours.name}_stock"
    )
    models = {"default_model": ours, "default_model_stock": stock}
    targets = keras.utils.to_categorical(labels, config.NUM_CLASSES)
    for model in models.values():
        model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
        model.fit(images[: 4 * BATCH_SIZE], targets[: 4 * BATCH_SIZE], batch_size=BATCH_SIZE, verbose=0)
    best = dict.fromkeys(models, float("inf"))
    for _ in range(rounds):
        for name, model in models.items():
            fit = lambda model=model: model.fit(images, targets, batch_size=BATCH_SIZE, verbose=0)  # noqa: E731
            best[name] = min(best[name], seconds_to_run(fit))
    return {name: round(seconds, 3) for name, seconds in best.items()}


def run_probe(images_count: int, rounds: int) -> dict:
    """Time everything; ratios are stock over ours (above 1: ours is faster)."""
    (images, labels), _ = data.load_mnist()
    images, labels = images[:images_count], labels[:images_count]
    keras.utils.set_random_seed(config.SEED)
    layer_seconds = layer_timings(images, rounds)
    epoch_seconds = epoch_timings(images, labels, rounds)
    seconds = layer_seconds | epoch_seconds
    speedups = {
        name: round(seconds[f"{name}_stock"] / seconds[name], 3)
        for name in seconds
        if not name.endswith("_stock")
    }
    return {
        "machine": machine_info(),
        "settings": {"batch_size": BATCH_SIZE, "epoch_images": len(images), "rounds": rounds},
        "layer_seconds_per_55000_images": layer_seconds,
        "epoch_seconds": epoch_seconds,
        "speedup_vs_stock": speedups,
    }


def main(argv: list[str] | None = None) -> dict:
    """Run the probe, print its JSON report and write it (unless ``--output`` is empty)."""
    parser = argparse.ArgumentParser(prog="python -m lab.augment_probe", description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_480, help="training images in each timed epoch")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the fastest counts")
    parser.add_argument("--output", default=str(paths.AUGMENT_PROBE_PATH), help="JSON report ('' to skip)")
    args = parser.parse_args(argv)
    if args.images < BATCH_SIZE or args.rounds < 1:
        parser.error(f"--images must be at least {BATCH_SIZE} and --rounds at least 1.")
    report = run_probe(args.images, args.rounds)
    print(json.dumps(report, indent=2))
    if args.output:
        write_json(report, args.output)
    return report


if __name__ == "__main__":
    main()
