"""Serving with the fastest runtime, and with several worker processes each building the app itself."""

import os
import subprocess
import sys
import time
import urllib.request

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
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert os.environ.get("DIGIT_RECOG_MODEL") is None  # the parent test process is left as it was
