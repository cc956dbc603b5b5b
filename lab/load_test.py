"""Load and fault test of the web app: many clients at once, good pictures mixed with bad and huge ones.

Starts a real ``digit-recog serve`` subprocess, then runs ``--clients`` concurrent clients for
``--duration`` seconds. Each client posts, one after another, a picture drawn from a fixed mix: good
280x280 PNG digits, bad files (not an image, truncated, a blank LAB TIFF, a float TIFF with a NaN pixel,
pure noise) and 49-megapixel PNGs (7000x7000 in 8-bit grey, which is decoded, and in RGBA, which the
decoding budget refuses). A client told 503 waits the Retry-After seconds, as a well-behaved client does.
A few more clients send bodies shorter than their Content-Length, which must be answered 408, not hang.

Each client connects from an address of its own (127.0.1.x, 127.0.2.x, ...): the server caps the
connections and uploads of one address.

It records requests per second, latency percentiles and status codes per kind of picture, and the
resident memory of the server's process tree (sampled every 0.1 s): after warm-up (every file of the
mix posted once, one after another, so first-use costs are counted there), at its peak, and 5 s after
the clients have gone. It also records the CPU seconds the server and this client got: the cores are
shared, and on a busy machine that, more than the server, sets the numbers. The report goes to
``lab/reports/load_test.json``, with the goals and whether each was met:

    python -m lab.load_test                          # 200 clients, 60 s (about a minute of both cores)
    python -m lab.load_test --clients 20 --duration 5 --output /tmp/load.json   # a smoke run
    python -m lab.load_test --only-good --output /tmp/good.json                  # drawings only
    python -m lab.load_test --only-good --page-layout --output /tmp/layout.json  # as the page sends them
    python -m lab.load_test --only-good --page-layout --workers 2 --output /tmp/two.json  # two processes

With ``--page-layout`` each drawing goes as the drawing page sends it: with its 28x28 layout beside the
picture (``reading.image.preprocess_image`` of it, what the page's reader.js computes), which the server
checks and reads instead of decoding and cleaning the picture.
"""

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx2
import numpy as np
import psutil
from PIL import Image, ImageDraw

from digit_recog import config
from digit_recog.artifacts import shown_path, write_json
from digit_recog.reading.image import preprocess_image
from lab import paths

LOAD_TEST_PATH = paths.REPORTS_DIR / "load_test.json"
# The share of each kind of request in the mix.
MIX = {"good": 0.70, "bad": 0.20, "huge": 0.10}
REQUEST_TIMEOUT_S = 30.0  # a request unanswered this long counts as a hang
STALLING_CLIENTS = 4
GOALS = {
    "no_500": "no response with status 500 or above, other than 503",
    "no_hang": f"every request answered within {REQUEST_TIMEOUT_S:g} s, stalled bodies included",
    "peak_memory": "peak resident memory of the server at most 1.5 GB",
    "memory_returns": "memory after the load within 10% of its level after warm-up",
    "good_p99": "good requests answered 200 with p99 latency at most 1 s",
}
PEAK_MEMORY_LIMIT = 1.5e9


@dataclass(frozen=True)
class Payload:
    """One file a client may post: its kind in the mix, a label, the bytes and its name."""

    kind: str
    label: str
    content: bytes
    filename: str
    layout: bytes | None = None  # the 28x28 the page would send beside a drawing


def encoded(image: Image.Image, image_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def drawn_digit(seed: int) -> Image.Image:
    """A dark digit-like stroke on white, 280x280, a little different for each seed."""
    rng = random.Random(seed)
    image = Image.new("L", (280, 280), 255)
    draw = ImageDraw.Draw(image)
    points = [(rng.randint(70, 210), rng.randint(40, 240)) for _ in range(4)]
    draw.line(points, fill=0, width=rng.randint(14, 26), joint="curve")
    return image


def payloads(page_layout: bool = False) -> list[Payload]:
    """The files of the mix, made once; with ``page_layout``, each drawing with its 28x28 layout."""
    noise = np.random.default_rng(0).integers(0, 256, (280, 280), dtype=np.uint8)
    nan_pixels = np.asarray(drawn_digit(0), dtype=np.float32)
    nan_pixels[5, 5] = np.nan
    good_png = encoded(drawn_digit(0))
    return [
        *[_drawing(seed, page_layout) for seed in range(8)],
        Payload("bad", "not an image", b"this is not an image, only text\n" * 10, "fake.png"),
        Payload("bad", "truncated png", good_png[: len(good_png) // 2], "cut.png"),
        Payload(
            "bad", "blank LAB tiff", encoded(Image.new("LAB", (280, 280), (50, 0, 0)), "TIFF"), "lab.tif"
        ),
        Payload("bad", "NaN float tiff", encoded(Image.fromarray(nan_pixels, mode="F"), "TIFF"), "nan.tif"),
        Payload("bad", "pure noise", encoded(Image.fromarray(noise)), "noise.png"),
        Payload(
            "huge", "49 MP grey png", encoded(Image.new("L", (7000, 7000), 255), compress_level=9), "grey.png"
        ),
        Payload(
            "huge",
            "49 MP RGBA png",
            encoded(Image.new("RGBA", (7000, 7000), (255, 255, 255, 255)), compress_level=9),
            "rgba.png",
        ),
    ]


def _drawing(seed: int, page_layout: bool) -> Payload:
    content = encoded(drawn_digit(seed))
    layout = preprocess_image(content).tobytes() if page_layout else None
    return Payload("good", "digit", content, f"digit{seed}.png", layout)


def client_address(index: int) -> str:
    """The loopback address client ``index`` connects from (Linux routes all of 127.0.0.0/8 to lo)."""
    return f"127.0.{1 + index // 254}.{1 + index % 254}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its children, in bytes."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def tree_cpu_s(process: psutil.Process) -> float:
    """CPU seconds (user and system) used so far by a process and its children."""
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class MemorySampler:
    """Samples the server tree's resident memory every ``interval_s`` in the background."""

    def __init__(self, process: psutil.Process, interval_s: float = 0.1) -> None:
        self.process, self.interval_s, self.samples = process, interval_s, []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.samples.append((time.monotonic(), tree_rss(self.process)))
            await asyncio.sleep(self.interval_s)


async def wait_until_up(client: httpx2.AsyncClient, server: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"digit-recog serve exited with status {server.returncode} before serving")
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError(f"digit-recog serve did not answer /health within {timeout_s:g} s")


async def post(client: httpx2.AsyncClient, payload: Payload) -> tuple[int | str, float, str]:
    """Status (or the transport error's name), seconds taken, and the Retry-After header."""
    started = time.monotonic()
    try:
        files = {"image": (payload.filename, payload.content, "application/octet-stream")}
        if payload.layout is not None:
            files["layout"] = ("layout.raw", payload.layout, "application/octet-stream")
        response = await client.post("/api/predict", files=files, timeout=REQUEST_TIMEOUT_S)
    except httpx2.TimeoutException:
        return "timeout", time.monotonic() - started, ""
    except httpx2.TransportError as error:
        return type(error).__name__, time.monotonic() - started, ""
    return response.status_code, time.monotonic() - started, response.headers.get("retry-after", "")


async def client_loop(client, mix, until: float, seed: int, records: list) -> None:
    rng = random.Random(seed)
    kinds = [kind for kind in MIX if kind in mix]
    weights = [MIX[kind] for kind in kinds]
    while time.monotonic() < until:
        payload = rng.choice(mix[rng.choices(kinds, weights)[0]])
        status, seconds, retry_after = await post(client, payload)
        records.append((payload.kind, payload.label, status, seconds, time.monotonic()))
        if status == 503:
            await asyncio.sleep(float(retry_after or 1))


async def stalling_loop(port: int, until: float, records: list) -> None:
    """Send a multipart body cut short of its Content-Length, and time the server's answer."""
    while time.monotonic() < until:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=cut\r\nContent-Length: 5000\r\n\r\n--cut\r\n"
        )
        await writer.drain()
        try:
            status_line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT_S)
            status = int(status_line.split()[1]) if status_line else "closed"
        except TimeoutError:
            status = "timeout"
        writer.close()
        records.append(
            ("stalled", "body shorter than Content-Length", status, time.monotonic() - started, 0.0)
        )


def percentile(values: list[float], share: float) -> float | None:
    return round(float(np.percentile(values, share)), 4) if values else None


def summarise(records: list, duration_s: float) -> dict:
    """Per kind and label: count, status codes, p50 and p99 latency in seconds."""
    by_label: dict[str, dict] = {}
    for kind, label, status, seconds, _ in records:
        entry = by_label.setdefault(label, {"kind": kind, "seconds": [], "statuses": Counter()})
        entry["seconds"].append(seconds)
        entry["statuses"][str(status)] += 1
    table = {
        label: {
            "kind": entry["kind"],
            "requests": len(entry["seconds"]),
            "statuses": dict(sorted(entry["statuses"].items())),
            "p50_s": percentile(entry["seconds"], 50),
            "p99_s": percentile(entry["seconds"], 99),
        }
        for label, entry in by_label.items()
    }
    good_ok = [seconds for kind, _, status, seconds, _ in records if kind == "good" and status == 200]
    answered = [r for r in records if r[0] != "stalled"]
    statuses = Counter(str(status) for _, _, status, _, _ in records)
    return {
        "requests": len(answered),
        "requests_per_s": round(len(answered) / duration_s, 1),
        "answered_200_per_s": round(sum(r[2] == 200 for r in answered) / duration_s, 1),
        "statuses": dict(sorted(statuses.items())),
        "good_200": len(good_ok),
        "good_200_p50_s": percentile(good_ok, 50),
        "good_200_p99_s": percentile(good_ok, 99),
        "good_refused_503": sum(1 for r in records if r[0] == "good" and r[2] == 503),
        "by_payload": table,
    }


async def run_load(
    port: int,
    server: subprocess.Popen,
    clients: int,
    duration_s: float,
    seed: int,
    only_good: bool,
    page_layout: bool = False,
) -> dict:
    mix: dict[str, list[Payload]] = {}
    for payload in payloads(page_layout):
        if payload.kind == "good" or not only_good:
            mix.setdefault(payload.kind, []).append(payload)
    stalling = 0 if only_good else STALLING_CLIENTS
    process = psutil.Process(server.pid)
    stop, sampler, records = asyncio.Event(), MemorySampler(process), []
    # Each client from an address of its own, as distinct users are: the server caps connections per address.
    pool = [
        httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            transport=httpx2.AsyncHTTPTransport(local_address=client_address(index)),
        )
        for index in range(clients)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for member in pool:
            await stack.enter_async_context(member)
        client = pool[0]
        await wait_until_up(client, server)
        # Warm-up, one request after another: every file of the mix once (first uses load code and
        # size buffers for good), then the drawings a few times more.
        for payload in [payload for kind in mix.values() for payload in kind] + mix["good"] * 4:
            await post(client, payload)
        await asyncio.sleep(2)
        after_warm_up = tree_rss(process)
        sampling = asyncio.create_task(sampler.run(stop))
        server_cpu, client_cpu, load_average = tree_cpu_s(process), time.process_time(), os.getloadavg()[0]
        started = time.monotonic()
        until = started + duration_s
        await asyncio.gather(
            *[client_loop(member, mix, until, seed + index, records) for index, member in enumerate(pool)],
            *[stalling_loop(port, until, records) for _ in range(stalling)],
        )
        elapsed = time.monotonic() - started
        server_cpu, client_cpu = tree_cpu_s(process) - server_cpu, time.process_time() - client_cpu
    await asyncio.sleep(5)  # the clients have gone: let the server settle and give memory back
    after_load = tree_rss(process)
    stop.set()
    await sampling
    peak = max(rss for _, rss in sampler.samples)
    summary = summarise(records, elapsed)
    summary["memory"] = {
        "after_warm_up_bytes": after_warm_up,
        "peak_bytes": peak,
        "after_load_bytes": after_load,
        "after_load_vs_warm_up": round(after_load / after_warm_up - 1, 4),
    }
    summary["duration_s"] = round(elapsed, 1)
    # The machine's cores are shared (with this client, and with whatever else runs): say how much each got.
    summary["cpu"] = {
        "server_cpu_s": round(server_cpu, 1),
        "client_cpu_s": round(client_cpu, 1),
        "load_average_1min_at_start": round(load_average, 2),
    }
    return summary


def goals_met(summary: dict) -> dict:
    statuses = summary["statuses"]
    server_errors = sum(count for code, count in statuses.items() if code.isdigit() and int(code) >= 500)
    server_errors -= statuses.get("503", 0)
    hangs = sum(count for code, count in statuses.items() if not code.isdigit())
    memory = summary["memory"]
    good_p99 = summary["good_200_p99_s"]
    return {
        "no_500": server_errors == 0,
        "no_hang": hangs == 0,
        "peak_memory": memory["peak_bytes"] <= PEAK_MEMORY_LIMIT,
        "memory_returns": abs(memory["after_load_vs_warm_up"]) <= 0.10,
        "good_p99": good_p99 is not None and good_p99 <= 1.0,
    }


def start_server(port: int, model: Path, program: Path, workers: int = 1) -> subprocess.Popen:
    command = [str(program), "serve", "--port", str(port), "--model", str(model)]
    if workers > 1:
        command += ["--workers", str(workers)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lab.load_test", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default: %(default)s)")
    parser.add_argument("--model", type=Path, default=config.MODEL_PATH, help="model to serve")
    parser.add_argument("--seed", type=int, default=0, help="seeds the clients' choices")
    parser.add_argument("--output", type=Path, default=LOAD_TEST_PATH, help="report (default: %(default)s)")
    parser.add_argument("--only-good", action="store_true", help="post good drawings only, no stalled bodies")
    parser.add_argument(
        "--page-layout", action="store_true", help="send each drawing with its 28x28 layout, as the page does"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (default: %(default)s)")
    parser.add_argument(
        "--program",
        type=Path,
        default=Path(sys.executable).with_name("digit-recog"),
        help="the digit-recog command to serve with, e.g. another checkout's (default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    arguments = parse_args(argv)
    port = free_port()
    server = start_server(port, arguments.model, arguments.program, arguments.workers)
    try:
        summary = asyncio.run(
            run_load(
                port,
                server,
                arguments.clients,
                arguments.duration,
                arguments.seed,
                arguments.only_good,
                arguments.page_layout,
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = {
        "clients": arguments.clients,
        "stalling_clients": 0 if arguments.only_good else STALLING_CLIENTS,
        "mix": {"good": 1.0} if arguments.only_good else MIX,
        "page_layout": arguments.page_layout,
        "workers": arguments.workers,
        "cpu_count": os.cpu_count(),
        **summary,
        "goals": GOALS,
        "goals_met": goals_met(summary),
    }
    write_json(report, arguments.output)
    print(
        json.dumps(
            {key: report[key] for key in ("requests_per_s", "statuses", "good_200_p99_s", "goals_met")}
        )
    )
    print(f"wrote {shown_path(arguments.output)}")
    return report


if __name__ == "__main__":
    main()
