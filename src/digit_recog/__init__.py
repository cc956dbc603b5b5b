"""digit-recog: handwritten digit recognition on MNIST with a Keras CNN."""

import os

# TensorFlow turns on its oneDNN kernels by itself only on CPUs with AVX-512 (VNNI, BF16, AMX); on an
# AVX2-only CPU they took about 30% off the CPU time of a training epoch (lab/ablations/onednn_epoch_cost.py,
# docs/performance.md). It takes effect only if set before TensorFlow loads; a value already in the
# environment wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ info and warning lines (the CPU-instruction notice...) off a live session's first cell, as
# `make` and the CLI already do. The oneDNN notice is logged before absl's logging starts and escapes anyway.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.2.0"
