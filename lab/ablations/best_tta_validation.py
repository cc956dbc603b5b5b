"""Validation-only: would averaging over one-pixel shifts at test time lift the `best` models?

Scores the benchmark's three `best` models (models/benchmark/best_seed4x.keras, written by `make bench`)
and their ensemble on the validation split, with the images as they are, averaged over the four one-pixel
shifts plus the original, and over all nine shifts of at most one pixel. The test set is not loaded. A
couple of minutes on 2 cores; prints one JSON object (validation accuracy in percent):

    .venv/bin/python -m lab.ablations.best_tta_validation > lab/reports/best_tta_validation.json
"""

import json

import keras
import numpy as np
from scipy import ndimage

from digit_recog import data
from digit_recog.reading.predict import predict_probabilities
from lab.ablations.handwriting_ablation import benchmark_best_models, load_ablation_data

SHIFT_SETS = {
    "none": [(0, 0)],
    "original_and_4_shifts": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)],
    "all_9_shifts": [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
}


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` (N, 28, 28) moved ``dy`` rows down and ``dx`` columns right, filled with background."""
    return ndimage.shift(images, (0, dy, dx), order=0, mode="constant", cval=0)


def averaged_probabilities(model: keras.Model, images: np.ndarray, shifts: list) -> np.ndarray:
    """The model's class probabilities averaged over ``images`` moved by each of ``shifts``."""
    return np.mean([predict_probabilities(model, shifted(images, *shift)) for shift in shifts], axis=0)


def main() -> dict:
    """Validation accuracy of each seed's model and of their ensemble, for each set of shifts."""
    (images, labels), _ = data.load_mnist()
    parts = load_ablation_data(images, labels)
    val_images, val_labels = parts.val_images, parts.val_labels
    models = benchmark_best_models()
    report = {}
    for name, shifts in SHIFT_SETS.items():
        probabilities = {
            seed: averaged_probabilities(model, val_images, shifts) for seed, model in models.items()
        }
        probabilities["ensemble"] = np.mean(list(probabilities.values()), axis=0)
        report[name] = {
            str(key): round(100 * float(np.mean(p.argmax(axis=1) == val_labels)), 2)
            for key, p in probabilities.items()
        }
        report[name]["single_model_mean"] = round(float(np.mean([report[name][str(s)] for s in models])), 3)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
