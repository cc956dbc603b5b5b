"""Seconds per training epoch of the current default model, the earlier one and the original recipe's model.

The default's head changed (dense 256, dropout 0.2, batch-norm momentum 0.9, from 128, 0.3 and 0.99); this
checks what that costs an epoch, and which of the changes costs it ("dense_256_only": the earlier default with
only the dense layer widened). The models train in turn, in one process, on the same 20,480 training images
(no validation pass), for ``ROUNDS`` rounds, in a shuffled order each round: each round builds each model
afresh and times its second epoch (the first compiles). The machines are shared and their speed jumps between
about 6 and 10 s for the same epoch, so both the median and the fastest round are reported, as ratios within
the run. Prints JSON:

    .venv/bin/python -m lab.ablations.default_epoch_cost [ROUNDS] > lab/reports/default_epoch_cost.json
"""

import json
import sys
from dataclasses import replace

import keras
import numpy as np

from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.presets import PRESETS
from lab.ablations.handwriting_ablation import EARLIER_HEAD
from lab.perf_probe import EpochTimer, probe_images
from lab.rounds_argument import rounds_from_argv

ROUNDS = rounds_from_argv(default=6)
CURRENT = PRESETS["default"].model
EARLIER = replace(CURRENT, **EARLIER_HEAD)
MODELS = {
    "seed": (PRESETS["seed"].model, PRESETS["seed"].train.batch_size),
    "default_earlier": (EARLIER, 256),
    "dense_256_only": (replace(EARLIER, dense_units=(256,)), 256),
    "default": (CURRENT, PRESETS["default"].train.batch_size),
}


def second_epoch_seconds(model_config, batch_size: int, images: np.ndarray, targets: np.ndarray) -> float:
    """Build the model afresh and return the wall-clock seconds of its second training epoch."""
    model = build_cnn(model_config, seed=42)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    timer = EpochTimer()
    model.fit(images, targets, batch_size=batch_size, epochs=2, callbacks=[timer], verbose=0)
    return round(timer.seconds[1], 3)


images, labels = probe_images(20_480, 42)
targets = keras.utils.to_categorical(labels, 10)
seconds = {name: [] for name in MODELS}
order = np.random.default_rng(0)
for _ in range(ROUNDS):
    for name in order.permutation(list(MODELS)):
        model_config, batch_size = MODELS[name]
        seconds[name].append(second_epoch_seconds(model_config, batch_size, images, targets))
        print(name, seconds[name], file=sys.stderr, flush=True)
median = {name: float(np.median(values)) for name, values in seconds.items()}
fastest = {name: min(values) for name, values in seconds.items()}
report = {"images": len(images), "rounds": ROUNDS, "seconds": seconds}
for label, summary in (("median", median), ("fastest", fastest)):
    report[f"{label}_ratios"] = {
        "default_vs_earlier": round(summary["default"] / summary["default_earlier"], 3),
        "dense_256_only_vs_earlier": round(summary["dense_256_only"] / summary["default_earlier"], 3),
        "default_vs_seed": round(summary["default"] / summary["seed"], 3),
        "earlier_vs_seed": round(summary["default_earlier"] / summary["seed"], 3),
    }
print(json.dumps(report, indent=2))
