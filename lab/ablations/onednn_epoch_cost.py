"""Seconds per training epoch of the original recipe's model and the default's, with TensorFlow's oneDNN
kernels off and on.

TensorFlow turns oneDNN on by itself only on CPUs with AVX-512; the package now turns it on everywhere
(``digit_recog/__init__.py``). The setting is read once, before TensorFlow's first op, so each measurement
is a fresh process: ``ROUNDS`` rounds, each running one process per setting in a shuffled order. A process
builds both models (in a shuffled order), trains each for 3 epochs on the same 20,480 training images (no
validation pass) with its preset's batch size, and keeps the second and third epochs (the first compiles).
The machines are shared and hold a process up now and then for seconds at a time, so each epoch is timed
by the wall clock and by the process's CPU time (all threads), which does not grow while it is held up; the
median and the fastest epoch of each are reported, and the ratios within a setting (default against seed)
and between settings. Prints JSON:

    .venv/bin/python -m lab.ablations.onednn_epoch_cost [ROUNDS] > lab/reports/onednn_epoch_cost.json
"""

import json
import os
import subprocess
import sys

import numpy as np

from lab.rounds_argument import rounds_from_argv

MODELS = ("seed", "default")
SETTINGS = ("0", "1")
CLOCKS = {"wall": "seconds", "cpu": "cpu_seconds"}  # each clock's list in perf_probe.EpochTimer


def child() -> None:
    """In a fresh process: time epochs 2 and 3 of each model and print them as one JSON line."""
    import keras

    from digit_recog.modeling.cnn import build_cnn
    from digit_recog.modeling.presets import PRESETS
    from lab.perf_probe import EpochTimer, probe_images

    images, labels = probe_images(20_480, 42)
    targets = keras.utils.to_categorical(labels, 10)
    seconds = {}
    for name in np.random.default_rng().permutation(MODELS):
        preset = PRESETS[name]
        model = build_cnn(preset.model, seed=42)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        timer = EpochTimer()
        model.fit(images, targets, batch_size=preset.train.batch_size, epochs=3, callbacks=[timer], verbose=0)
        kept = {clock: getattr(timer, attribute)[1:] for clock, attribute in CLOCKS.items()}
        seconds[str(name)] = {clock: [round(s, 3) for s in values] for clock, values in kept.items()}
    print(json.dumps(seconds))


def measure(setting: str) -> dict:
    """Run :func:`child` in a fresh process with ``TF_ENABLE_ONEDNN_OPTS=setting``."""
    env = os.environ | {"TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(seconds: dict) -> dict:
    """Median and fastest epoch per clock, setting and model, and the ratios between them."""
    stats = {
        f"{clock}_{label}": {
            s: {m: round(float(reduce(seconds[s][m][clock])), 3) for m in MODELS} for s in SETTINGS
        }
        for clock in CLOCKS
        for label, reduce in (("median", np.median), ("fastest", np.min))
    }
    ratios = {}
    for label, per_setting in stats.items():
        off, on = per_setting["0"], per_setting["1"]
        ratios[label] = {
            "default_vs_seed_onednn_off": round(off["default"] / off["seed"], 3),
            "default_vs_seed_onednn_on": round(on["default"] / on["seed"], 3),
            "seed_speedup_with_onednn": round(off["seed"] / on["seed"], 3),
            "default_speedup_with_onednn": round(off["default"] / on["default"], 3),
        }
    return {"seconds_per_epoch": stats, "ratios": ratios}


def main(rounds: int) -> None:
    seconds = {setting: {name: {clock: [] for clock in CLOCKS} for name in MODELS} for setting in SETTINGS}
    order = np.random.default_rng(0)
    for _ in range(rounds):
        for setting in order.permutation(SETTINGS):
            for name, clocks in measure(str(setting)).items():
                for clock, values in clocks.items():
                    seconds[str(setting)][name][clock].extend(values)
            print(setting, seconds[str(setting)], file=sys.stderr, flush=True)
    report = {"images": 20_480, "rounds": rounds, "epochs_kept": [2, 3], "seconds": seconds}
    print(json.dumps(report | summary(seconds), indent=2))


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        main(rounds_from_argv(default=4))
