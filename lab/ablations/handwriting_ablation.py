"""What the ablation scripts share: the data, one training of a preset (the default unless told), its
scores, the rows, and the benchmark's `best` models.

Run the scripts, not this file: handwriting_ablation_validation.py, handwriting_ablation_test.py,
geometry_ablation_validation.py, default_*_validation.py and best_*_validation.py.
"""

import json
import sys
from dataclasses import dataclass, field, replace

import keras
import numpy as np

from digit_recog import config, data, robustness
from digit_recog.artifacts import shown_path
from digit_recog.modeling import presets, train
from digit_recog.modeling.cnn import build_cnn
from digit_recog.reading.predict import accuracy
from lab import benchmark


@dataclass(frozen=True)
class Variant:
    """Changes to the default preset: keyword overrides of its augmentation, model and training configs."""

    augmentation: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


# The default's head and schedule before the preset took the GPU sweep's gains (dense 256, dropout 0.2,
# batch-norm momentum 0.9, peak 6e-3), and its augmentation before it switched to one RandomAffine and a blur
# of every image: pinned, so that the earlier ablation scripts still train what they trained.
EARLIER_HEAD = {"dense_units": (128,), "dropout_rates": (0.3,), "bn_momentum": 0.99}
EARLIER_SCHEDULE = {"learning_rate": 4e-3}
EARLIER_DEFAULT = Variant(
    augmentation={"chained_geometry": True, "blur_factor": 1.0}, model=EARLIER_HEAD, train=EARLIER_SCHEDULE
)
WITHOUT_STROKE_WIDTH_AND_BLUR = replace(
    EARLIER_DEFAULT, augmentation=EARLIER_DEFAULT.augmentation | {"stroke_width": 0.0, "blur": 0.0}
)
# The default as it became on 2026-11-26 (the GPU sweep's four gains on one RandomAffine and a blur of every
# image), pinned for the scripts that measured it and its variants.
GPU_SWEEP_GAINS = Variant(
    augmentation={"chained_geometry": False, "blur_factor": (1.0, 1.0)},
    model={"dense_units": (256,), "dropout_rates": (0.2,), "bn_momentum": 0.9},
    train={"learning_rate": 6e-3},
)

# The seeds `make bench` trains `best` with (and so the seed models it saves).
BENCHMARK_BEST_SEEDS = tuple(benchmark.BenchmarkConfig().seeds_for("best"))


@dataclass(frozen=True)
class AblationData:
    """The training and validation parts of the project's split, and the other writers' digits."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    other_images: np.ndarray
    other_labels: np.ndarray


def load_ablation_data(images: np.ndarray, labels: np.ndarray) -> AblationData:
    """Split MNIST's training images as the project does, and load the other writers' digits."""
    train_idx, val_idx = data.split_train_validation(labels, config.VALIDATION_SIZE, config.SEED)
    other_images, other_labels = robustness.other_writers_digits()
    return AblationData(
        images[train_idx], labels[train_idx], images[val_idx], labels[val_idx], other_images, other_labels
    )


def train_variant(seed: int, variant: Variant, parts: AblationData, preset_name: str = "default"):
    """Train the default preset (or ``preset_name``) with ``seed``, changed by ``variant``.

    Returns the model (weights of the lowest validation loss) and its ``TrainingResult``.
    """
    preset = presets.get_preset(preset_name, seed=seed, **variant.train)
    augmentation = replace(preset.model.augmentation, **variant.augmentation)
    model = build_cnn(replace(preset.model, augmentation=augmentation, **variant.model), seed=seed)
    result = train.train_model(
        model,
        parts.train_images,
        parts.train_labels,
        parts.val_images,
        parts.val_labels,
        preset.train,
        verbose=0,
    )
    return model, result


def scores(model: keras.Model, parts: AblationData) -> dict:
    """Accuracy on the validation images and on the other writers' digits."""
    return {
        "val_accuracy": accuracy(model, parts.val_images, parts.val_labels),
        "other_writers_accuracy": accuracy(model, parts.other_images, parts.other_labels),
    }


def benchmark_best_models() -> dict[int, keras.Model]:
    """The `best` models the last `make bench` saved, by seed; exits naming any missing file and the fix."""
    paths = {seed: benchmark.saved_model_path("best", seed) for seed in BENCHMARK_BEST_SEEDS}
    missing = [shown_path(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise SystemExit(
            f"missing {', '.join(missing)}: run `make bench` first, which trains and saves them."
        )
    return {seed: keras.models.load_model(path) for seed, path in paths.items()}


def output_path() -> str:
    """The running script's first argument, the JSON-lines file its rows are appended to; exits with the
    usage when it is missing."""
    if len(sys.argv) < 2:
        raise SystemExit(f"usage: python {sys.argv[0]} OUTPUT.jsonl (one row per training is appended to it)")
    return sys.argv[1]


def write_validation_rows(
    path: str, variants: dict[str, Variant], seeds=(42, 43, 44), preset_name: str = "default"
) -> None:
    """Train the default (or ``preset_name``) changed by each variant (see ``train_variant``) for each seed;
    append one JSON line per training to ``path`` (validation and other writers' accuracy, best epoch,
    seconds). No test images."""
    with open(path, "a") as out:
        (images, labels), _ = data.load_mnist()
        parts = load_ablation_data(images, labels)
        for seed in seeds:
            for name, variant in variants.items():
                model, result = train_variant(seed, variant, parts, preset_name)
                row = {
                    "variant": name,
                    "seed": seed,
                    **scores(model, parts),
                    "best_epoch": result.best_epoch,
                    "train_seconds": round(result.train_seconds, 1),
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(row, flush=True)
