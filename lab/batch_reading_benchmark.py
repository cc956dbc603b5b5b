"""Images per second of ``digit-recog predict FOLDER`` end to end, and what decoding ahead in chunks buys.

Writes 10,000 pictures of each kind as PNG files into a temporary folder: MNIST's test digits (28x28) and
the project's drawn digits (280x280, as the drawing page saves them). For each kind it runs the installed
command on the folder (a fresh process, as a user would, start-up included) and on a folder of one picture
(the start-up alone), and checks that every file got a line. In the same run, in this process, it reads the
drawings through ``reading.ahead.DecodedAhead`` one picture per round trip to a worker (the baseline, how the
command read before) and in chunks (as it reads now), alternating, and reports the ratio of the two. On a
machine shared with other work the wall clock mostly measures the load, so it also records the load average
and the CPU milliseconds one picture costs to decode and preprocess in this process, and the model's CPU
milliseconds per picture. Writes ``lab/reports/batch_reading.json``.

    python -m lab.batch_reading_benchmark                  # 10,000 pictures of each kind
    python -m lab.batch_reading_benchmark --count 2000 --runtime keras
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

from digit_recog import config, data, drawn
from digit_recog.artifacts import shown_path, write_json
from digit_recog.reading import ahead
from digit_recog.reading.budget import DecodingPool
from digit_recog.reading.image import preprocess_image
from lab import paths
from lab.benchmark import _load_average, machine_info

BATCH_READING_PATH = paths.REPORTS_DIR / "batch_reading.json"
GOAL_IMAGES_PER_SECOND = 4000
KINDS = ("MNIST test digits, 28x28", "drawn digits, 280x280")
CHUNKING_PICTURES = 2000  # drawings read by each round of the chunking comparison
CHUNKING_ROUNDS = 2  # each way, alternating


def kind_pictures(kind: str, count: int) -> np.ndarray:
    """``count`` grey-level pictures of ``kind`` (cycled when the source has fewer)."""
    if kind == KINDS[0]:
        (_, _), (pictures, _) = data.load_mnist()
    else:
        pictures = drawn.styles_set().pictures
    return pictures[np.arange(count) % len(pictures)]


def write_pngs(folder: Path, pictures: np.ndarray) -> list[Path]:
    """Each picture saved as a PNG file in ``folder`` (created); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{index:05d}.png" for index in range(len(pictures))]
    for path, picture in zip(files, pictures, strict=True):
        Image.fromarray(picture).save(path)
    return files


def time_predict(folder: Path, runtime: str, jobs: int | None) -> dict:
    """Run ``digit-recog predict FOLDER --json`` once; seconds from start to exit and the lines printed."""
    script = Path(sys.executable).with_name("digit-recog")
    command = [str(script), "predict", str(folder), "--json", "--runtime", runtime]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {result.returncode}:\n{result.stderr[-2000:]}")
    return {"seconds": round(seconds, 2), "lines": len(result.stdout.splitlines())}


def decode_cpu_ms(files: list[Path], count: int = 1000) -> float:
    """CPU ms per picture ``preprocess_image`` takes on the first ``count`` files, in this process."""
    files = files[:count]
    started = time.process_time()
    for path in files:
        preprocess_image(path)
    return 1000 * (time.process_time() - started) / len(files)


def model_cpu_ms(runtime: str, files: list[Path]) -> float:
    """CPU milliseconds per picture the shipped model takes to read batches of 256, on one thread."""
    from digit_recog import cli  # the command's own loading and batch reading

    model = cli._load_model_or_none(config.MODEL_PATH, runtime)
    images = np.stack([preprocess_image(path) for path in files[:256]])
    cli._predict_batch(model, images)  # warm-up
    started = time.process_time()
    for _ in range(8):
        cli._predict_batch(model, images)
    return 1000 * (time.process_time() - started) / (8 * len(images))


def kind_report(kind: str, folder: Path, arguments: argparse.Namespace) -> tuple[dict, list[Path]]:
    """The command's figures for ``arguments.count`` pictures of ``kind``, and the files it read."""
    files = write_pngs(folder / "all", kind_pictures(kind, arguments.count))
    write_pngs(folder / "one", kind_pictures(kind, 1))
    start_up = time_predict(folder / "one", arguments.runtime, arguments.jobs)["seconds"]
    load_before = _load_average()
    run = time_predict(folder / "all", arguments.runtime, arguments.jobs)
    load_after = _load_average()
    if run["lines"] != len(files):
        raise RuntimeError(f"expected one line for each of {len(files)} pictures, found {run['lines']}")
    decode_ms = decode_cpu_ms(files)
    return {
        "images": len(files),
        "seconds_end_to_end": run["seconds"],
        "images_per_second": round(len(files) / run["seconds"], 1),
        "start_up_seconds": start_up,
        "images_per_second_once_started": round((len(files) - 1) / max(run["seconds"] - start_up, 1e-3), 1),
        "load_average_before_and_after": [load_before, load_after],
        "decode_cpu_ms_per_image": round(decode_ms, 3),
        "cores_limit_of_decoding_images_per_second": round(psutil.cpu_count() * 1000 / decode_ms, 1),
    }, files


def read_ahead(files: list[Path], chunk_size: int, workers: int) -> dict:
    """Seconds and CPU seconds (this process and the workers) to decode ``files`` through ``DecodedAhead``
    with chunks of ``chunk_size`` pictures."""
    ahead.CHUNK_SIZE = chunk_size
    with DecodingPool(workers) as pool:
        processes = [psutil.Process(pid) for pid in pool.worker_pids()]
        worker_cpu = -_cpu_seconds(processes)  # they have started (imports included) and wait
        own_cpu, wall = time.process_time(), time.perf_counter()
        with ahead.DecodedAhead(pool, files) as decoded:
            refused = sum(isinstance(outcome, Exception) for outcome in decoded)
        wall, own_cpu = time.perf_counter() - wall, time.process_time() - own_cpu
        worker_cpu += _cpu_seconds(processes)
    if refused:
        raise RuntimeError(f"{refused} of {len(files)} pictures were refused")
    return {"seconds": wall, "cpu_seconds": own_cpu + worker_cpu}


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def chunking_report(files: list[Path], workers: int) -> dict:
    """One picture per round trip (the baseline) against chunks, alternating, over the same drawings."""
    chunk_size, files = ahead.CHUNK_SIZE, files[:CHUNKING_PICTURES]
    ways = {"one picture per round trip": 1, f"chunks of {chunk_size}": chunk_size}
    runs: dict[str, list[dict]] = {name: [] for name in ways}
    try:
        for _ in range(CHUNKING_ROUNDS):
            for name, size in ways.items():
                runs[name].append(read_ahead(files, size, workers))
    finally:
        ahead.CHUNK_SIZE = chunk_size
    report = {
        name: {
            "images_per_second": round(len(files) * len(done) / sum(run["seconds"] for run in done), 1),
            "cpu_ms_per_image": round(
                1000 * sum(run["cpu_seconds"] for run in done) / (len(files) * len(done)), 3
            ),
        }
        for name, done in runs.items()
    }
    baseline, chunked = (report[name] for name in ways)
    report["speed_up"] = round(chunked["images_per_second"] / baseline["images_per_second"], 2)
    report["cpu_per_image_ratio"] = round(chunked["cpu_ms_per_image"] / baseline["cpu_ms_per_image"], 2)
    report["pictures"], report["workers"] = len(files), workers
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="PNG files of each kind (default: 10,000)")
    parser.add_argument("--runtime", default="auto", help="--runtime for digit-recog predict (default: auto)")
    parser.add_argument("--jobs", type=int, help="--jobs for digit-recog predict (default: its own)")
    parser.add_argument(
        "--output", type=Path, default=BATCH_READING_PATH, help="report (default: %(default)s)"
    )
    arguments = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="digit-recog-pngs-"))
    kinds = {}
    try:
        for index, kind in enumerate(KINDS):
            kinds[kind], files = kind_report(kind, root / str(index), arguments)
            kinds[kind]["chunking"] = chunking_report(files, arguments.jobs or psutil.cpu_count())
            print(f"{kind}: {kinds[kind]}", flush=True)
        model_ms = model_cpu_ms(arguments.runtime, files)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    drawings = kinds[KINDS[1]]["images_per_second_once_started"]
    report = {
        "runtime": arguments.runtime,
        "jobs": arguments.jobs,
        "kinds": kinds,
        "model_cpu_ms_per_image": round(model_ms, 3),
        "goal": {
            "images_per_second": GOAL_IMAGES_PER_SECOND,
            "drawings_once_started": drawings,
            "met": drawings >= GOAL_IMAGES_PER_SECOND,
        },
        "machine": machine_info(),
    }
    write_json(report, arguments.output)
    print(f"model: {model_ms:.3f} CPU ms per image")
    print(f"wrote {shown_path(arguments.output)}")


if __name__ == "__main__":
    main()
