"""Validation-only sweep of `default` preset variants on a GPU: seeds round-robin, parallel processes, JAX.

Scores each run's restored weights on the validation split (5,000 of the training images) and on the other
writers' digits; the test set is not in the data file. Rotation, zoom and shift run as FastGeometry (one
JAX affine resampling), because with Keras's three layers training on the JAX backend ran over 100 times
slower (docs/performance.md). Write the data first (lab/gpu_sweep/make_data.py), then, on a machine
with JAX and Keras:

    python -m lab.gpu_sweep.sweep OUT_DIR WORKERS BUDGET_SECONDS [--tiny] [--best ROUND]

``--best ROUND`` sweeps variants of the `best` preset (BEST_V, the round's list in BEST_SWEPT) instead of
`default`'s (V).

A machine without internet and without Keras needs its wheels brought along: ``pip download keras==3.15.1
--python-version 3.12 --only-binary=:all: --platform manylinux_2_28_x86_64 -d .whl``, delete the numpy and
ml_dtypes wheels there (JAX's own stay), then ``pip install --no-index --find-links .whl keras``.
One line per run goes to OUT_DIR/sweep.jsonl; jobs not started within the budget are skipped. The H200 run
of 2026-11-26 is lab/reports/gpu_sweep_h200.jsonl, the H100 runs of `best`
lab/reports/gpu_sweep_best_h100*.jsonl (summaries in docs/performance.md). The variants change the
`default` preset as it is when the sweep runs; that run's control was the preset of the day (blur on half
the images, dense 128, dropout 0.3, batch-norm momentum 0.99, peak 4e-3), so a rerun since the preset changed
sweeps around a different control.
"""

import functools
import json
import multiprocessing as mp
import os
import sys
import time
from dataclasses import replace

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
sys.path.insert(0, os.path.join(HERE, "..", "..", "src"))  # the GPU machines run it without installing

# name: (augmentation overrides, model overrides, train overrides, AdamW weight decay or None)
V = {
    "control": ({}, {}, {}, None),
    "noHW": (dict(stroke_width=0.0, blur=0.0), {}, {}, None),
    "halfHW": (dict(stroke_width=0.35, blur=0.5), {}, {}, None),
    "stroke_only": (dict(blur=0.0), {}, {}, None),
    "blur_only": (dict(stroke_width=0.0), {}, {}, None),
    "rot05": (dict(rotation=0.05), {}, {}, None),
    "zoom15": (dict(zoom=0.15), {}, {}, None),
    "trans07": (dict(translation=0.07), {}, {}, None),
    "trans15": (dict(translation=0.15), {}, {}, None),
    "lr3e-3": ({}, {}, dict(learning_rate=3e-3), None),
    "lr6e-3": ({}, {}, dict(learning_rate=6e-3), None),
    "ls05": ({}, {}, dict(label_smoothing=0.05), None),
    "ls15": ({}, {}, dict(label_smoothing=0.15), None),
    "warm30": ({}, {}, dict(warmup_fraction=0.3), None),
    "bs128": ({}, {}, dict(batch_size=128), None),
    "bs512_lr6e-3": ({}, {}, dict(batch_size=512, learning_rate=6e-3), None),
    "e9": ({}, {}, dict(epochs=9), None),
    "e13": ({}, {}, dict(epochs=13), None),
    "drop0.2": ({}, dict(dropout_rates=(0.2,)), {}, None),
    "drop0.45": ({}, dict(dropout_rates=(0.45,)), {}, None),
    "dense256": ({}, dict(dense_units=(256,)), {}, None),
    "bnmom0.9": ({}, dict(bn_momentum=0.9), {}, None),
    "adamw0.01": ({}, {}, {}, 0.01),
    "adamw0.05": ({}, {}, {}, 0.05),
}


def widen(blocks):
    """The conv blocks with 1.5x the filters (a model override may be a function of the preset's value)."""
    return tuple(replace(block, filters=block.filters * 3 // 2) for block in blocks)


# Variants of `best`: epochs, augmentation, the default's settings, head, batch, width (BEST_SWEPT runs them).
BEST_V = {
    "control": ({}, {}, {}, None),
    "noHW": (dict(stroke_width=0.0, blur=0.0), {}, {}, None),
    "defaug": (dict(blur_factor=(1.0, 1.0)), dict(bn_momentum=0.9), dict(learning_rate=6e-3), None),
    "e45": ({}, {}, dict(epochs=45), None),
    "noHW_e45": (dict(stroke_width=0.0, blur=0.0), {}, dict(epochs=45), None),
    "e20": ({}, {}, dict(epochs=20), None),
    "ls0": ({}, {}, dict(label_smoothing=0.0), None),
    "dense256_d0.2": ({}, dict(dense_units=(256,), dropout_rates=(0.2,)), {}, None),
    "bs128": ({}, {}, dict(batch_size=128), None),
    "wide1.5": ({}, dict(conv_blocks=widen), {}, None),
}
BEST_SWEPT = {  # the two H100 runs of 2026-11-26, in turn (--best 1, --best 2)
    "1": ["control", "noHW", "defaug", "e45", "noHW_e45"],
    "2": ["e20", "ls0", "dense256_d0.2", "bs128", "wide1.5"],
}
VARIANTS = {"default": V, "best": BEST_V}  # the preset each table varies
SEEDS = (42, 43, 44, 45, 46, 47, 48, 49)
SWEPT = [  # the variants of the H200 run; the others in V were left out for time
    "control",
    "noHW",
    "halfHW",
    "lr6e-3",
    "ls05",
    "adamw0.05",
    "drop0.2",
    "dense256",
    "bnmom0.9",
    "trans15",
    "zoom15",
    "e13",
]


def run_job(args):
    name, seed, deadline, tiny, base = args
    if time.time() > deadline:
        return {"variant": name, "seed": seed, "skipped": True}
    import keras
    import numpy as np

    import digit_recog.modeling.cnn as model_module
    from digit_recog import augment
    from digit_recog.modeling import presets, train
    from lab.gpu_sweep.fast_geometry import FastGeometry

    def fast_layers(aug):
        handwriting = augment.augmentation_layers(replace(aug, rotation=0.0, zoom=0.0, translation=0.0))
        return [*handwriting, FastGeometry(aug.rotation, aug.zoom, aug.translation, name="fast_geometry")]

    model_module.augmentation_layers = fast_layers
    aug_o, model_o, train_o, weight_decay = VARIANTS[base][name]
    preset = presets.get_preset(base, seed=seed, **train_o)
    model_o = {
        key: value(getattr(preset.model, key)) if callable(value) else value for key, value in model_o.items()
    }
    model_config = replace(preset.model, augmentation=replace(preset.model.augmentation, **aug_o), **model_o)
    train_config = preset.train
    keras.optimizers.Adam = (
        functools.partial(keras.optimizers.AdamW, weight_decay=weight_decay)
        if weight_decay
        else ORIGINAL_ADAM
    )
    d = np.load(os.path.join(HERE, "sweep_data.npz"))  # written by make_data.py
    x, y, xv, yv = d["x_train"], d["y_train"], d["x_val"], d["y_val"]
    if tiny:
        x, y, xv, yv = x[:2048], y[:2048], xv[:512], yv[:512]
        train_config = replace(train_config, epochs=2)
    model = model_module.build_cnn(model_config, seed=seed)
    result = train.train_model(model, x, y, xv, yv, train_config, verbose=0)
    inference = model_module.inference_model(model)
    val = float((inference.predict(xv[..., None], batch_size=1000, verbose=0).argmax(1) == yv).mean())
    other = float(
        (
            inference.predict(d["x_other"][..., None], batch_size=1000, verbose=0).argmax(1) == d["y_other"]
        ).mean()
    )
    return {
        "variant": name,
        "seed": seed,
        "val_accuracy": val,
        "other_writers_accuracy": round(other, 4),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "seconds": round(result.train_seconds, 1),
        "val_accuracy_per_epoch": [round(v, 4) for v in result.history["val_accuracy"]],
        "train_accuracy_last": round(result.history["accuracy"][-1], 4),
        "optimizer": type(model.optimizer).__name__,
        "weight_decay": weight_decay,
    }


def _init():
    global ORIGINAL_ADAM
    import keras

    ORIGINAL_ADAM = keras.optimizers.Adam


def main():
    out_dir, workers, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    tiny = "--tiny" in sys.argv
    base = "best" if "--best" in sys.argv else "default"
    best_round = sys.argv[sys.argv.index("--best") + 1] if "--best" in sys.argv[:-1] else None
    if base == "best" and best_round not in BEST_SWEPT:
        sys.exit(f"--best needs a round: one of {', '.join(BEST_SWEPT)}")
    os.makedirs(out_dir, exist_ok=True)
    deadline = time.time() + budget

    variants = VARIANTS[base]
    names = list(variants)[:3] if tiny else (BEST_SWEPT[best_round] if base == "best" else SWEPT)
    todo = [(name, seed, deadline, tiny, base) for seed in (SEEDS[:1] if tiny else SEEDS) for name in names]
    path = os.path.join(out_dir, "sweep.jsonl")
    with mp.get_context("spawn").Pool(workers, initializer=_init) as pool, open(path, "w") as log:
        for result in pool.imap_unordered(run_job, todo):
            log.write(json.dumps(result) + "\n")
            log.flush()
            if not result.get("skipped"):
                print(
                    json.dumps(
                        {
                            k: result[k]
                            for k in ("variant", "seed", "val_accuracy", "other_writers_accuracy", "seconds")
                        }
                    ),
                    flush=True,
                )
    summarise(path, variants)


def summarise(path, variants=V):
    """Print each variant's mean validation accuracy, its mean difference from the control on the same
    seeds (points), and its mean accuracy on the other writers' digits."""
    import numpy as np

    with open(path) as lines:
        rows = [json.loads(line) for line in lines]
    rows = [r for r in rows if not r.get("skipped")]
    control = {r["seed"]: r["val_accuracy"] for r in rows if r["variant"] == "control"}
    for name in variants:
        mine = [r for r in rows if r["variant"] == name]
        if not mine:
            continue
        acc = [r["val_accuracy"] for r in mine]
        paired = [r["val_accuracy"] - control[r["seed"]] for r in mine if r["seed"] in control]
        other = [r["other_writers_accuracy"] for r in mine]
        paired_points = np.mean(paired) * 100 if paired else float("nan")
        print(
            f"{name:14s} n={len(acc)} val={np.mean(acc):.4%} paired_diff={paired_points:+.3f} "
            f"other={np.mean(other):.2%} secs={np.mean([r['seconds'] for r in mine]):.1f}"
        )


if __name__ == "__main__":
    main()
