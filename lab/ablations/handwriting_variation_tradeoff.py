"""The trade-off the rule turned down: a recipe trained once and read as the shipped model is, on every set.

Not a choice: the slant-and-elastic candidates were dropped on the validation split
(lab/ablations/handwriting_variation_validation.py, docs/honest_reading.md) before this ran. This measures
what they would have given, as the issue asks when MNIST's floor and other writers' digits cannot both be
had: train on the training split, calibrate and choose the verdict thresholds on the validation split (as
``03_train`` does), then report MNIST test, other writers' digits, the styles set and the verdicts.

    .venv/bin/python -m lab.ablations.handwriting_variation_tradeoff VARIANT [SEED] >> REPORT.jsonl
"""

import json
import sys

import numpy as np

from digit_recog import data, drawn, robustness
from digit_recog.modeling import calibration
from digit_recog.reading import verdict
from digit_recog.reading.image import preprocess_batch
from digit_recog.reading.predict import predict_probabilities
from lab.ablations.handwriting_variation_validation import variant_preset
from lab.ablations.outlier_exposure_validation import train_on_training_split


def tradeoff(name: str, seed: int) -> dict:
    """Train variant ``name`` (see ``handwriting_variation_validation.VARIANTS``) with ``seed``; its accuracy
    and verdicts on each set."""
    preset = variant_preset(name)
    (images, labels), (test_images, test_labels) = data.load_mnist()
    trained = train_on_training_split(preset, seed, preset.train.outlier_images, images, labels)
    calibrated, _ = calibration.calibrate(trained.model, trained.val_images, trained.val_labels)
    val_probabilities = predict_probabilities(calibrated, trained.val_images)
    thresholds = verdict.choose_thresholds(val_probabilities, trained.val_labels)
    other_images, other_labels = robustness.other_writers_digits()
    styles = drawn.styles_set()
    style_images, _ = preprocess_batch(styles.pictures)
    non_digits, found = preprocess_batch(drawn.non_digit_set(part="evaluation").pictures)
    sets = {
        "mnist_test": (test_images, test_labels),
        "other_writers": (other_images, other_labels),
        "styles_set": (style_images, styles.labels),
        "non_digits": (non_digits, None),
    }
    report = {"variant": name, "seed": seed, "epochs": preset.train.epochs}
    result = trained.result
    report["val_accuracy"] = float(result.history["val_accuracy"][result.best_epoch - 1])
    report["train_cpu_seconds"] = round(result.train_cpu_seconds, 1)
    for set_name, (set_images, set_labels) in sets.items():
        probabilities = predict_probabilities(calibrated, set_images)
        flagged = np.array([verdict.verdict(row, thresholds) == verdict.NOT_A_DIGIT for row in probabilities])
        if set_labels is None:
            report[f"{set_name}_flagged"] = round(float((flagged | ~found).mean()), 4)
        else:
            report[f"{set_name}_accuracy"] = round(
                float((probabilities.argmax(axis=1) == set_labels).mean()), 4
            )
            report[f"{set_name}_flagged"] = round(float(flagged.mean()), 4)
    return report


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    print(json.dumps(tradeoff(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 42)), flush=True)
