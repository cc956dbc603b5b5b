"""What the decoding budget costs a drawing: CPU time of reading it in a budgeted worker against in-process.

Reads a 280x280 PNG drawing and a 28x28 one ``--count`` times each in this process (``preprocess_image``)
and through a :class:`digit_recog.reading.budget.DecodingPool` of one worker, and prints the CPU
milliseconds per reading of each: this process's (``time.process_time``) and the worker's (its utime and
stime from ``/proc``). The difference is the budget's overhead: the pipe, pickling, and the timers set
before each picture.

    python -m lab.budget_overhead --count 2000 --rounds 3
"""

import argparse
import io
import os
import time

from PIL import Image, ImageDraw

from digit_recog.reading.budget import DecodingPool
from digit_recog.reading.image import preprocess_image


def drawing() -> bytes:
    """A 7 drawn on a 280x280 canvas, as the web page sends it (PNG)."""
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(62, 34), (218, 34), (112, 252)], fill=0, width=28)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def small_digit() -> bytes:
    """A 28x28 PNG of a stroke: almost no preprocessing, so what remains is the budget's fixed cost."""
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).line([(14, 6), (14, 22)], fill=255, width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(content: bytes, count: int, pool: DecodingPool) -> dict[str, float]:
    """CPU milliseconds per reading of ``content``: in this process, and through ``pool``'s one worker
    (this process's share and the worker's), and the difference."""
    started = time.process_time()
    for _ in range(count):
        preprocess_image(content, "drawing.png")
    in_process = (time.process_time() - started) / count
    (worker_pid,) = pool.worker_pids()
    worker_started, started = process_cpu_seconds(worker_pid), time.process_time()
    for _ in range(count):
        pool.run("digit", content, "drawing.png")
    parent = (time.process_time() - started) / count
    worker = (process_cpu_seconds(worker_pid) - worker_started) / count
    return {
        "in_process_ms": in_process * 1e3,
        "parent_ms": parent * 1e3,
        "worker_ms": worker * 1e3,
        "overhead_ms": (parent + worker - in_process) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="readings each way a round (default: 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each way in turn (default: 3)")
    arguments = parser.parse_args()
    pictures = {"280x280 drawing": drawing(), "28x28 digit": small_digit()}
    with DecodingPool(1) as pool:
        for name, content in pictures.items():
            pool.run("digit", content, name)  # first use: imports and caches in the worker
            for _ in range(arguments.rounds):
                measured = measure(content, arguments.count, pool)
                print(f"{name:16}", "  ".join(f"{key} {value:6.3f}" for key, value in measured.items()))


if __name__ == "__main__":
    main()
