"""Validation-only comparison: default vs default without stroke-width/blur augmentation, 3 seeds each.

"default" is the preset as it was then (three chained geometry layers, blur on half the images, dense 128,
dropout 0.3, batch-norm momentum 0.99, peak 4e-3; ``EARLIER_DEFAULT``), pinned so that the script reproduces
its rows.

Scores the restored (lowest validation loss) weights on the 5,000 validation images and on the
1,797 other writers' digits. The test set is not loaded.
Each training takes about 6-7 minutes on 2 AVX2 cores; the results are in docs/performance.md:

    .venv/bin/python -m lab.ablations.handwriting_ablation_validation \
        lab/reports/handwriting_ablation_validation.jsonl
"""

from lab.ablations.handwriting_ablation import (
    EARLIER_DEFAULT,
    WITHOUT_STROKE_WIDTH_AND_BLUR,
    output_path,
    write_validation_rows,
)

write_validation_rows(
    output_path(), {"default": EARLIER_DEFAULT, "default_noHW": WITHOUT_STROKE_WIDTH_AND_BLUR}
)
