"""Cheaper schedules for the ``fast`` preset, scored on the validation split only.

``fast`` trains in about 0.064x the original recipe's time; the aim is 0.05x at no loss of accuracy. Each
variant is the ``fast`` preset with a different batch size and peak learning rate, or narrower convolutions;
they train in turn, in one process, on MNIST's training split (the committed split), seeds taking turns so
that a machine that slows down during the run skews every variant alike. The test set is never read. Prints
one JSON line a run; the CPU seconds are what ``train_model`` reports:

    .venv/bin/python -m lab.ablations.fast_schedule_validation 42 43 \
        >> lab/reports/fast_schedule_validation.jsonl
"""

import json
import sys
from dataclasses import replace

from digit_recog import data
from digit_recog.modeling.presets import PRESETS
from digit_recog.modeling.train import train_model

FAST = PRESETS["fast"]
VARIANTS = {
    "fast": {},
    "batch_512": {"batch_size": 512, "learning_rate": 1.4e-2},
    "batch_384": {"batch_size": 384, "learning_rate": 1.2e-2},
    "batch_1024": {"batch_size": 1024, "learning_rate": 2e-2},
}
# Narrower second convolution (the bulk of the multiply-adds), with the first unchanged or narrower too.
MODEL_VARIANTS = {
    "conv2_24": (16, 24),
    "conv_12_24": (12, 24),
    "conv2_20": (16, 20),
}


def _model(variant: str):
    if variant not in MODEL_VARIANTS:
        return FAST.model
    first, second = MODEL_VARIANTS[variant]
    blocks = FAST.model.conv_blocks
    return replace(
        FAST.model, conv_blocks=(replace(blocks[0], filters=first), replace(blocks[1], filters=second))
    )


def run(variant: str, seed: int, images: tuple) -> dict:
    """Train one variant with one seed; its validation accuracy and training times."""
    train_images, train_labels, val_images, val_labels = images
    config = replace(FAST.train, seed=seed, **VARIANTS.get(variant, {}))
    model = replace(FAST, model=_model(variant)).build(seed=seed)
    result = train_model(model, train_images, train_labels, val_images, val_labels, config, verbose=0)
    predicted = model.predict(val_images[..., None].astype("float32"), verbose=0).argmax(1)
    return {
        "variant": variant,
        "seed": seed,
        "val_accuracy": round(float((predicted == val_labels).mean()), 5),
        "train_seconds": round(result.train_seconds, 2),
        "train_cpu_seconds": round(result.train_cpu_seconds, 2),
    }


def main(seeds: list[int]) -> None:
    """Every variant with every seed, printed as JSON lines."""
    (train_images, train_labels), _ = data.load_mnist()
    train_indices, val_indices = data.load_split()
    images = (
        train_images[train_indices], train_labels[train_indices],
        train_images[val_indices], train_labels[val_indices],
    )  # fmt: skip
    for seed in seeds:
        for variant in [*VARIANTS, *MODEL_VARIANTS]:
            print(json.dumps(run(variant, seed, images)), flush=True)


if __name__ == "__main__":
    main([int(seed) for seed in sys.argv[1:]] or [42])
