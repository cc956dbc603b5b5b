"""Validation-only: the default preset with its rotation, zoom and shift as one RandomAffine, 3 seeds.

The same preset with Keras's three chained layers was trained with the same seeds on the same kind of CPU by
handwriting_ablation_validation.py (variant "default" in reports/handwriting_ablation_validation.jsonl, before
the default switched to one RandomAffine). Scores the restored weights on the 5,000 validation images and the
1,797 other writers' digits; the test set is not loaded. About 6-7 minutes a training on 2 AVX2 cores:

    .venv/bin/python bench/geometry_ablation_validation.py \
        reports/geometry_ablation_validation.jsonl [VARIANT...]
"""

import json
import sys

from handwriting_ablation import load_ablation_data, scores, train_default

from digit_recog import data

VARIANTS = {
    "default_one_affine": {"chained_geometry": False},
    "default_one_affine_blur_all": {"chained_geometry": False, "blur_factor": (1.0, 1.0)},
}
chosen = sys.argv[2:] or list(VARIANTS)
with open(sys.argv[1], "a") as out:
    (images, labels), _ = data.load_mnist()
    parts = load_ablation_data(images, labels)
    for seed in (42, 43, 44):
        for name in chosen:
            overrides = VARIANTS[name]
            model, result = train_default(seed, overrides, parts)
            row = {
                "variant": name,
                "seed": seed,
                **scores(model, parts),
                "best_epoch": result.best_epoch,
                "train_seconds": round(result.train_seconds, 1),
            }
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(row, flush=True)
