"""Seconds the augmentation costs per training epoch, this package's layers against Keras's stock ops.

The stroke-width and blur layers compute what ``ops.max_pool`` and Keras's ``RandomGaussianBlur`` would
(the tests check they agree), in ways that avoid slow one-channel kernels on some CPUs. This times, in
one process and in alternating rounds so that load on the machine hits both alike:

- each augmentation layer's forward pass on batches of 256 images, and the stock op it replaces;
- one training epoch of the ``default`` preset with this package's layers and with the stock ones.

    python -m digit_recog.augment_probe                 # about 2 minutes on 2 AVX2 cores
    python -m digit_recog.augment_probe --images 2048   # a quick look
"""

import argparse
import json
import time

import keras
import numpy as np
from keras import layers, ops

from digit_recog import config, data
from digit_recog.artifacts import write_json
from digit_recog.augment import RandomGaussianBlurByMatmul, RandomStrokeWidth, max_filter_3x3
from digit_recog.benchmark import machine_info
from digit_recog.model import build_cnn
from digit_recog.presets import PRESETS

BATCH_SIZE = 256
BLUR = {
    "factor": 1.0,
    "kernel_size": 5,
    "sigma": PRESETS["default"].model.augmentation.blur,
    "value_range": (0, 1),
}


class StockRandomStrokeWidth(RandomStrokeWidth):
    """The stroke-width layer as first written: dilation and erosion by ``ops.max_pool``."""

    max_filter = staticmethod(lambda images: ops.max_pool(images, 3, strides=1, padding="same"))


def layer_timings(images: np.ndarray, rounds: int) -> dict:
    """Seconds per 55,000-image epoch of each forward pass, ours and the stock op, best of ``rounds``."""
    batch = ops.convert_to_tensor(images[:BATCH_SIZE, ..., np.newaxis].astype("float32") / 255)
    stroke_factor = PRESETS["default"].model.augmentation.stroke_width
    passes = {
        "max_filter_3x3": max_filter_3x3,
        "max_filter_3x3_stock": lambda x: ops.max_pool(x, 3, strides=1, padding="same"),
        "stroke_width": RandomStrokeWidth(stroke_factor, seed=0),
        "stroke_width_stock": StockRandomStrokeWidth(stroke_factor, seed=0),
        "blur": RandomGaussianBlurByMatmul(**BLUR, seed=0),
        "blur_stock": layers.RandomGaussianBlur(**BLUR, seed=0),
    }
    compiled = {name: _compiled(step) for name, step in passes.items()}
    best = dict.fromkeys(compiled, float("inf"))
    calls = 20
    for _ in range(rounds):
        for name, step in compiled.items():
            best[name] = min(
                best[name], _seconds(lambda step=step: [step(batch) for _ in range(calls)]) / calls
            )
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
    preset = PRESETS["default"]
    models = {
        "default_model": build_cnn(preset.model),
        "default_model_stock": _with_stock_layers(build_cnn(preset.model)),
    }
    targets = keras.utils.to_categorical(labels, config.NUM_CLASSES)
    for model in models.values():
        model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
        model.fit(images[: 4 * BATCH_SIZE], targets[: 4 * BATCH_SIZE], batch_size=BATCH_SIZE, verbose=0)
    best = dict.fromkeys(models, float("inf"))
    for _ in range(rounds):
        for name, model in models.items():
            fit = lambda model=model: model.fit(images, targets, batch_size=BATCH_SIZE, verbose=0)  # noqa: E731
            best[name] = min(best[name], _seconds(fit))
    return {name: round(seconds, 3) for name, seconds in best.items()}


def _with_stock_layers(model: keras.Sequential) -> keras.Sequential:
    """``model`` with its stroke-width and blur layers swapped for the stock-op versions."""
    swapped = []
    for layer in model.layers:
        if isinstance(layer, RandomStrokeWidth):
            layer = StockRandomStrokeWidth(layer.factor, name=layer.name)
        elif isinstance(layer, RandomGaussianBlurByMatmul):
            layer = layers.RandomGaussianBlur(**BLUR, name=layer.name)
        swapped.append(layer)
    return keras.Sequential([keras.Input(shape=model.input_shape[1:]), *swapped], name=f"{model.name}_stock")


def run_probe(images_count: int, rounds: int) -> dict:
    """Time everything; ratios are stock over ours (above 1: ours is faster)."""
    (images, labels), _ = data.load_mnist()
    keras.utils.set_random_seed(config.SEED)
    seconds = layer_timings(images, rounds) | epoch_timings(
        images[:images_count], labels[:images_count], rounds
    )
    speedups = {
        name: round(seconds[f"{name}_stock"] / seconds[name], 3)
        for name in seconds
        if not name.endswith("_stock")
    }
    return {
        "machine": machine_info(),
        "settings": {"batch_size": BATCH_SIZE, "epoch_images": images_count, "rounds": rounds},
        "layer_seconds_per_55000_images": {
            name: value for name, value in seconds.items() if "model" not in name
        },
        "epoch_seconds": {name: value for name, value in seconds.items() if "model" in name},
        "speedup_vs_stock": speedups,
    }


def _seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:
    """Run the probe, print its JSON report and write it (unless ``--output`` is empty)."""
    parser = argparse.ArgumentParser(
        prog="python -m digit_recog.augment_probe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=int, default=20_480, help="training images in each timed epoch")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the fastest counts")
    parser.add_argument("--output", default=str(config.AUGMENT_PROBE_PATH), help="JSON report ('' to skip)")
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
