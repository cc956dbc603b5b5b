"""Validation-only comparison: default vs default without stroke-width/blur augmentation, 3 seeds each.

Scores the restored (lowest validation loss) weights on the 5,000 validation images and on the
1,797 other writers' digits. The test set is not loaded.
Each training takes about 6-7 minutes on 2 AVX2 cores; the results are in reports/performance.md:

    .venv/bin/python bench/handwriting_ablation_validation.py reports/handwriting_ablation_validation.jsonl
"""

import json
import sys

from handwriting_ablation import WITHOUT_STROKE_WIDTH_AND_BLUR, load_ablation_data, scores, train_default

from digit_recog import data

VARIANTS = {"default": {}, "default_noHW": WITHOUT_STROKE_WIDTH_AND_BLUR}
with open(sys.argv[1], "a") as out:
    (images, labels), _ = data.load_mnist()
    parts = load_ablation_data(images, labels)
    for seed in (42, 43, 44):
        for name, overrides in VARIANTS.items():
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
