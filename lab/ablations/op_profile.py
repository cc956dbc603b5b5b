"""Where a training epoch's time goes, op by op: one epoch of a preset's model under TensorFlow's profiler.

Trains ``PRESET`` (default: ``default``) for two epochs on 20,480 training images (no validation pass) and
traces the second with ``tf.profiler``. The trace's TensorFlow ops are summed over the executor threads by
layer, by op type and by both: seconds of thread time, so up to twice the wall clock on two cores. Run it
with ``TF_ENABLE_ONEDNN_OPTS=0`` and ``=1`` to compare TensorFlow's own kernels with oneDNN's. This script
loads TensorFlow before the package, so unset means TensorFlow's own default; the report says which ran.
Prints JSON:

    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python -m lab.ablations.op_profile default \
        > lab/reports/op_profile_eigen.json
    TF_ENABLE_ONEDNN_OPTS=1 .venv/bin/python -m lab.ablations.op_profile default \
        > lab/reports/op_profile_onednn.json
"""

import collections
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.presets import PRESETS
from lab.perf_probe import probe_images

TOP = 20


class TraceSecondEpoch(keras.callbacks.Callback):
    """Run the profiler over the second epoch only (the first compiles) and time it."""

    def __init__(self, logdir: str):
        super().__init__()
        self.logdir, self.seconds = logdir, None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.started = time.perf_counter()
            tf.profiler.experimental.start(self.logdir)

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            tf.profiler.experimental.stop()
            self.seconds = time.perf_counter() - self.started


def op_seconds(logdir: str) -> collections.Counter:
    """Thread seconds per (layer, op type) of the model's ops in the trace under ``logdir``."""
    space = xplane_pb2.XSpace()
    space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    seconds = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or "StatefulPartitionedCall" not in name:
                    continue
                path, op_type = name.rsplit(":", 1)
                layer = re.sub(r"StatefulPartitionedCall/|digit_recog_cnn\w*/|gradient_tape/", "", path)
                seconds[layer.split("/")[0], op_type] += event.duration_ps / 1e12
    return seconds


def main(preset_name: str) -> dict:
    preset = PRESETS[preset_name]
    images, labels = probe_images(20_480, 42)
    model = build_cnn(preset.model, seed=42)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    with tempfile.TemporaryDirectory() as logdir:
        tracer, targets = TraceSecondEpoch(logdir), keras.utils.to_categorical(labels, 10)
        fit = {"batch_size": preset.train.batch_size, "epochs": 2, "callbacks": [tracer], "verbose": 0}
        model.fit(images, targets, **fit)
        seconds = op_seconds(logdir)
    total = sum(seconds.values())
    by_type, by_layer = collections.Counter(), collections.Counter()
    for (layer, op_type), value in seconds.items():
        by_type[op_type] += value
        by_layer[layer] += value
    return {
        "preset": preset_name,
        "onednn": _pywrap_util_port.IsMklEnabled(),
        "images": len(images),
        "epoch_wall_seconds_traced": round(tracer.seconds, 2),
        "op_thread_seconds": round(total, 2),
        "top_ops": [[layer, op, round(value, 3)] for (layer, op), value in seconds.most_common(TOP)],
        "by_op_type": {op: round(value, 3) for op, value in by_type.most_common(TOP)},
        "by_layer": {layer: round(value, 3) for layer, value in by_layer.most_common()},
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1] not in PRESETS):
        sys.exit(f"usage: {sys.argv[0]} [PRESET]  (one of {', '.join(PRESETS)}; default: default)")
    print(json.dumps(main(sys.argv[1] if len(sys.argv) == 2 else "default"), indent=2))
