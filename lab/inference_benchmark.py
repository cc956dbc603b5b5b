"""How fast the shipped model reads digits with each runtime, against the original recipe's model under Keras.

For the shipped model and the original recipe's, at batch 1 and 512: Keras ``predict``, ``predict_on_batch``
(what the app calls), a direct eager call ``model(x)``, ONNX Runtime and LiteRT (both on models exported with
Keras's own ``model.export`` into a temporary folder); at batch 512 also Keras ``predict`` over all 10,000
test images in batches of 512, which spreads its fixed cost per call. Each gives images/s and the p50/p99
milliseconds of a call, and each as a ratio to Keras ``predict`` on the original recipe's model at the same
batch size, in the same run; the two models take turns call by call, so their ratio holds on a busy machine.
Writes ``lab/reports/inference_benchmark.json`` and the table in ``docs/deployment.md``.

    python -m lab.inference_benchmark              # about three minutes on two cores
    python -m lab.inference_benchmark --seconds 0.5 --no-docs     # a quick look
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np

from digit_recog import config, data
from digit_recog.artifacts import shown_path, write_json
from digit_recog.modeling.export import export_model
from digit_recog.reading.runtimes import load_exported_model
from lab import paths, readme_blocks
from lab.benchmark import _load_average, machine_info

INFERENCE_BENCHMARK_PATH = paths.REPORTS_DIR / "inference_benchmark.json"
DEPLOYMENT_DOC = config.PROJECT_ROOT / "docs" / "deployment.md"
TABLE_START, TABLE_END = "<!-- inference-benchmark:start -->", "<!-- inference-benchmark:end -->"
MODELS = {"shipped": config.MODEL_PATH, "original recipe": config.ORIGINAL_RECIPE_MODEL_PATH}
BATCH_SIZES = (1, 512)
RUNTIMES = ("keras predict", "keras predict_on_batch", "keras direct call", "onnxruntime", "litert")
# Keras predict on a whole array, in batches: its fixed cost per call (tens of ms) spread over 10,000 images.
WHOLE_SET = "keras predict, 10,000 images"
BASELINE = ("original recipe", "keras predict")
WARMUP_CALLS = 3
MIN_CALLS = 5


def readers(model: keras.Model, folder: Path, name: str) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Each runtime's way to read a float32 batch (N, 28, 28, 1) with ``model``."""
    # Each runtime with its own default threads, as the table in docs/deployment.md was measured.
    onnx = load_exported_model(export_model(model, "onnx", folder / f"{name}.onnx"), threads=None)
    litert = load_exported_model(export_model(model, "litert", folder / f"{name}.tflite"), threads=None)
    return {
        "keras predict": lambda batch: model.predict(batch, batch_size=len(batch), verbose=0),
        WHOLE_SET: lambda batch: model.predict(batch, batch_size=512, verbose=0),
        "keras predict_on_batch": lambda batch: np.asarray(model.predict_on_batch(batch)),
        "keras direct call": lambda batch: np.asarray(model(batch, training=False)),
        "onnxruntime": onnx.predict,
        "litert": litert.predict,
    }


def time_interleaved(reads: dict[str, Callable], batch: np.ndarray, seconds: float) -> dict[str, dict]:
    """Call each of ``reads`` on ``batch`` in turn, round after round, for about ``seconds`` per reader (at
    least ``MIN_CALLS`` rounds) after a warm-up; the timings of each reader.

    Taking turns call by call gives every model the same share of whatever else the machine is doing, so
    their ratio holds on a busy machine even when the absolute numbers drift.
    """
    for read in reads.values():
        for _ in range(WARMUP_CALLS):
            read(batch)
    latencies: dict[str, list[float]] = {name: [] for name in reads}
    started = time.perf_counter()
    rounds = 0
    while rounds < MIN_CALLS or time.perf_counter() - started < seconds * len(reads):
        for name, read in reads.items():
            call_started = time.perf_counter()
            read(batch)
            latencies[name].append(time.perf_counter() - call_started)
        rounds += 1
    return {name: _numbers(len(batch), times) for name, times in latencies.items()}


def _numbers(batch_size: int, latencies: list[float]) -> dict:
    return {
        "calls": len(latencies),
        "images_per_second": round(batch_size * len(latencies) / sum(latencies), 1),
        "latency_ms_p50": round(1000 * float(np.percentile(latencies, 50)), 3),
        "latency_ms_p99": round(1000 * float(np.percentile(latencies, 99)), 3),
    }


def run(seconds: float) -> dict:
    """Every model, runtime and batch size, with ratios to the baseline; returns the report."""
    _, (test_images, _) = data.load_mnist()
    images = test_images[..., None].astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory(prefix="digit-recog-export-") as folder:
        model_readers = {
            name: readers(keras.saving.load_model(path), Path(folder), name.replace(" ", "_"))
            for name, path in MODELS.items()
        }
        for batch_size in BATCH_SIZES:
            for runtime in RUNTIMES if batch_size == 1 else (*RUNTIMES, WHOLE_SET):
                batch = images if runtime == WHOLE_SET else images[:batch_size]
                reads = {name: model_readers[name][runtime] for name in MODELS}
                for name, numbers in time_interleaved(reads, batch, seconds).items():
                    rows.append({"model": name, "runtime": runtime, "batch_size": batch_size, **numbers})
                    print(f"{name:16} {runtime:28} batch {batch_size:3}: {numbers}", flush=True)
    rows.sort(key=lambda row: (list(MODELS).index(row["model"]), row["batch_size"]))
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds_per_measurement": seconds,
        "baseline": {"model": BASELINE[0], "runtime": BASELINE[1]},
        "rows": with_ratios(rows),
        "goals": goals(rows),
        "load_average": _load_average(),
        "machine": machine_info(),
    }


def with_ratios(rows: list[dict]) -> list[dict]:
    """Add throughput and p50 latency as multiples of the baseline's at the same batch size."""
    baselines = {row["batch_size"]: row for row in rows if (row["model"], row["runtime"]) == BASELINE}
    for row in rows:
        base = baselines[row["batch_size"]]
        row["throughput_ratio"] = round(row["images_per_second"] / base["images_per_second"], 2)
        row["latency_p50_ratio"] = round(row["latency_ms_p50"] / base["latency_ms_p50"], 3)
    return rows


def goals(rows: list[dict]) -> dict:
    """The two goals: the shipped model at batch 512 at least as fast as the original recipe's under Keras
    ``predict`` (over the whole test set, as the earlier measurement was); one image in at most 0.3 ms p50
    with the fastest runtime."""

    def find(model: str, runtime: str, batch_size: int) -> dict:
        return next(
            r for r in rows if (r["model"], r["runtime"], r["batch_size"]) == (model, runtime, batch_size)
        )

    shipped = find("shipped", WHOLE_SET, 512)["images_per_second"]
    original = find("original recipe", WHOLE_SET, 512)["images_per_second"]
    single = min(
        (r for r in rows if r["model"] == "shipped" and r["batch_size"] == 1),
        key=lambda r: r["latency_ms_p50"],
    )
    return {
        "batch_512_keras_shipped_vs_original": round(shipped / original, 2),
        "batch_512_goal_met": shipped >= original,
        "fastest_single_image_runtime": single["runtime"],
        "fastest_single_image_ms_p50": single["latency_ms_p50"],
        "single_image_goal_met": single["latency_ms_p50"] <= 0.3,
    }


def markdown_table(report: dict) -> str:
    """The table for docs/deployment.md: one row per model, runtime and batch size."""
    header = ["Model", "Runtime", "Batch", "Images/s", "p50 ms", "p99 ms", "Throughput vs baseline"]
    lines = [readme_blocks.markdown_row(header), readme_blocks.markdown_row(["---"] * len(header))]
    for row in report["rows"]:
        lines.append(
            readme_blocks.markdown_row(
                [
                    row["model"],
                    row["runtime"],
                    row["batch_size"],
                    f"{row['images_per_second']:,.0f}",
                    f"{row['latency_ms_p50']:.3f}",
                    f"{row['latency_ms_p99']:.3f}",
                    f"{row['throughput_ratio']:.2f}x",
                ]
            )
        )
    machine = report["machine"]
    load = report["load_average"][0] if report["load_average"] else "unknown"
    caption = (
        f"\n_Measured {report['date'][:10]} with `python -m lab.inference_benchmark` on "
        f"{machine['cpu_model']} ({machine['usable_cores']} usable cores, load average {load} at the end, "
        "shared with other work); baseline: Keras `predict` on the original recipe's model at the same batch "
        "size. Raw numbers: `lab/reports/inference_benchmark.json`._"
    )
    return "\n".join(lines) + "\n" + caption


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement (default: 2)")
    parser.add_argument(
        "--no-docs", action="store_true", help="do not rewrite the table in docs/deployment.md"
    )
    arguments = parser.parse_args(argv)
    report = run(arguments.seconds)
    write_json(report, INFERENCE_BENCHMARK_PATH)
    print(f"wrote {shown_path(INFERENCE_BENCHMARK_PATH)}; goals: {report['goals']}")
    if not arguments.no_docs:
        readme_blocks.write_block(DEPLOYMENT_DOC, TABLE_START, TABLE_END, markdown_table(report))
        print(f"wrote the table in {shown_path(DEPLOYMENT_DOC)}")


if __name__ == "__main__":
    main()
