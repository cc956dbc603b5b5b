"""Validation-only comparison: default vs default without stroke-width/blur augmentation, 3 seeds each.

Scores the restored (lowest validation loss) weights on the 5,000 validation images and on the
1,797 other writers' digits. The test set is not loaded.
Each training takes about 6-7 minutes on 2 AVX2 cores; the results are in reports/performance.md:

    .venv/bin/python bench/handwriting_ablation_validation.py reports/handwriting_ablation_validation.jsonl
"""

import json
import sys
from dataclasses import replace

import keras

from digit_recog import config, data, presets, robustness, train
from digit_recog.inference import accuracy
from digit_recog.model import build_cnn

VARIANTS = {"default": {}, "default_noHW": {"stroke_width": 0.0, "blur": 0.0}}
with open(sys.argv[1], "a") as out:
    (images, labels), _ = data.load_mnist()
    train_idx, val_idx = data.split_train_validation(labels, config.VALIDATION_SIZE, config.SEED)
    other_images, other_labels = robustness.other_writers_digits()
    for seed in (42, 43, 44):
        for name, aug in VARIANTS.items():
            preset = presets.get_preset("default", seed=seed)
            model_config = replace(preset.model, augmentation=replace(preset.model.augmentation, **aug))
            keras.utils.set_random_seed(seed)
            model = build_cnn(model_config)
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
                "variant": name,
                "seed": seed,
                "val_accuracy": accuracy(model, images[val_idx], labels[val_idx]),
                "other_writers_accuracy": accuracy(model, other_images, other_labels),
                "best_epoch": result.best_epoch,
                "train_seconds": round(result.train_seconds, 1),
            }
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(row, flush=True)
