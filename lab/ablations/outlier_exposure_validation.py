"""Validation-only: does outlier exposure teach a preset to say "not a digit", and at what cost?

Trains a preset with and without non-digit pictures under uniform targets (the training part of
``digit_recog.drawn.non_digit_set``), calibrates each on the validation split, puts the "not a digit"
threshold where 0.5% of the validation digits fall below it, and measures the share of *validation*
non-digits flagged (the training part's fonts and shapes, drawn with another seed). The evaluation part of the
non-digit set, the test set and other writers' digits are not touched here. One JSON line per training:

    .venv/bin/python -m lab.ablations.outlier_exposure_validation PRESET [OUTLIERS] [SEED]
"""

import json
import sys
from dataclasses import dataclass, replace

import keras
import numpy as np

from digit_recog import config, data, drawn
from digit_recog.modeling import calibration, train
from digit_recog.modeling.presets import Preset, get_preset
from digit_recog.reading.image import preprocess_batch
from digit_recog.reading.predict import predict_probabilities


def main(preset_name: str, outliers: int, seed: int) -> dict:
    """One training of ``preset_name`` with ``outliers`` non-digits drawn (0: none), scored on validation."""
    preset = get_preset(preset_name, seed=seed)
    return {"preset": preset_name, "outliers": outliers, **validation_report(preset, outliers, seed)}


@dataclass(frozen=True)
class SplitTraining:
    """A model trained on the project's training split, with what it learnt and the validation split."""

    model: keras.Model
    result: train.TrainingResult
    val_images: np.ndarray
    val_labels: np.ndarray


def train_on_training_split(
    preset: Preset, seed: int, outliers: int, images: np.ndarray, labels: np.ndarray
) -> SplitTraining:
    """Train ``preset`` with ``seed`` on the training split of MNIST's training ``images`` and ``labels``,
    validated on the validation split, with ``outliers`` non-digits drawn for outlier exposure (0: none)."""
    preset = replace(preset, train=replace(preset.train, seed=seed))
    train_indices, val_indices = data.load_split(config.SPLIT_PATH)
    outlier_images = drawn.outlier_exposure_images(outliers) if outliers else None
    model = preset.build(seed=seed)
    result = train.train_model(
        model, images[train_indices], labels[train_indices], images[val_indices], labels[val_indices],
        preset.train, verbose=0, outlier_images=outlier_images,
    )  # fmt: skip
    return SplitTraining(model, result, images[val_indices], labels[val_indices])


def validation_report(preset: Preset, outliers: int, seed: int) -> dict:
    """Train ``preset`` on the training split (with ``outliers`` non-digits when not 0), calibrate it, and
    report validation accuracy and the share of validation non-digits under the "not a digit" threshold."""
    (images, labels), _ = data.load_mnist()
    trained = train_on_training_split(preset, seed, outliers, images, labels)
    val_non_digits, found = preprocess_batch(drawn.non_digit_set(60, seed=11, part="training").pictures)
    calibrated, temperature = calibration.calibrate(trained.model, trained.val_images, trained.val_labels)
    val_confidence = predict_probabilities(calibrated, trained.val_images).max(axis=1)
    threshold = float(np.percentile(val_confidence, 0.5))
    flagged = (predict_probabilities(calibrated, val_non_digits).max(axis=1) < threshold) | ~found
    result = trained.result
    return {
        "seed": seed,
        "val_accuracy": float(result.history["val_accuracy"][result.best_epoch - 1]),
        "temperature": round(temperature, 4),
        "threshold": round(threshold, 4),
        "val_non_digits_flagged": round(float(flagged.mean()), 4),
        "train_seconds": round(result.train_seconds, 1),
        "train_cpu_seconds": round(result.train_cpu_seconds, 1),
    }


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 4:
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    arguments = sys.argv[1:] + ["3000", "42"][len(sys.argv) - 2 :]
    print(json.dumps(main(arguments[0], int(arguments[1]), int(arguments[2]))), flush=True)
