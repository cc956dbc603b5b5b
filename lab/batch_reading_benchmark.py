"""Images per second of ``digit-recog predict FOLDER`` end to end: 10,000 PNG files, read from disk.

Writes MNIST's test images as PNG files into a temporary folder, runs the installed command on the folder
(a fresh process, as a user would, start-up included) and checks that every file got a line. On a machine
shared with other work the wall-clock rate mostly measures the load, so it also records the load average and
the CPU milliseconds one image costs to decode and preprocess (``time.process_time``, in this process), which
the load does not change. Writes ``lab/reports/batch_reading.json``.

    python -m lab.batch_reading_benchmark                  # 10,000 images, default runtime and jobs
    python -m lab.batch_reading_benchmark --count 2000 --runtime keras
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from digit_recog import data
from digit_recog.artifacts import shown_path, write_json
from digit_recog.reading.image import preprocess_image
from lab import paths
from lab.benchmark import _load_average, machine_info

BATCH_READING_PATH = paths.REPORTS_DIR / "batch_reading.json"


def write_pngs(folder: Path, count: int) -> int:
    """Write the first ``count`` MNIST test images into ``folder`` as PNG files; return how many."""
    (_, _), (test_images, _) = data.load_mnist()
    for index, image in enumerate(test_images[:count]):
        Image.fromarray(image).save(folder / f"{index:05d}.png")
    return min(count, len(test_images))


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


def decode_cpu_ms(folder: Path, count: int = 1000) -> float:
    """CPU milliseconds per image ``preprocess_image`` takes on the first ``count`` files of ``folder``."""
    files = sorted(folder.iterdir())[:count]
    started = time.process_time()
    for path in files:
        preprocess_image(path)
    return 1000 * (time.process_time() - started) / len(files)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="PNG files to read (default: 10,000)")
    parser.add_argument("--runtime", default="auto", help="--runtime for digit-recog predict (default: auto)")
    parser.add_argument("--jobs", type=int, help="--jobs for digit-recog predict (default: its own)")
    arguments = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="digit-recog-pngs-"))
    try:
        count = write_pngs(folder, arguments.count)
        load_before = _load_average()
        run = time_predict(folder, arguments.runtime, arguments.jobs)
        load_after = _load_average()
        decode_ms = decode_cpu_ms(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if run["lines"] != count:
        raise RuntimeError(f"expected one line for each of {count} images, found {run['lines']}")
    report = {
        "images": count,
        "runtime": arguments.runtime,
        "jobs": arguments.jobs,
        "seconds_end_to_end": run["seconds"],
        "images_per_second": round(count / run["seconds"], 1),
        "load_average_before_and_after": [load_before, load_after],
        "decode_cpu_ms_per_image": round(decode_ms, 3),
        "decode_images_per_cpu_second": round(1000 / decode_ms, 1),
        "machine": machine_info(),
    }
    write_json(report, BATCH_READING_PATH)
    print(f"{count} images in {run['seconds']} s: {report['images_per_second']} images/s (load {load_after})")
    print(f"decoding and preprocessing: {decode_ms:.3f} CPU ms per image")
    print(f"wrote {shown_path(BATCH_READING_PATH)}")


if __name__ == "__main__":
    main()
