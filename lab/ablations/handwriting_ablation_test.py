"""Report, not select: test accuracy of the default without stroke-width/blur, seeds 42-44.

The variant was compared on the validation split (lab/ablations/handwriting_ablation_validation.py);
this trains the same models again, touches the test set once per model, to report, and scores the other
writers' digits.
Each training takes about 6-7 minutes on 2 AVX2 cores; the results are in docs/performance.md:

    .venv/bin/python -m lab.ablations.handwriting_ablation_test lab/reports/handwriting_ablation_test.jsonl
"""

import json

from digit_recog import data
from digit_recog.reading.predict import accuracy
from lab.ablations.handwriting_ablation import (
    WITHOUT_STROKE_WIDTH_AND_BLUR,
    load_ablation_data,
    output_path,
    scores,
    train_variant,
)

with open(output_path(), "a") as out:
    (images, labels), (test_images, test_labels) = data.load_mnist()
    parts = load_ablation_data(images, labels)
    for seed in (42, 43, 44):
        model, result = train_variant(seed, WITHOUT_STROKE_WIDTH_AND_BLUR, parts)
        measured = scores(model, parts)
        row = {
            "variant": "default_noHW",
            "seed": seed,
            "val_accuracy": measured["val_accuracy"],
            "test_accuracy": accuracy(model, test_images, test_labels),
            "other_writers_accuracy": measured["other_writers_accuracy"],
            "train_seconds": round(result.train_seconds, 1),
        }
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(row, flush=True)
