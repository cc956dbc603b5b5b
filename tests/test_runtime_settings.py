"""The package turns on TensorFlow's oneDNN kernels unless told otherwise (see digit_recog/__init__.py)."""

import os
import subprocess
import sys

import pytest

PROBE = (
    "import os, digit_recog, tensorflow\n"
    "from tensorflow.python.util import _pywrap_util_port as port\n"
    "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())"
)


@pytest.mark.parametrize(("given", "expected"), [(None, "1 True"), ("0", "0 False")])
def test_onednn_is_on_unless_the_environment_says_otherwise(given, expected):
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.split("\n")[-2] == expected
