"""Validation-only: the `best` preset with one resampling and a dense 256 head, 3 seeds, on the CPU.

The H100 sweep of `best` (docs/performance.md) trained every variant with one resampling for rotation,
zoom and shift, while the CPU's `best` chains Keras's three layers; there, a dense layer of 256 with dropout
0.2 scored +0.05 +- 0.02 points over 128 and 0.4. This trains the two together on the CPU with TensorFlow,
as the benchmark trains. The control is the benchmark's own `best` models (models/benchmark/best_seed4x.keras,
written by `make bench`; same seeds and split), scored here on the validation split and the other writers'
digits, not retrained.

Rule, written before any of these runs: the variant is worth a benchmark run only if its mean validation
accuracy over seeds 42-44 is at least 0.05 points above the control's, and its mean on the other writers'
digits at most 0.3 points below. The test set is not loaded. About 25-40 minutes a training on 2 AVX2 cores:

    .venv/bin/python -m lab.ablations.best_head_validation lab/reports/best_head_validation.jsonl
"""

import json

from digit_recog import data
from lab.ablations.handwriting_ablation import (
    BENCHMARK_BEST_SEEDS,
    Variant,
    benchmark_best_models,
    load_ablation_data,
    output_path,
    scores,
    write_validation_rows,
)

ONE_RESAMPLING_DENSE_256 = Variant(
    augmentation={"chained_geometry": False}, model={"dense_units": (256,), "dropout_rates": (0.2,)}
)


def write_control_rows(path: str) -> None:
    """Score the benchmark's `best` models on the validation split and other writers' digits."""
    (images, labels), _ = data.load_mnist()
    parts = load_ablation_data(images, labels)
    models = benchmark_best_models()
    with open(path, "a") as out:
        for seed, model in models.items():
            row = {"variant": "best_benchmark_models", "seed": seed, **scores(model, parts)}
            out.write(json.dumps(row) + "\n")
            print(row, flush=True)


if __name__ == "__main__":
    write_control_rows(output_path())
    write_validation_rows(
        output_path(),
        {"best_one_resampling_dense_256": ONE_RESAMPLING_DENSE_256},
        BENCHMARK_BEST_SEEDS,
        preset_name="best",
    )
