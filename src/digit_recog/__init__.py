"""digit-recog: handwritten digit recognition on MNIST with a Keras CNN."""

import os

# TensorFlow turns on its oneDNN kernels by itself only on CPUs with AVX-512 (VNNI, BF16, AMX); on an
# AVX2-only CPU they took about 30% off the CPU time of a training epoch (lab/ablations/onednn_epoch_cost.py,
# docs/performance.md). It takes effect only if set before TensorFlow loads; a value already in the
# environment wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ info and warning lines (the CPU-instruction notice...) off a live session's first cell, as
# `make` and the CLI already do.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The notices TensorFlow writes while it loads, before its logging starts (absl's, oneDNN's), escape that
# setting: the first import of TensorFlow, wherever in the package it happens, holds stderr back and writes
# all but them again (digit_recog/quiet_tf.py). Here, so that it comes before any module imports Keras.
from digit_recog import quiet_tf  # noqa: E402

quiet_tf.install()

__version__ = "0.2.0"
