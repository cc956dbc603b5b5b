"""What reading one picture costs, step by step, in CPU ms per call, and which runtime is fastest here.

Three parts, one JSON report (``lab/reports/reading_benchmark.json``) and a section of ``docs/deployment.md``:

- **Preprocessing**, before and after, in the same run: the frozen copy of the old preprocessing
  (``tests/reference_preprocess.py``) against ``digit_recog.reading.image``, per kind of picture of
  :mod:`lab.reading_corpus`, for the ink cleaning, the MNIST layout and the whole ``preprocess_array``; and
  ``preprocess_image`` on the drawing page's 7 (decoding included), as a grey PNG and as the browser uploads
  it (an RGBA PNG, every pixel opaque).
- **The request path** for the browser's PNG: the multipart upload parsed by Starlette, decoding,
  preprocessing, the model, the JSON body and its 28x28 preview PNG, and the whole request through FastAPI's
  ``TestClient``; then the same drawing sent as the page sends it, with its 28x28 layout beside it, which the
  server checks and reads instead of decoding and cleaning the picture.
- **Runtimes**: Keras, ONNX Runtime and LiteRT (those installed; the exports are written to a temporary
  folder), each with :data:`digit_recog.reading.runtimes.SERVING_THREADS` and with its default threads, one
  picture a call: CPU ms per call with one caller and with several callers at once (threads), and reads/s.
  The fastest under concurrent callers is named, and whether ``runtime="auto"`` would pick it.

CPU time (``time.process_time``, every thread of the process) is what two shared cores run out of; it is far
steadier than wall time on a busy machine. One and a half to three minutes on two shared cores:

    python -m lab.reading_benchmark            # the report and the docs section
    python -m lab.reading_benchmark --smoke    # seconds: one picture a kind, a few calls, Keras only
"""

import argparse
import asyncio
import importlib.util
import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.requests import Request

from digit_recog import config
from digit_recog.artifacts import write_json
from digit_recog.machine import machine_info
from digit_recog.reading import image, runtimes
from digit_recog.reading.decoding import decode, to_grayscale
from digit_recog.reading.layout import checked_layout
from digit_recog.reading.predict import load_trained_model, predict_digits, read_digit
from digit_recog.web.app import create_app, png_data_url, reading_response
from lab import paths, readme_blocks
from lab.load_test import tree_cpu_s
from lab.reading_corpus import corpus, page_canvas_png, page_drawing_png

READING_BENCHMARK_PATH = paths.REPORTS_DIR / "reading_benchmark.json"
DEPLOYMENT_DOC = config.PROJECT_ROOT / "docs" / "deployment.md"
SECTION_START, SECTION_END = "<!-- reading-benchmark:start -->", "<!-- reading-benchmark:end -->"
REFERENCE_PATH = config.PROJECT_ROOT / "tests" / "reference_preprocess.py"
GOALS_MS = {
    "preprocess_image, 280x280 drawing": 1.0,
    "preprocess_array, 1 MP photo": 5.0,
    "request": 2.0,
    "request with the page's layout": 2.0,
}
CONCURRENT_CALLERS = (2, 4)
# Runtimes closer than this in CPU per reading are equally fast: a twentieth of a request, and within what
# runs of this benchmark on a shared machine differ by.
TIE_MS = 0.1


def reference_preprocessing():
    """The frozen old preprocessing, loaded from the test tree (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("reference_preprocess", REFERENCE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_ms(
    function: Callable[[], object], calls: int, clock: Callable[[], float] = time.process_time
) -> float:
    """CPU milliseconds per call of ``function`` by ``clock`` (every thread of this process unless told),
    after one call to warm up."""
    function()
    started = clock()
    for _ in range(calls):
        function()
    return round((clock() - started) * 1000 / calls, 3)


def process_tree_cpu_s() -> float:
    """CPU seconds of this process and of its child processes (the server's decoding workers), so far."""
    return tree_cpu_s(psutil.Process())


def _refused(step: Callable, *args) -> Callable[[], object]:
    """``step(*args)`` as a call that takes a refusal (no digit) as its answer."""

    def call():
        try:
            return step(*args)
        except image.NoDigitFoundError:
            return None

    return call


def preprocessing_figures(per_kind: int, calls: int) -> dict:
    """CPU ms per picture of each step, before (the reference) and after, for each kind of picture."""
    old = reference_preprocessing()
    figures = {}
    for kind, pictures in corpus(per_kind).items():
        steps = {"ink": [0.0, 0.0], "layout": [0.0, 0.0], "preprocess_array": [0.0, 0.0]}
        for pixels in pictures:
            steps["preprocess_array"][0] += cpu_ms(_refused(old.preprocess_array, pixels), calls)
            steps["preprocess_array"][1] += cpu_ms(_refused(image.preprocess_array, pixels), calls)
            steps["ink"][0] += cpu_ms(_refused(old.ink_image, pixels), calls)
            steps["ink"][1] += cpu_ms(_refused(image._clean_ink, pixels), calls)
            try:
                old_ink, new_ink = old.ink_image(pixels), image._clean_ink(pixels)
            except image.NoDigitFoundError:
                continue
            steps["layout"][0] += cpu_ms(lambda ink=old_ink: old.to_mnist_layout(ink), calls)
            steps["layout"][1] += cpu_ms(lambda ink=new_ink: image._window_to_mnist_layout(ink), calls)
        figures[kind] = {
            "pictures": len(pictures),
            "size": f"{pictures[0].shape[1]}x{pictures[0].shape[0]}",
            **{
                step: {
                    "before_ms": round(before / len(pictures), 3),
                    "after_ms": round(after / len(pictures), 3),
                }
                for step, (before, after) in steps.items()
            },
        }
    png = page_drawing_png()
    figures["preprocess_image, 280x280 drawing"] = {
        "before_ms": cpu_ms(lambda: old.preprocess_array(to_grayscale(decode(png, "drawing")[0])), calls * 4),
        "after_ms": cpu_ms(lambda: image.preprocess_image(png), calls * 4),
    }
    canvas = page_canvas_png()
    figures["preprocess_image, 280x280 canvas"] = {
        "before_ms": cpu_ms(
            lambda: old.preprocess_array(to_grayscale(decode(canvas, "canvas")[0])), calls * 4
        ),
        "after_ms": cpu_ms(lambda: image.preprocess_image(canvas), calls * 4),
    }
    return figures


def request_figures(model, calls: int) -> dict:
    """CPU ms per request of each step of ``POST /api/predict`` for the page's drawing as the browser uploads
    it (an RGBA PNG), and of the whole; then the same request with the 28x28 layout the page sends beside it
    (``layout:`` rows), which the server checks and reads instead of the picture."""
    png = page_canvas_png()
    body, content_type = _multipart(png)
    gray = to_grayscale(decode(png, "drawing")[0], levels=True)  # as preprocess_image reads it
    digit_input = image.preprocess_array(gray)
    layout = digit_input.tobytes()
    with_layout, layout_content_type = _multipart(png, layout)
    reading = read_digit(model, png)
    loop = asyncio.new_event_loop()
    steps = {
        "upload parsing": cpu_ms(lambda: loop.run_until_complete(_parse_upload(body, content_type)), calls),
        "decoding": cpu_ms(lambda: to_grayscale(decode(png, "drawing")[0], levels=True), calls),
        "preprocessing": cpu_ms(lambda: image.preprocess_array(gray), calls),
        "model": cpu_ms(lambda: predict_digits(model, digit_input), calls),
        "preview PNG": cpu_ms(lambda: png_data_url(reading.image), calls),
        "JSON body": cpu_ms(lambda: JSONResponse(jsonable_encoder(reading_response(reading))).body, calls),
    }
    steps["layout: upload parsing (picture and layout)"] = cpu_ms(
        lambda: loop.run_until_complete(_parse_upload(with_layout, layout_content_type)), calls
    )
    steps["layout: checks"] = cpu_ms(lambda: checked_layout(layout), calls)
    loop.close()
    with TestClient(create_app(model=model)) as client:
        files = {"image": ("seven.png", png, "image/png")}
        steps["whole request (TestClient, client side and decoding worker included)"] = cpu_ms(
            lambda: client.post("/api/predict", files=files), calls, process_tree_cpu_s
        )
        files_with_layout = {**files, "layout": ("layout.raw", layout, "application/octet-stream")}
        if client.post("/api/predict", files=files_with_layout).json()["read_from"] != "layout":
            raise RuntimeError("the server did not read the page's layout of the drawing")
        steps["layout: whole request (TestClient, client side and decoding worker included)"] = cpu_ms(
            lambda: client.post("/api/predict", files=files_with_layout), calls, process_tree_cpu_s
        )
    steps["sum of the steps"] = round(sum(steps[name] for name in PICTURE_STEPS), 3)
    steps["layout: sum of the steps"] = round(sum(steps[name] for name in LAYOUT_STEPS), 3)
    return steps


PICTURE_STEPS = ("upload parsing", "decoding", "preprocessing", "model", "preview PNG", "JSON body")
LAYOUT_STEPS = (
    "layout: upload parsing (picture and layout)",
    "layout: checks",
    "model",
    "preview PNG",
    "JSON body",
)


def _multipart(content: bytes, layout: bytes | None = None) -> tuple[bytes, str]:
    boundary = "readingbenchmarkboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="seven.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
    )
    if layout is not None:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="layout"; filename="layout.raw"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + layout
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def _parse_upload(body: bytes, content_type: str) -> bytes:
    """What the app does before decoding: Starlette parses the form and the files are read."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    request = Request({"type": "http", "method": "POST", "path": "/api/predict", "headers": headers}, receive)
    form = await request.form()
    content = await form["image"].read()
    if "layout" in form:
        await form["layout"].read()
    await form.close()
    return content


def runtime_models(model, folder: Path, exports: bool) -> dict:
    """The shipped model read by each installed runtime, with serving and with default threads."""
    models = {"keras": model}
    if not exports:
        return models
    from digit_recog.modeling.export import export_model

    for name, suffix in (("onnx", ".onnx"), ("litert", ".tflite")):
        try:
            path = export_model(model, name, folder / f"model{suffix}")
            for threads, label in ((runtimes.SERVING_THREADS, "serving threads"), (None, "default threads")):
                models[f"{name}, {label}"] = runtimes.load_exported_model(path, threads)
        except ImportError:  # that runtime or its exporter is not installed
            continue
    return models


def runtime_figures(models: dict, picture: np.ndarray, calls: int) -> dict:
    """CPU ms per call and reads/s of each runtime, with one caller and with several at once."""
    figures = {}
    for name, model in models.items():
        read = lambda picture, model=model: predict_digits(model, picture)  # noqa: E731
        row = {"one caller": {"cpu_ms": cpu_ms(lambda read=read: read(picture), calls)}}
        for callers in CONCURRENT_CALLERS:
            row[f"{callers} callers"] = _concurrent(read, picture, callers, calls)
        figures[name] = row
    return figures


def _concurrent(read: Callable, picture: np.ndarray, callers: int, calls: int) -> dict:
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(lambda _: read(picture), range(callers)))  # warm up every thread
        started_cpu, started = time.process_time(), time.perf_counter()
        list(pool.map(lambda _: [read(picture) for _ in range(calls)], range(callers)))
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    total = callers * calls
    return {"cpu_ms": round(cpu * 1000 / total, 3), "reads_per_s": round(total / wall, 1)}


def fastest(figures: dict) -> str:
    """The runtime with the least CPU per call under the most concurrent callers (serving threads only)."""
    candidates = {name: row for name, row in figures.items() if "default threads" not in name}
    return min(candidates, key=lambda name: _busiest_cpu_ms(candidates[name]))


def auto_choice(figures: dict) -> dict:
    """What ``runtime="auto"`` reads with once the exports are in place, and whether it is as fast as the
    fastest: within :data:`TIE_MS` per reading."""
    chosen = "onnx, serving threads" if "onnx, serving threads" in figures else "keras"
    best = fastest(figures)
    lag = _busiest_cpu_ms(figures[chosen]) - _busiest_cpu_ms(figures[best])
    return {"runtime": chosen, "cpu_ms_behind_the_fastest": round(lag, 3), "as_fast": lag <= TIE_MS}


def _busiest_cpu_ms(row: dict) -> float:
    return row[f"{CONCURRENT_CALLERS[-1]} callers"]["cpu_ms"]


def goals(report: dict) -> dict:
    """Each goal, its figure and whether it is met."""
    preprocessing, request = report["preprocessing"], report["request path"]
    found = {
        "preprocess_image, 280x280 drawing": preprocessing["preprocess_image, 280x280 drawing"]["after_ms"],
        "preprocess_array, 1 MP photo": preprocessing["photos 1 MP"]["preprocess_array"]["after_ms"],
        "request": request["sum of the steps"],
        "request with the page's layout": request["layout: sum of the steps"],
    }
    return {
        name: {"goal_ms": GOALS_MS[name], "ms": found[name], "met": found[name] <= GOALS_MS[name]}
        for name in found
    }


def markdown(report: dict) -> str:
    """The docs section: the three tables and where they come from."""
    lines = ["| Picture | Size | Step | Before ms | After ms |", "| --- | --- | --- | --- | --- |"]
    for kind, row in report["preprocessing"].items():
        if "before_ms" in row:
            picture = (
                "page canvas PNG (RGBA, as uploaded)"
                if kind.endswith("canvas")
                else "page drawing PNG (grey)"
            )
            lines.append(
                f"| {picture} | 280x280 | {kind.split(',')[0]} (decoding included) | "
                f"{row['before_ms']:.3f} | {row['after_ms']:.3f} |"
            )
            continue
        for step in ("ink", "layout", "preprocess_array"):
            lines.append(
                f"| {kind} | {row['size']} | {step} | {row[step]['before_ms']:.3f} | "
                f"{row[step]['after_ms']:.3f} |"
            )
    lines += ["", "| Request step | CPU ms |", "| --- | --- |"]
    lines += [
        f"| {step} | {value:.3f} |" for step, value in report["request path"].items() if step != "runtime"
    ]
    header = ["Runtime", "1 caller CPU ms"] + [f"{n} callers CPU ms / reads/s" for n in CONCURRENT_CALLERS]
    lines += ["", readme_blocks.markdown_row(header), readme_blocks.markdown_row(["---"] * len(header))]
    for name, row in report["runtimes"].items():
        cells = [name, f"{row['one caller']['cpu_ms']:.3f}"] + [
            f"{row[f'{n} callers']['cpu_ms']:.3f} / {row[f'{n} callers']['reads_per_s']:,.0f}"
            for n in CONCURRENT_CALLERS
        ]
        lines.append(readme_blocks.markdown_row(cells))
    goal_text = "; ".join(
        f"{name} {goal['ms']:.2f} ms (goal {goal['goal_ms']} ms, {'met' if goal['met'] else 'missed'})"
        for name, goal in report["goals"].items()
    )
    lines += [
        "",
        f"_Measured {report['date']} with `python -m lab.reading_benchmark` on "
        f"{report['machine']['cpu_model']} "
        f"({report['machine'].get('usable_cores', '?')} usable cores, shared); CPU time per call. Fastest "
        f"runtime under {CONCURRENT_CALLERS[-1]} callers: **{report['fastest runtime']}**; `auto` reads with "
        f"{report['auto']['runtime']}, {report['auto']['cpu_ms_behind_the_fastest']:.3f} ms behind "
        f"({'as fast, within' if report['auto']['as_fast'] else 'slower, beyond'} {TIE_MS} ms); the request "
        f"steps with {report['request path']['runtime']}. Goals: {goal_text}. Raw numbers: "
        "`lab/reports/reading_benchmark.json`._",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one picture a kind, a few calls, Keras only")
    parser.add_argument("--output", type=Path, default=READING_BENCHMARK_PATH)
    parser.add_argument("--no-docs", action="store_true", help="leave docs/deployment.md as it is")
    args = parser.parse_args(argv)
    per_kind, calls = (1, 2) if args.smoke else (4, 30)
    runtimes.limit_tensorflow_threads()  # as the server does, before TensorFlow starts
    model = load_trained_model(config.MODEL_PATH)
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "smoke": args.smoke}
    report["preprocessing"] = preprocessing_figures(per_kind, calls)
    with tempfile.TemporaryDirectory() as folder:
        models = runtime_models(model, Path(folder), exports=not args.smoke)
        picture = image.preprocess_image(page_drawing_png())
        report["runtimes"] = runtime_figures(models, picture, calls * 10)
        report["fastest runtime"] = fastest(report["runtimes"])
        report["auto"] = auto_choice(report["runtimes"])
        # The request as the server answers it once exported: with the runtime auto reads with.
        report["request path"] = {
            "runtime": report["auto"]["runtime"],
            **request_figures(models[report["auto"]["runtime"]], calls * 4),
        }
    report["goals"] = goals(report)
    report["machine"] = machine_info()
    write_json(report, args.output)
    if not args.no_docs and not args.smoke:
        readme_blocks.write_block(DEPLOYMENT_DOC, SECTION_START, SECTION_END, markdown(report))
    print(json.dumps({"goals": report["goals"], "fastest runtime": report["fastest runtime"]}, indent=2))
    return report


if __name__ == "__main__":
    main()
