"""Each runtime reads one picture on one thread when serving: concurrent requests do not fight over cores."""

import os
import subprocess
import sys

import numpy as np
import pytest

from digit_recog.reading import runtimes


def test_onnx_runtime_serves_on_one_thread_without_spinning(onnx_model):
    options = runtimes.load_exported_model(onnx_model).session.get_session_options()
    assert options.intra_op_num_threads == runtimes.SERVING_THREADS == 1
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_onnx_runtime_keeps_its_default_threads_when_asked(onnx_model):
    reader = runtimes.load_exported_model(onnx_model, threads=None)
    assert reader.session.get_session_options().intra_op_num_threads == 0  # 0: one per core
    assert reader.predict(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 10)


def test_litert_is_given_the_serving_threads(tmp_path, monkeypatch):
    from ai_edge_litert import interpreter

    seen = {}

    class Recording:
        def __init__(self, model_path, num_threads=None):
            seen["num_threads"] = num_threads
            raise ValueError("stop here")

    monkeypatch.setattr(interpreter, "Interpreter", Recording)
    path = tmp_path / "model.tflite"
    path.write_bytes(b"not read")
    with pytest.raises(runtimes.ExportedModelError):
        runtimes.LiteRTModel(path)
    assert seen == {"num_threads": runtimes.SERVING_THREADS}


PROBE = (
    "import tensorflow as tf\n"
    "from digit_recog.reading import runtimes\n"
    "first = runtimes.limit_tensorflow_threads()\n"
    "tf.constant(1.0) + 1.0\n"
    "again = runtimes.limit_tensorflow_threads(2)\n"
    "print(first, again, tf.config.threading.get_intra_op_parallelism_threads(),\n"
    "      tf.config.threading.get_inter_op_parallelism_threads())\n"
)


def test_tensorflow_threads_are_limited_before_it_starts_and_left_alone_after():
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert probe.stdout.split() == ["True", "False", "1", "1"]
