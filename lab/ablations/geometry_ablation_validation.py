"""Validation-only: the default preset with its rotation, zoom and shift as one RandomAffine, 3 seeds.

The same preset with Keras's three chained layers was trained with the same seeds on the same kind of CPU by
handwriting_ablation_validation.py (variant "default" in
lab/reports/handwriting_ablation_validation.jsonl, before the default switched to one RandomAffine).
Scores the restored weights on the 5,000 validation images and the 1,797 other writers' digits; the test
set is not loaded. About 6-7 minutes a training on 2 AVX2 cores:

    .venv/bin/python -m lab.ablations.geometry_ablation_validation \
        lab/reports/geometry_ablation_validation.jsonl [VARIANT...]
"""

import sys

from lab.ablations.handwriting_ablation import (
    EARLIER_HEAD,
    EARLIER_SCHEDULE,
    Variant,
    output_path,
    write_validation_rows,
)

VARIANTS = {  # with the head and schedule the default had then
    "default_one_affine": Variant(
        {"chained_geometry": False, "blur_factor": 1.0}, EARLIER_HEAD, EARLIER_SCHEDULE
    ),
    "default_one_affine_blur_all": Variant(
        {"chained_geometry": False, "blur_factor": (1.0, 1.0)}, EARLIER_HEAD, EARLIER_SCHEDULE
    ),
}
chosen = sys.argv[2:] or list(VARIANTS)
unknown = sorted(set(chosen) - set(VARIANTS))
if unknown:
    raise SystemExit(f"unknown variant(s) {unknown}; the variants are {sorted(VARIANTS)}")
write_validation_rows(output_path(), {name: VARIANTS[name] for name in chosen})
