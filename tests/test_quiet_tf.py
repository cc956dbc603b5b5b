"""TensorFlow's start-up notices (absl's, oneDNN's) never reach a live session's first cell or a command's
stderr, and whatever else is written to stderr while TensorFlow loads still is (digit_recog/quiet_tf.py)."""

import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from digit_recog import config, quiet_tf

ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN_NOTICE = (
    "I0000 00:00:1796234163.706999   20143 port.cc:153] oneDNN custom operations are on. You may see "
    "slightly different numerical results due to floating-point round-off errors from different "
    "computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`."
)
REAL_ERROR = "E0000 00:00:1796234163.706999   20143 something.cc:12] a real error"
# A stand-in for TensorFlow: writes to descriptor 2 what TensorFlow's libraries write as they load, and more.
FAKE_TENSORFLOW = f"""
import os, sys
sys.stderr.write("a Python warning while loading\\n")
os.write(2, {(ABSL_NOTICE + chr(10) + ONEDNN_NOTICE + chr(10) + REAL_ERROR + chr(10)).encode()!r})
os.write(2, {(ABSL_NOTICE + chr(10) + ONEDNN_NOTICE + chr(10)).encode()!r})
"""
STARTUP_LINE_MARKERS = ("absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard")


def test_only_the_startup_notices_are_dropped():
    text = f"{ABSL_NOTICE}\n{ONEDNN_NOTICE}\n{REAL_ERROR}\nTraceback (most recent call last):\r\n".encode()
    assert (
        quiet_tf.drop_startup_notices(text)
        == f"{REAL_ERROR}\nTraceback (most recent call last):\r\n".encode()
    )
    assert quiet_tf.drop_startup_notices(b"no newline at the end") == b"no newline at the end"


def _import_fake_tensorflow(tmp_path, level: str | None, then: str = "") -> subprocess.CompletedProcess:
    package = tmp_path / "tensorflow"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(FAKE_TENSORFLOW)
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(config.PROJECT_ROOT / "src")])
    code = f"import os, digit_recog, tensorflow\nos.write(2, b'after the import\\n')\n{then}"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)


def test_the_first_import_of_tensorflow_drops_the_notices_and_gives_back_everything_else(tmp_path):
    seen = _import_fake_tensorflow(
        tmp_path, level=None, then="import tensorflow as tf\nprint(type(tf.__loader__).__name__)"
    )
    assert seen.stderr == f"a Python warning while loading\n{REAL_ERROR}\nafter the import\n"
    assert seen.stdout.strip() == "SourceFileLoader"  # the module keeps its real loader


def test_with_info_logs_asked_for_the_notices_stay(tmp_path):
    seen = _import_fake_tensorflow(tmp_path, level="0")
    assert seen.stderr.count(ABSL_NOTICE) == 2
    assert seen.stderr.count("oneDNN custom operations are on") == 2


def test_an_import_that_raises_still_gives_its_stderr_back(tmp_path):
    package = tmp_path / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"import os\nos.write(2, {(ABSL_NOTICE + chr(10)).encode()!r} + b'on the way down\\n')\n"
        "raise ImportError('no')"
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(config.PROJECT_ROOT / "src")])}
    code = (
        "import os, digit_recog\ntry:\n    import tensorflow\nexcept ImportError:\n"
        "    os.write(2, b'caught\\n')"
    )
    seen = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert seen.stderr == "on the way down\ncaught\n"


@pytest.mark.slow
def test_a_live_sessions_first_cell_shows_no_tensorflow_startup_lines(tmp_path):
    """A Jupyter kernel, as JupyterLab starts one (no TF_CPP_MIN_LOG_LEVEL from make), imports the package."""
    # ipykernel sends what is written to descriptor 2 to the cell, as in JupyterLab, only outside pytest: it
    # stops when PYTEST_CURRENT_TEST is set, and the notices would miss the cell whatever the package did.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTEST_CURRENT_TEST", "TF_CPP_MIN_LOG_LEVEL")
    }
    env["DIGIT_RECOG_OUTPUT_DIR"] = str(tmp_path)
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import digit_recog.modeling.train\nimport keras\nprint(keras.__version__)"
            ),
            nbformat.v4.new_code_cell("import os\nos.write(2, b'stderr still reaches the cell\\n')"),
        ]
    )
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute(env=env)
    first, second = (cell.outputs for cell in notebook.cells)
    first_text = "".join(output.get("text", "") for output in first)
    assert not any(marker in first_text for marker in STARTUP_LINE_MARKERS), first_text
    assert [output.get("name") for output in first] == ["stdout"]  # the version, and nothing on stderr
    assert "stderr still reaches the cell" in "".join(output.get("text", "") for output in second)
