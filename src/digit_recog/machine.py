"""What machine a number was measured on: platform, CPU and its vector units, cores, GPUs, libraries.

Training runs, the benchmark and the probes record it beside their results, since the same code trains at
different speeds, and to slightly different weights, on different CPUs and kernels.
"""

import os
import platform
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

# Vector instruction sets, narrowest first, as /proc/cpuinfo names them; oneDNN picks kernels by them.
VECTOR_FEATURES = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_ENABLE_ONEDNN_OPTS",
)


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else what ``platform`` knows."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


def cpu_features(cpuinfo_flags: str | None = None) -> list[str]:
    """The vector instruction sets TensorFlow's CPU kernels use that this CPU has, e.g. ``["avx2", "fma"]``.

    Two CPUs reported under the same model name can differ here, and so does training speed on them
    (docs/performance.md compares an AVX2-only machine with an AVX-512 one).
    ``cpuinfo_flags`` is the ``flags`` line of ``/proc/cpuinfo``, read from there when not given.
    """
    flags = set((cpuinfo_flags if cpuinfo_flags is not None else _cpuinfo_field("flags") or "").split())
    return [feature for feature in VECTOR_FEATURES if feature in flags]


def widest_vector_unit(features: list[str]) -> str:
    """The widest vector instruction set in ``features``, named as vendors write it ("AVX-512", "AVX2")."""
    for feature, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")):
        if feature in features:
            return label
    return "no AVX"


def _cpuinfo_field(name: str) -> str | None:
    """The value of the first ``name`` line of ``/proc/cpuinfo``; None where there is no such file or line."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == name:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """Where the numbers come from: platform, CPU, cores, library versions and thread settings."""
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_features": cpu_features(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
        "threads": {
            # 0 means TensorFlow picks (one thread per usable core).
            "intra_op_parallelism": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_parallelism": tf.config.threading.get_inter_op_parallelism_threads(),
            "environment": {name: os.environ[name] for name in THREAD_ENV_VARS if name in os.environ},
        },
    }
