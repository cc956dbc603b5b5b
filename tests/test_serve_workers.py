"""Serving with the fastest runtime, and with several worker processes each building the app itself."""

import os
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from fastapi.testclient import TestClient

from digit_images import SHIPPED_MODEL, draw_digit, encode, needs_shipped_model
from digit_recog.web.app import app_from_environment
from test_browser import _free_port

SERVER_START_SECONDS = 180  # two workers importing TensorFlow at once on a busy two-core machine


@needs_shipped_model
def test_app_from_environment_serves_the_model_it_names(onnx_model, monkeypatch):
    monkeypatch.setenv("DIGIT_RECOG_MODEL", str(onnx_model))
    monkeypatch.setenv("DIGIT_RECOG_RUNTIME", "auto")
    with TestClient(app_from_environment()) as client:
        health = client.get("/health").json()
        assert health["model"] == "model.onnx" and health["runtime"] == "onnxruntime"
        response = client.post(
            "/api/predict", files={"image": ("7.png", encode(draw_digit("7")), "image/png")}
        )
    assert response.status_code == 200 and response.json()["digit"] == 7


@needs_shipped_model
def test_keras_runtime_when_asked(monkeypatch):
    monkeypatch.setenv("DIGIT_RECOG_MODEL", str(SHIPPED_MODEL))
    monkeypatch.setenv("DIGIT_RECOG_RUNTIME", "keras")
    with TestClient(app_from_environment()) as client:
        assert client.get("/health").json()["runtime"] == "keras"


@pytest.mark.slow
@needs_shipped_model
def test_serve_with_two_workers(onnx_model, tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "digit_recog.cli", "serve", "--port", str(port), "--workers", "2"]
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [*command, "--model", str(onnx_model)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert b'"runtime":"onnxruntime"' in response.read()
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the server did not start:\n{log_path.read_text()}")
        # Both workers come up, each with its own process.
        while time.monotonic() < deadline and log_path.read_text().count("Application startup complete") < 2:
            time.sleep(0.5)
        assert log_path.read_text().count("Application startup complete") == 2
        assert_workers_guarded(("127.0.0.1", port))
    finally:
        stop_tree(psutil.Process(server.pid))
    assert os.environ.get("DIGIT_RECOG_MODEL") is None  # the parent test process is left as it was


SUPERVISOR_RSS_LIMIT = (
    250e6  # measured: 82 MB (Python, NumPy, Pillow, uvicorn); 680 MB when it loaded the model
)


def test_the_supervisor_of_several_workers_loads_no_model(tmp_path):
    """``serve --workers 2`` checks the model in a process of its own: the supervising process, which only
    hands connections to the workers, never holds a model (nor TensorFlow)."""
    from digit_images import untrained_model_file

    model_path = untrained_model_file(tmp_path)
    port = _free_port()
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "digit_recog.cli", "serve", "--port", str(port), "--workers", "2"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [*command, "--model", str(model_path)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        supervisor = psutil.Process(server.pid)
        deadline = time.monotonic() + SERVER_START_SECONDS
        # "serving on" comes once the model is checked; the workers are started right after it.
        while "serving on" not in log_path.read_text() or len(supervisor.children()) < 2:
            assert time.monotonic() < deadline and server.poll() is None, log_path.read_text()
            time.sleep(0.2)
        time.sleep(1)
        rss = supervisor.memory_info().rss
        assert rss < SUPERVISOR_RSS_LIMIT, f"the supervisor holds {rss / 1e6:.0f} MB"
        assert "Started parent process" in log_path.read_text()
    finally:
        stop_tree(supervisor)


def stop_tree(supervisor) -> None:
    """Stop a server and its workers; those still importing TensorFlow may not hear SIGTERM for a while."""
    workers = supervisor.children(recursive=True)
    supervisor.terminate()
    _, alive = psutil.wait_procs([supervisor, *workers], timeout=20)
    for process in alive:
        process.kill()
    psutil.wait_procs(alive, timeout=10)


def assert_workers_guarded(address) -> None:
    """The workers apply the default guards: an idle connection closed after the headers' deadline, a
    doubly framed body answered 400, another site's page answered 403."""
    from digit_recog.web.server import ServerLimits
    from test_web_server import exchange, predict_head

    started = time.monotonic()
    assert exchange(address, b"", wait_s=ServerLimits().headers_s + 5) == b""
    assert ServerLimits().headers_s - 0.5 < time.monotonic() - started < ServerLimits().headers_s + 3
    framing = "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"
    assert exchange(address, predict_head(0, framing=framing, extra="") + b"0\r\n\r\n").startswith(
        b"HTTP/1.1 400"
    )
    cross_site = predict_head(10, extra="Origin: http://evil.example\r\n")
    assert exchange(address, cross_site).startswith(b"HTTP/1.1 403")


def test_several_workers_refuse_a_bad_model_before_serving(tmp_path, capfd, monkeypatch):
    """The supervisor checks the model in a process of its own, and still says what is wrong with it."""
    import uvicorn

    from digit_recog import cli

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("the server was started"))
    bad_model = tmp_path / "bad.keras"
    bad_model.write_text("not a model")
    assert cli.main(["serve", "--workers", "2", "--model", str(bad_model), "--port", "0"]) == 2
    error = capfd.readouterr().err
    assert "bad.keras could not be loaded as a Keras model" in error and "serving on" not in error
