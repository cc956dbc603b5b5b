"""How long one request to ``POST /api/predict`` takes in process: a 280x280 PNG drawing, one at a time.

The app is built with ``create_app`` and driven by FastAPI's ``TestClient`` (no network, no uvicorn), with
each runtime available (Keras always; ONNX Runtime when ``make export`` has written the ONNX model), the
runtimes taking turns request by request so that a busy machine slows them alike. Writes
``lab/reports/request_latency.json``:

    python -m lab.request_latency [REQUESTS]
"""

import io
import json
import sys
import time

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from digit_recog import config
from digit_recog.artifacts import write_json
from digit_recog.machine import machine_info
from digit_recog.reading.runtimes import exported_reader
from digit_recog.web.app import create_app
from lab import paths

GOAL_P50_MS = 3.0


def drawing() -> bytes:
    """A 7 drawn in black on a white 280x280 canvas, as the page sends it, as PNG bytes."""
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(70, 50), (210, 50), (118, 238)], fill=0, width=22, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def measure(requests: int) -> dict:
    """Latencies in ms of ``requests`` requests per runtime, the runtimes taking turns."""
    runtimes = ["keras"] + (["onnx"] if exported_reader(config.MODEL_PATH, "onnx") is not None else [])
    body = drawing()
    clients = {name: TestClient(create_app(runtime=name)) for name in runtimes}
    latencies = {name: [] for name in runtimes}
    for client in clients.values():
        client.__enter__()  # runs the app's start-up: the model is loaded and warmed up
    try:
        for _ in range(requests + 10):
            for name, client in clients.items():
                started = time.perf_counter()
                response = client.post("/api/predict", files={"image": ("seven.png", body, "image/png")})
                latencies[name].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or response.json()["digit"] != 7:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
    return {name: _summary(values[10:]) for name, values in latencies.items()}  # the first ten warm up


def _summary(values: list[float]) -> dict:
    return {
        "requests": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "goal_p50_ms": GOAL_P50_MS,
        "goal_met": bool(np.percentile(values, 50) <= GOAL_P50_MS),
    }


def main(argv: list[str]) -> dict:
    requests = int(argv[0]) if argv else 300
    report = {"runtimes": measure(requests), "machine": machine_info()}
    write_json(report, paths.REPORTS_DIR / "request_latency.json")
    print(json.dumps(report["runtimes"], indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
