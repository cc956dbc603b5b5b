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
For ``drawn_styles`` (the shipped ``wider`` recipe plus the digits ``digit_recog.drawn_styles`` draws),
written before its run: adopt it only if MNIST's validation accuracy falls by less than 0.05 points from
``wider``'s, pendigits' and optdigits' by no more than one digit each, and the drawn styles' validation part
is read at least 2 points better than by the shipped model (``lab.ablations.drawn_styles_baseline``,
``lab/reports/drawn_styles_baseline.jsonl``). It failed (MNIST -0.08, pendigits -1.07 points). For
``drawn_ones_and_sevens`` (only the 1s and 7s of the drawn styles' training part: the shipped model already
read the drawn 4s and 9s), written before its run: the same rule. It failed on pendigits alone (-0.40 points,
three digits; MNIST +0.02, optdigits -1 digit). Since one seed moved pendigits' validation accuracy by up to
0.8 points between the variants above, a second seed (43) of ``wider`` and ``drawn_ones_and_sevens``, the rule
written before those runs: adopt it only if, over seeds 42 and 43, its mean MNIST validation accuracy is at
least ``wider``'s minus 0.05 points and its mean pendigits' and optdigits' are no more than one digit (0.13
and 0.52 points) below ``wider``'s. It failed again on pendigits (mean -0.40 points): more of pendigits' 1s,
whose long flags rise gently, were read as 7. For ``drawn_ones`` (only the drawn 1s, no level-barred 7s),
written before its runs: the same two-seed rule, and the drawn styles' validation part read at least 2 points
better than by the shipped model. It failed too (means: MNIST -0.07, pendigits -0.47 points).
For ``few_drawn_ones`` (the first 500 of those drawn 1s instead of all 1,341: the drawn pictures weighed
less), written before its runs: the same two-seed rule, and the drawn styles' validation part read at least
2 points better than by the shipped model. It failed (means: MNIST -0.10, pendigits -0.40 points).
Two seeds of ``wider`` gave pendigits' validation part 99.20 and 98.67%: as far apart as the variants above
were from it. A third seed (44) of ``wider`` and of ``drawn_ones_and_sevens``, the rule written before those
runs: over seeds 42 to 44, ``drawn_ones_and_sevens`` passes if its mean MNIST validation accuracy is at least
``wider``'s minus 0.05 points and its mean pendigits' and optdigits' are no more than one digit (0.13 and 0.52
points) below ``wider``'s; passing makes it a candidate for the shipped recipe, to be trained and benchmarked
as the shipped model is, not adopted here. It passed, narrowly (means: MNIST 99.46 against 99.47, pendigits
98.62 against 98.71, optdigits one digit lower): seed 44 of ``wider`` read pendigits' part at 98.26%.
"""

import json
import sys
from dataclasses import replace

import numpy as np

from digit_recog import drawn, drawn_styles, evaluate, other_writers, training_sets
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
    # The shipped recipe (wider) also learning from drawn flagged 1s, crossed 7s, open 4s and curled 9s.
    "drawn_styles": ("many_writers", {"pendigits": 2, "optdigits": 2}),
    "drawn_ones_and_sevens": ("many_writers", {"pendigits": 2, "optdigits": 2}),
    "drawn_ones": ("many_writers", {"pendigits": 2, "optdigits": 2}),
    "few_drawn_ones": ("many_writers", {"pendigits": 2, "optdigits": 2}),
}
# The drawn styles' families each variant trains on (its validation part is always scored whole).
DRAWN_VARIANTS = {
    "drawn_styles": None,
    "drawn_ones_and_sevens": ("1 with a flag", "1, plain", "7, level bar, crossed or not"),
    "drawn_ones": ("1 with a flag", "1, plain"),
    "few_drawn_ones": ("1 with a flag", "1, plain"),
}
# How many of the chosen drawn pictures a variant keeps (the first ones; all when not given).
DRAWN_PICTURES = {"few_drawn_ones": 500}
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


def _drawn_training(families):
    """The drawn styles' training images and labels, only those of ``families`` when given."""
    if families is None:
        return training_sets.drawn_styles_part("training")
    pictures, drawn_labels, drawn_families = drawn_styles.drawn_styles("training")
    chosen = np.isin(drawn_families, families)
    return other_writers.in_mnist_layout(pictures[chosen], drawn_labels[chosen])


def main(variant: str, seed: int, save_to: str | None = None) -> dict:
    """Train one variant with ``seed`` and report its validation scores per set."""
    preset_name, copies = VARIANTS[variant]
    preset = _changed(get_preset(preset_name, seed=seed), variant)
    sets = preset.train.training_sets
    parts = {
        name: training_sets.other_writers_parts(name, None, copies[name]) for name in sets if name in copies
    }
    if variant in DRAWN_VARIANTS:
        drawn_images, drawn_labels = _drawn_training(DRAWN_VARIANTS[variant])
        kept = DRAWN_PICTURES.get(variant)
        parts[training_sets.DRAWN_STYLES] = (
            drawn_images[:kept],
            drawn_labels[:kept],
            *training_sets.drawn_styles_part("validation"),
        )
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
    if save_to:
        calibrated.save(save_to)
    thresholds = verdict.choose_thresholds(predict_probabilities(calibrated, val_images), val_labels)
    scored = {"mnist": (mnist.val_images, mnist.val_labels)}
    scored |= {name: (part[2], part[3]) for name, part in parts.items()}
    scored |= {
        name: training_sets.other_writers_validation(name)
        for name in ("pendigits", "optdigits")
        if name not in scored
    }
    scored.setdefault(training_sets.DRAWN_STYLES, training_sets.drawn_styles_part("validation"))
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
    arguments = sys.argv[1:]  # VARIANT [SEED [PATH to save the calibrated model to]]
    print(json.dumps(main(arguments[0], int(arguments[1]) if len(arguments) > 1 else 42, *arguments[2:3])))
