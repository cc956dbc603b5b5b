"""Validation-only: how a trained model reads the drawn styles' validation part, family by family.

The reference for the ``drawn_*`` variants of ``lab.ablations.many_writers_validation``: the shipped model
(or any ``.keras`` file with its thresholds) on the flagged 1s, crossed 7s, open 4s and curled 9s that
``digit_recog.drawn_styles`` draws for validation; accuracy, and the share of each verdict. One JSON line:

    .venv/bin/python -m lab.ablations.drawn_styles_baseline [MODEL] >> lab/reports/drawn_styles_baseline.jsonl
"""

import json
import sys
from pathlib import Path

import numpy as np

from digit_recog import config, drawn_styles
from digit_recog.artifacts import shown_path
from digit_recog.reading import verdict
from digit_recog.reading.image import preprocess_batch
from digit_recog.reading.predict import load_trained_model, predict_probabilities


def main(model_path: Path) -> dict:
    """Score the model at ``model_path`` on the drawn styles' validation part."""
    model = load_trained_model(model_path)
    thresholds = verdict.load_thresholds(model_path)
    pictures, labels, families = drawn_styles.drawn_styles("validation")
    images, found = preprocess_batch(pictures)
    probabilities = predict_probabilities(model, images[found])
    labels, families = labels[found], families[found]
    verdicts = np.array([verdict.verdict(row, thresholds) for row in probabilities])
    report = {"model": shown_path(model_path), "pictures": int(found.sum())}
    for family in ["all", *drawn_styles.FAMILIES]:
        rows = np.ones(len(labels), bool) if family == "all" else families == family
        right = probabilities[rows].argmax(1) == labels[rows]
        report[family] = {
            "val_accuracy": round(float(right.mean()), 4),
            "sure_and_right": round(float((right & (verdicts[rows] == verdict.DIGIT)).mean()), 4),
            "not_a_digit": round(float((verdicts[rows] == verdict.NOT_A_DIGIT).mean()), 4),
        }
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]) if len(sys.argv) > 1 else config.MODEL_PATH)), flush=True)
