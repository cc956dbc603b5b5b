"""Report, not select: test accuracy of the default without stroke-width/blur, seeds 42-44.

The variant was compared on the validation split (bench/handwriting_ablation_validation.py); this trains
the same models again, touches the test set once per model, to report, and scores the other writers' digits.
Each training takes about 6-7 minutes on 2 AVX2 cores; the results are in reports/performance.md:

    .venv/bin/python bench/handwriting_ablation_test.py reports/handwriting_ablation_test.jsonl
"""

import json
import sys
from dataclasses import replace

import keras

from digit_recog import config, data, presets, robustness, train
from digit_recog.inference import accuracy
from digit_recog.model import build_cnn

with open(sys.argv[1], "a") as out:
    (images, labels), (test_images, test_labels) = data.load_mnist()
    train_idx, val_idx = data.split_train_validation(labels, config.VALIDATION_SIZE, config.SEED)
    other_images, other_labels = robustness.other_writers_digits()
    for seed in (42, 43, 44):
        preset = presets.get_preset("default", seed=seed)
        aug = replace(preset.model.augmentation, stroke_width=0.0, blur=0.0)
        keras.utils.set_random_seed(seed)
        model = build_cnn(replace(preset.model, augmentation=aug))
        result = train.train_model(
            model,
            images[train_idx],
            labels[train_idx],
            images[val_idx],
            labels[val_idx],
            preset.train,
            verbose=0,
        )
        row = {
            "variant": "default_noHW",
            "seed": seed,
            "val_accuracy": accuracy(model, images[val_idx], labels[val_idx]),
            "test_accuracy": accuracy(model, test_images, test_labels),
            "other_writers_accuracy": accuracy(model, other_images, other_labels),
            "train_seconds": round(result.train_seconds, 1),
        }
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(row, flush=True)
