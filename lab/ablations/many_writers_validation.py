"""Validation-only: how often should the shipped recipe see each other writer's digit?

Trains the ``many_writers`` preset (MNIST's training split plus the training writers of pendigits and
optdigits) with each pen path drawn once or twice per epoch's data, and the MNIST-only ``default`` as the
control, all with one seed. Each is calibrated and given its thresholds on the combined validation parts, as
``03_train`` does, and scored on each set's validation part: accuracy, ECE and the share answered "not a
digit". Test writers are never loaded here. One JSON line per training:

    .venv/bin/python -m lab.ablations.many_writers_validation VARIANT [SEED]   # VARIANT: see VARIANTS

The rule, written before the runs: draw pen paths twice only if that raises pendigits' validation accuracy by
at least 0.3 points while MNIST's validation accuracy falls by less than 0.05 points; else once (cheaper).
For ``epochs_16`` and ``wider``, written before their runs: adopt one only if MNIST's validation accuracy
rises by at least 0.1 points over ``pen_twice`` with pendigits' and optdigits' no lower, and report what it
costs in training time.
"""

import json
import sys
from dataclasses import replace

import numpy as np

from digit_recog import drawn, evaluate, training_sets
from digit_recog.modeling import calibration, train
from digit_recog.modeling.presets import get_preset
from digit_recog.reading import verdict
from digit_recog.reading.predict import predict_probabilities

VARIANTS = {
    "mnist_only": ("default", {}),
    "pen_once": ("many_writers", {"pendigits": 1, "optdigits": 2}),
    "pen_twice": ("many_writers", {"pendigits": 2, "optdigits": 2}),
    # The shipped recipe (pen_twice) with more epochs, or with a wider network, for MNIST's lost 0.2 points.
    "epochs_16": ("many_writers", {"pendigits": 2, "optdigits": 2}),
    "wider": ("many_writers", {"pendigits": 2, "optdigits": 2}),
}
VARIANT_CHANGES = {
    "epochs_16": {"train": {"epochs": 16}},
    "wider": {"model": {"filters": (48, 96, 160), "dense_units": (384,)}},
}


def _changed(preset, variant: str):
    """``preset`` with the variant's training or model changes, if it has any."""
    changes = VARIANT_CHANGES.get(variant, {})
    if "train" in changes:
        preset = replace(preset, train=replace(preset.train, **changes["train"]))
    if "model" in changes:
        model = preset.model
        blocks = tuple(
            replace(block, filters=filters)
            for block, filters in zip(model.conv_blocks, changes["model"]["filters"], strict=True)
        )
        preset = replace(
            preset, model=replace(model, conv_blocks=blocks, dense_units=changes["model"]["dense_units"])
        )
    return preset


def main(variant: str, seed: int) -> dict:
    """Train one variant with ``seed`` and report its validation scores per set."""
    preset_name, copies = VARIANTS[variant]
    preset = _changed(get_preset(preset_name, seed=seed), variant)
    sets = preset.train.training_sets
    parts = {
        name: training_sets.other_writers_parts(name, None, copies[name]) for name in sets if name in copies
    }
    mnist = training_sets.load_training_data([training_sets.MNIST])
    arrays = [(mnist.train_images, mnist.train_labels, mnist.val_images, mnist.val_labels), *parts.values()]
    train_images, train_labels, val_images, val_labels = (
        np.concatenate([part[index] for part in arrays]) for index in range(4)
    )
    model = preset.build(seed=seed)
    result = train.train_model(
        model, train_images, train_labels, val_images, val_labels, preset.train, verbose=0,
        outlier_images=drawn.outlier_exposure_images(preset.train.outlier_images),
    )  # fmt: skip
    calibrated, temperature = calibration.calibrate(model, val_images, val_labels)
    thresholds = verdict.choose_thresholds(predict_probabilities(calibrated, val_images), val_labels)
    scored = {"mnist": (mnist.val_images, mnist.val_labels)}
    scored |= {name: (part[2], part[3]) for name, part in parts.items()}
    scored |= {
        name: training_sets.other_writers_validation(name)
        for name in ("pendigits", "optdigits")
        if name not in scored
    }
    report = {"variant": variant, "seed": seed, "train_images": len(train_images), "temperature": temperature}
    for name, (images, labels) in scored.items():
        probabilities = predict_probabilities(calibrated, images)
        calib = evaluate.calibration(labels, probabilities)
        report[name] = {
            "val_accuracy": round(float((probabilities.argmax(1) == labels).mean()), 5),
            "val_ece": round(calib["expected_calibration_error"], 4),
            "not_a_digit": round(float((probabilities.max(1) < thresholds.not_a_digit_below).mean()), 4),
        }
    report |= {
        "train_seconds": round(result.train_seconds, 1),
        "train_cpu_seconds": round(result.train_cpu_seconds, 1),
    }
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 42)), flush=True)
