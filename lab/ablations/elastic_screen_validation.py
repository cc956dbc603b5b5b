"""Validation-only screen: 3-epoch trainings of the ``default`` with slant or an elastic distortion alone.

Run after Simard's elastic distortion (alpha 34, sigma 4) cost the full ``default`` half a point of validation
accuracy (lab/reports/handwriting_variation_validation.jsonl), to see which part costs what. One seed, the
training split only, scored on the validation split; the test set and other writers' digits are not loaded.
The committed rows came from commit 9f1207c, where every image got the full elastic strength (``RandomWarp``
now draws it from 0 to alpha). About 70 CPU seconds a variant on 2 cores:

    .venv/bin/python -m lab.ablations.elastic_screen_validation VARIANT... \
        > lab/reports/elastic_screen_validation.jsonl
"""

import json
import sys
from dataclasses import replace

from digit_recog import config, data, drawn
from digit_recog.modeling import train
from digit_recog.modeling.presets import PRESETS

SCREEN_EPOCHS = 3
VARIANTS = {
    "before": {"shear": 0.0, "elastic_alpha": 0.0},
    "shear0.3": {"shear": 0.3, "elastic_alpha": 0.0},
    "elastic34s4": {"shear": 0.0, "elastic_alpha": 34.0, "elastic_sigma": 4.0},
    "elastic34s6": {"shear": 0.0, "elastic_alpha": 34.0, "elastic_sigma": 6.0},
}


def screen(variant: str, seed: int = 42) -> dict:
    """Train the ``default`` with ``variant``'s slant and elastic settings, 3 epochs; accuracy per epoch."""
    (images, labels), _ = data.load_mnist()
    train_indices, val_indices = data.load_split(config.SPLIT_PATH)
    default = PRESETS["default"]
    augmentation = replace(default.model.augmentation, **VARIANTS[variant])
    preset = replace(
        default,
        model=replace(default.model, augmentation=augmentation),
        train=replace(default.train, epochs=SCREEN_EPOCHS, seed=seed),
    )
    result = train.train_model(
        preset.build(seed=seed), images[train_indices], labels[train_indices], images[val_indices],
        labels[val_indices], preset.train, verbose=0,
        outlier_images=drawn.outlier_exposure_images(default.train.outlier_images),
    )  # fmt: skip
    return {
        "variant": variant,
        "seed": seed,
        "val": result.history["val_accuracy"],
        "train_acc": result.history["accuracy"],
        "cpu": round(result.train_cpu_seconds, 1),
    }


if __name__ == "__main__":
    if len(sys.argv) < 2 or set(sys.argv[1:]) - set(VARIANTS):
        raise SystemExit(f"choose variants among {sorted(VARIANTS)}")
    for name in sys.argv[1:]:
        print(json.dumps(screen(name)), flush=True)
