"""The package turns on TensorFlow's oneDNN kernels unless told otherwise (see digit_recog/__init__.py)."""

import os
import platform
import subprocess
import sys

import pytest

PROBE = (
    "import os, digit_recog, tensorflow\n"
    "from tensorflow.python.util import _pywrap_util_port as port\n"
    "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())"
)
# TensorFlow's x86-64 builds carry oneDNN; elsewhere (Apple silicon, say) the setting is only passed on.
HAS_ONEDNN = platform.machine().lower() in ("x86_64", "amd64")


@pytest.mark.parametrize(("given", "setting", "enabled"), [(None, "1", True), ("0", "0", False)])
def test_onednn_is_on_unless_the_environment_says_otherwise(given, setting, enabled):
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    seen_setting, seen_enabled = probe.stdout.split("\n")[-2].split()
    assert seen_setting == setting
    if HAS_ONEDNN:
        assert seen_enabled == str(enabled)
