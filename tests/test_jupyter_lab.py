"""`make lab` starts JupyterLab on the project, open at notebooks/, with the project's kernel, even when its
port is taken; its file browser reaches the folders the notebooks write (runs/, figures/, reports/)."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from digit_recog import config

START_SECONDS = 90


@pytest.mark.slow
def test_make_lab_starts_on_the_next_free_port_with_the_project_kernel(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        log_path = tmp_path / "lab.log"
        env = os.environ | {
            "JUPYTER_TOKEN": "test-token",
            "BROWSER": "true",
            "JUPYTER_RUNTIME_DIR": str(tmp_path),
        }
        with open(log_path, "w") as log:
            lab = subprocess.Popen(
                ["make", "--no-print-directory", "lab", f"LAB_PORT={port}"],
                cwd=config.PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            url = _wait_for_url(log_path, lab)
            served_port = int(re.search(r":(\d+)/", url).group(1))
            assert served_port != port  # the busy port was skipped, not fatal
            status = _get(f"http://127.0.0.1:{served_port}/api/status?token=test-token")
            root = _get(f"http://127.0.0.1:{served_port}/api/contents?token=test-token")
            contents = _get(f"http://127.0.0.1:{served_port}/api/contents/notebooks?token=test-token")
            specs = _get(f"http://127.0.0.1:{served_port}/api/kernelspecs?token=test-token")
        finally:
            _stop(lab)
    assert "started" in status
    assert "/lab/tree/notebooks" in url  # opens at the notebooks
    assert {"notebooks", "figures", "reports", "models"} <= {item["name"] for item in root["content"]}
    assert {"01_explore.ipynb", "03_train.ipynb"} <= {item["name"] for item in contents["content"]}
    kernel = specs["kernelspecs"][specs["default"]]["spec"]
    assert kernel["language"] == "python"
    # the default kernel runs the interpreter JupyterLab runs on: the project's .venv
    assert kernel["argv"][0] == "python" or ".venv" in kernel["argv"][0]


def _wait_for_url(log_path, process) -> str:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"http://(?:localhost|127\.0\.0\.1):\d+/lab\S*", log_path.read_text())
        if found:
            return found.group(0)
        if process.poll() is not None:
            pytest.fail(f"make lab exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not start within {START_SECONDS} s:\n{log_path.read_text()[-3000:]}")


def _stop(process) -> None:
    """SIGTERM the lab's process group; SIGKILL it if a busy machine keeps its shutdown from finishing."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
