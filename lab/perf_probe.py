"""Seconds per training epoch of variants of the original recipe, as ratios to it, on this machine.

Each variant runs in a fresh Python process, so thread settings, XLA and the mixed-precision policy
never leak from one variant into the next. The plain baseline runs first and last; ratios use the
mean of the two, and a gap between them shows how much the machine's load drifted meanwhile.
Only training speed is measured here (no validation pass); what a change does to accuracy is the
benchmark's job (``python -m lab.benchmark``).

    python -m lab.perf_probe                                   # every variant, 10,000 images
    python -m lab.perf_probe --subset 1000 --variants batch_256 jit_compile
"""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np

from digit_recog import config, data
from digit_recog.artifacts import shown_path, write_json
from digit_recog.machine import machine_info
from digit_recog.modeling.cnn import Augmentation, ConvBlock, ModelConfig, build_cnn
from digit_recog.modeling.presets import PRESETS
from lab import paths
from lab.benchmark import stratified_subset

BASELINE = "baseline"
SEED_MODEL = PRESETS["seed"].model
DEFAULT_AUGMENTATION = Augmentation(rotation=0.03, zoom=0.1, translation=0.1)


@dataclass(frozen=True)
class Variant:
    """One way of training the same data for an epoch; the defaults are the original recipe's."""

    description: str
    model: ModelConfig = SEED_MODEL
    batch_size: int = 64
    intra_op_threads: int = 0  # 0: TensorFlow decides (one thread per usable core)
    inter_op_threads: int = 0
    jit_compile: bool = False  # what Keras's "auto" picks on a CPU-only machine
    mixed_precision: str | None = None
    pipeline: str = "numpy"  # "numpy": arrays straight to fit; "tf.data": cached, shuffled, prefetched


def _widened(model: ModelConfig, factor: float) -> ModelConfig:
    blocks = tuple(
        replace(block, filters=max(1, round(block.filters * factor))) for block in model.conv_blocks
    )
    dense = tuple(max(1, round(units * factor)) for units in model.dense_units)
    return replace(model, conv_blocks=blocks, dense_units=dense)


def _first_block(model: ModelConfig, filters: int) -> ModelConfig:
    return replace(model, conv_blocks=(ConvBlock(filters), *model.conv_blocks[1:]))


VARIANTS = {
    BASELINE: Variant("the seed preset's model and batch 64, numpy arrays, TensorFlow's thread defaults"),
    "intra_1": Variant("one thread inside each op", intra_op_threads=1),
    "inter_1": Variant("one op at a time", inter_op_threads=1),
    "intra_2_inter_2": Variant(
        "two threads inside each op, two ops at a time", intra_op_threads=2, inter_op_threads=2
    ),
    "batch_128": Variant("batch 128", batch_size=128),
    "batch_256": Variant("batch 256", batch_size=256),
    "batch_512": Variant("batch 512", batch_size=512),
    "jit_compile": Variant("XLA-compiled train step (jit_compile=True)", jit_compile=True),
    "mixed_bfloat16": Variant("mixed precision, bfloat16 compute", mixed_precision="mixed_bfloat16"),
    "tf_data": Variant("tf.data pipeline: cache, shuffle, batch, prefetch", pipeline="tf.data"),
    "conv1_16": Variant(
        "16 channels in the first conv (at 26x26) instead of 32", _first_block(SEED_MODEL, 16)
    ),
    "conv1_64": Variant(
        "64 channels in the first conv (at 26x26) instead of 32", _first_block(SEED_MODEL, 64)
    ),
    "width_half": Variant("every conv and dense layer half as wide", _widened(SEED_MODEL, 0.5)),
    "width_double": Variant("every conv and dense layer twice as wide", _widened(SEED_MODEL, 2.0)),
    "batch_norm": Variant(
        "batch normalisation after every conv and dense layer", replace(SEED_MODEL, batch_norm=True)
    ),
    "augmentation": Variant(
        "random rotation, zoom and shift layers in front (active in training only)",
        replace(SEED_MODEL, augmentation=DEFAULT_AUGMENTATION),
    ),
    "default_model": Variant(
        "the default preset's model at its batch size",
        model=PRESETS["default"].model,
        batch_size=PRESETS["default"].train.batch_size,
    ),
}


@dataclass(frozen=True)
class ProbeConfig:
    """Which variants to time, on how many training images, for how many epochs after a warm-up."""

    variants: tuple[str, ...] = tuple(name for name in VARIANTS if name != BASELINE)
    subset: int = 10_000
    epochs: int = 1
    warmup_epochs: int = 1
    seed: int = config.SEED
    output_path: Path | None = paths.PERF_PROBE_PATH

    def __post_init__(self):
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise KeyError(f"unknown variant(s) {unknown}; the variants are {sorted(VARIANTS)}.")
        if self.subset < 1 or self.epochs < 1 or self.warmup_epochs < 0:
            raise ValueError(f"subset and epochs must be positive, warmup_epochs not negative: {self}.")


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds (``seconds``) and process CPU seconds, all threads (``cpu_seconds``), of every epoch
    of a ``fit``."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started, self._cpu_started = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)
        self.cpu_seconds.append(time.process_time() - self._cpu_started)


def probe_images(subset: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``subset`` images of the training part of the project's split (never validation or test)."""
    (images, labels), _ = data.load_mnist()
    train_indices, _ = data.split_train_validation(labels, config.VALIDATION_SIZE, config.SEED)
    chosen = stratified_subset(train_indices, labels, subset, seed)
    return images[chosen][..., np.newaxis], labels[chosen]


def run_variant(name: str, probe: ProbeConfig) -> dict:
    """Time ``warmup_epochs + epochs`` of training with variant ``name``, in this process.

    Call it in a fresh process: thread settings only take effect before TensorFlow's first op.
    """
    import tensorflow as tf  # thread settings and tf.data are TensorFlow's, not Keras's

    variant = VARIANTS[name]
    tf.config.threading.set_intra_op_parallelism_threads(variant.intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(variant.inter_op_threads)
    if variant.mixed_precision:
        keras.mixed_precision.set_global_policy(variant.mixed_precision)
    images, labels = probe_images(probe.subset, probe.seed)
    model = build_cnn(variant.model, name=name, seed=probe.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        jit_compile=variant.jit_compile,
    )
    timer = EpochTimer()
    epochs = probe.warmup_epochs + probe.epochs
    if variant.pipeline == "tf.data":
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
        dataset = dataset.shuffle(len(images), seed=probe.seed).batch(variant.batch_size)
        model.fit(dataset.prefetch(tf.data.AUTOTUNE), epochs=epochs, callbacks=[timer], verbose=0)
    else:
        model.fit(images, labels, batch_size=variant.batch_size, epochs=epochs, callbacks=[timer], verbose=0)
    seconds = float(np.median(timer.seconds[probe.warmup_epochs :]))
    return {
        "seconds_per_epoch": round(seconds, 3),
        "images_per_second": round(len(images) / seconds, 1),
        "warmup_epoch_seconds": [round(value, 3) for value in timer.seconds[: probe.warmup_epochs]],
        "parameters": model.count_params(),
    }


def run_in_subprocess(name: str, probe: ProbeConfig) -> dict:
    """Run one variant in a fresh Python process and return what it measured (or its error)."""
    command = [sys.executable, "-m", "lab.perf_probe", "--run-variant", name]
    command += ["--subset", str(probe.subset), "--epochs", str(probe.epochs)]
    command += ["--warmup-epochs", str(probe.warmup_epochs)]
    environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    print(f"[perf_probe] {name}", file=sys.stderr, flush=True)
    finished = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if finished.returncode != 0:
        return {"error": finished.stderr.strip().splitlines()[-5:]}
    return json.loads(finished.stdout.strip().splitlines()[-1])


def run_probe(probe: ProbeConfig) -> dict:
    """Time the baseline, each variant, then the baseline again; ratios are to the baselines' mean."""
    first = run_in_subprocess(BASELINE, probe)
    measured = {name: run_in_subprocess(name, probe) for name in probe.variants}
    last = run_in_subprocess(BASELINE, probe)
    baseline_runs = [run["seconds_per_epoch"] for run in (first, last) if "seconds_per_epoch" in run]
    if not baseline_runs:
        raise RuntimeError(f"the baseline failed in both runs: {first.get('error')}")
    baseline_seconds = float(np.mean(baseline_runs))
    variants = {BASELINE: {"description": VARIANTS[BASELINE].description} | first}
    variants[BASELINE]["seconds_per_epoch_runs"] = baseline_runs
    for name, numbers in measured.items():
        if "seconds_per_epoch" in numbers:
            numbers["time_ratio_vs_baseline"] = round(numbers["seconds_per_epoch"] / baseline_seconds, 4)
        variants[name] = {"description": VARIANTS[name].description} | numbers
    return {
        "machine": machine_info(),
        "settings": asdict(probe) | {"output_path": probe.output_path and shown_path(probe.output_path)},
        "baseline_seconds_per_epoch": round(baseline_seconds, 3),
        "variants": variants,
        "variant_settings": {name: asdict(VARIANTS[name]) for name in (BASELINE, *probe.variants)},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m lab.perf_probe", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--variants", nargs="+", help=f"variants to time (default: all), from {sorted(VARIANTS)}"
    )
    parser.add_argument("--subset", type=int, default=10_000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs (their median counts)")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="untimed epochs first (tracing, caches)")
    parser.add_argument("--output", type=Path, default=paths.PERF_PROBE_PATH, help="JSON report")
    parser.add_argument("--run-variant", help=argparse.SUPPRESS)  # used by the child processes
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the probe and print its JSON report (a child process prints one variant's numbers)."""
    args = parse_args(argv)
    probe = ProbeConfig(
        subset=args.subset,
        epochs=args.epochs,
        warmup_epochs=args.warmup_epochs,
        output_path=args.output,
        **({"variants": tuple(args.variants)} if args.variants else {}),
    )
    report = run_variant(args.run_variant, probe) if args.run_variant else run_probe(probe)
    print(json.dumps(report, indent=None if args.run_variant else 2))
    if not args.run_variant and probe.output_path is not None:
        write_json(report, probe.output_path)
    return report


if __name__ == "__main__":
    main()
