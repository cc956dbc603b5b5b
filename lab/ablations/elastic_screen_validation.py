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

from digit_recog import data
from lab.ablations.handwriting_variation_validation import variant_preset
from lab.ablations.outlier_exposure_validation import train_on_training_split

SCREEN_EPOCHS = 3
VARIANTS = ("control", "slant", "elastic_sigma4", "elastic")  # of handwriting_variation_validation


def screen(variant: str, seed: int = 42) -> dict:
    """Train the ``default`` changed as ``variant`` says for 3 epochs; accuracy per epoch."""
    preset = variant_preset(variant)
    preset = replace(preset, train=replace(preset.train, epochs=SCREEN_EPOCHS))
    (images, labels), _ = data.load_mnist()
    result = train_on_training_split(preset, seed, preset.train.outlier_images, images, labels).result
    return {
        "variant": variant,
        "seed": seed,
        "val": result.history["val_accuracy"],
        "train_acc": result.history["accuracy"],
        "cpu": round(result.train_cpu_seconds, 1),
    }


if __name__ == "__main__":
    if len(sys.argv) < 2 or set(sys.argv[1:]) - set(VARIANTS):
        raise SystemExit(f"choose variants among {list(VARIANTS)}")
    for name in sys.argv[1:]:
        print(json.dumps(screen(name)), flush=True)
