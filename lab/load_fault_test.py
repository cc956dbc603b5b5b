"""Load-and-fault test of ``digit-recog serve``: drawing clients kept busy while one client attacks.

Starts a real server (one process), then runs, for ``--duration`` seconds each, one phase per attack in
``--attacks``, each between two phases with no attack: a shared machine's pace drifts by a sixth from one
phase to the next, so each attack is judged against the mean of the two no-attack phases around it. In
every phase ``--clients`` drawing clients (each from an address of its own on the loopback network,
127.0.1.x, as distinct users are) post drawings one after another, waiting the Retry-After seconds when
told 503. Beside them one attacking client (127.0.200.1) keeps
``--attackers`` connections of one kind going:

    slow_bodies    uploads sent a byte every 3 s, half with Content-Length, half chunked
    idle_sockets   connections that send nothing, or half a request line, reopened when closed
    cross_site     uploads from another site's page (Origin: http://evil.example)
    cl_te          requests with both Content-Length and Transfer-Encoding
    pictures       the hostile pictures of lab/hostile_pictures.py (decoding bombs, formats refused)
    big_jpegs      49-megapixel progressive JPEGs of a drawn 7: legitimate, read in the big-picture lane

Per phase it records the drawings answered 200 per second (and their share of the no-attack figure around it;
per CPU second of the server too, steadier on a shared machine),
their p99 and longest wait, the attack's answers, the server's resident memory (peak during the phase,
and 3 s after it against the level after warm-up), 500s, hangs and tracebacks in the server's log. The
report goes to ``lab/reports/load_fault_test.json``:

    python -m lab.load_fault_test                                   # 100 clients, 20 s a phase
    python -m lab.load_fault_test --duration 8 --attacks slow_bodies,idle_sockets,cross_site,cl_te
"""

import argparse
import asyncio
import functools
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx2
import psutil

from digit_recog import config
from digit_recog.artifacts import shown_path, write_json
from lab import paths
from lab.load_test import (
    MemorySampler,
    client_address,
    drawn_digit,
    encoded,
    free_port,
    percentile,
    tree_cpu_s,
    tree_rss,
    wait_until_up,
)

LOAD_FAULT_TEST_PATH = paths.REPORTS_DIR / "load_fault_test.json"
ATTACKS = ("slow_bodies", "idle_sockets", "cross_site", "cl_te", "pictures", "big_jpegs")
ATTACKER_ADDRESS = "127.0.200.1"  # apart from the drawing clients' 127.0.1.x
REQUEST_TIMEOUT_S = 40.0  # a drawing unanswered this long, or an attack held this long, is a hang
SLOW_BYTE_INTERVAL_S = 3.0
SETTLE_S = 3.0
GOALS = {
    "good_reads": "drawings answered 200 per second at least 80% of the no-attack figure",
    "good_p99": "drawings' p99 latency at most 1 s",
    "good_max_wait": "no drawing waits more than 2 s",
    "peak_memory": "peak resident memory of the server at most 1.5 GB",
    "memory_returns": "memory after the phase within 10% of its level after warm-up",
    "no_500": "no status 500 or above other than 503, no traceback in the server's log",
    "no_hang": f"every request and attacking connection answered or closed within {REQUEST_TIMEOUT_S:g} s",
}
GOOD_READS_SHARE, GOOD_P99_S, GOOD_MAX_WAIT_S, PEAK_MEMORY_LIMIT = 0.80, 1.0, 2.0, 1.5e9


def multipart_head(port: int, framing: str, extra: str = "") -> bytes:
    """A multipart upload's request head, and the start of its one part."""
    return (
        f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary=cut\r\n{framing}{extra}\r\n"
    ).encode()


PART_START = b'--cut\r\nContent-Disposition: form-data; name="image"; filename="d.png"\r\n\r\n'


async def read_answer(reader: asyncio.StreamReader, timeout_s: float) -> str:
    """The status code of what the server answers, "closed" if it closes first, "timeout" if neither."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout_s)
    except TimeoutError:
        return "timeout"
    except ConnectionError:
        return "closed"
    return line.split()[1].decode() if line.startswith(b"HTTP/") else "closed"


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER_ADDRESS, 0))


async def slow_body(port: int, until: float, outcomes: list, index: int) -> None:
    """Uploads sent a byte every few seconds, never silent long enough for the receive timeout."""
    chunked = index % 2 == 1
    framing = "Transfer-Encoding: chunked\r\n" if chunked else "Content-Length: 200000\r\n"
    start = b"%x\r\n%s\r\n" % (len(PART_START), PART_START) if chunked else PART_START
    tick = b"1\r\nx\r\n" if chunked else b"x"
    while time.monotonic() < until:
        started = time.monotonic()
        reader, writer = await connect(port)
        writer.write(multipart_head(port, framing) + start)
        answer = asyncio.ensure_future(read_answer(reader, REQUEST_TIMEOUT_S))
        while not answer.done() and time.monotonic() - started < REQUEST_TIMEOUT_S:
            await asyncio.wait([answer], timeout=SLOW_BYTE_INTERVAL_S)
            if not answer.done():
                try:
                    writer.write(tick)
                except ConnectionError:
                    break
        outcomes.append((await answer, time.monotonic() - started))
        writer.close()
        await asyncio.sleep(0.1)


async def idle_socket(port: int, until: float, outcomes: list, index: int) -> None:
    """Connections that send nothing (even index) or half a request line, held until the server closes."""
    while time.monotonic() < until:
        started = time.monotonic()
        reader, writer = await connect(port)
        if index % 2:
            writer.write(b"GET /health HT")
        outcomes.append((await read_answer(reader, REQUEST_TIMEOUT_S), time.monotonic() - started))
        writer.close()
        await asyncio.sleep(0.1)


async def cross_site(port: int, until: float, outcomes: list, index: int) -> None:
    """Uploads of a drawing as another site's page makes them."""
    body = PART_START + encoded(drawn_digit(index)) + b"\r\n--cut--\r\n"
    head = multipart_head(port, f"Content-Length: {len(body)}\r\n", "Origin: http://evil.example\r\n")
    while time.monotonic() < until:
        started = time.monotonic()
        reader, writer = await connect(port)
        writer.write(head + body)
        outcomes.append((await read_answer(reader, REQUEST_TIMEOUT_S), time.monotonic() - started))
        writer.close()


async def cl_te(port: int, until: float, outcomes: list, index: int) -> None:
    """Requests framed twice; the server must answer 400 and close (a second request is never answered)."""
    body = b"5\r\nhello\r\n0\r\n\r\n"
    framing = f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n"
    smuggled = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    while time.monotonic() < until:
        started = time.monotonic()
        reader, writer = await connect(port)
        writer.write(multipart_head(port, framing) + body + smuggled)
        status = await read_answer(reader, REQUEST_TIMEOUT_S)
        try:
            rest = await asyncio.wait_for(reader.read(), REQUEST_TIMEOUT_S)
            if b"HTTP/1.1" in rest:
                status += "+answered smuggled request"
        except (TimeoutError, ConnectionError):
            status += "+left open"
        outcomes.append((status, time.monotonic() - started))
        writer.close()


@functools.cache
def named_hostile_pictures() -> list[tuple[str, bytes]]:
    """The hostile pictures by name, built once: building them takes CPU that must not fall inside a phase, on
    the event loop the drawing clients share."""
    from lab.hostile_pictures import hostile_pictures  # only when the pictures attack is asked for

    return sorted(hostile_pictures().items())


@functools.cache
def big_progressive_jpegs() -> list[tuple[str, bytes]]:
    """A 7000x7000 progressive JPEG of a 7, built once, before a phase (as the hostile pictures are)."""
    from lab.hostile_pictures import drawn_seven

    buffer = io.BytesIO()
    drawn_seven(7000).save(buffer, format="JPEG", progressive=True)
    return [("big_progressive.jpg", buffer.getvalue())]


async def pictures(port: int, until: float, outcomes: list, index: int) -> None:
    """Posts of the hostile pictures, one after another."""
    await post_pictures(port, until, outcomes, index, named_hostile_pictures())


async def big_jpegs(port: int, until: float, outcomes: list, index: int) -> None:
    """Posts of a 49-megapixel progressive JPEG, one after another."""
    await post_pictures(port, until, outcomes, index, big_progressive_jpegs())


async def post_pictures(port: int, until: float, outcomes: list, index: int, named: list) -> None:
    """Post the ``named`` pictures in turn until ``until``, waiting a second after each 503."""
    transport = httpx2.AsyncHTTPTransport(local_address=ATTACKER_ADDRESS)
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport) as client:
        position = index
        while time.monotonic() < until:
            name, content = named[position % len(named)]
            position += 1
            started = time.monotonic()
            try:
                files = {"image": (name, content, "application/octet-stream")}
                response = await client.post("/api/predict", files=files, timeout=REQUEST_TIMEOUT_S)
                status = str(response.status_code)
            except httpx2.TimeoutException:
                status = "timeout"
            except httpx2.TransportError as error:
                status = type(error).__name__
            outcomes.append((f"{name}: {status}", time.monotonic() - started))
            if status == "503":
                await asyncio.sleep(1)


# The attacks that post pictures, and what builds (once) the pictures each posts.
PICTURE_SETS = {"pictures": named_hostile_pictures, "big_jpegs": big_progressive_jpegs}
ATTACKERS = {
    "slow_bodies": slow_body,
    "idle_sockets": idle_socket,
    "cross_site": cross_site,
    "cl_te": cl_te,
    "pictures": pictures,
    "big_jpegs": big_jpegs,
}


async def drawing_loop(
    client: httpx2.AsyncClient, drawings: list[bytes], until: float, seed: int, records: list
):
    """Post drawings one after another until ``until``; record (status, seconds) of each."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            files = {"image": ("drawing.png", rng.choice(drawings), "image/png")}
            response = await client.post("/api/predict", files=files, timeout=REQUEST_TIMEOUT_S)
            status, retry_after = str(response.status_code), response.headers.get("retry-after")
        except httpx2.TimeoutException:
            status, retry_after = "timeout", None
        except httpx2.TransportError as error:
            status, retry_after = type(error).__name__, None
        records.append((status, time.monotonic() - started))
        if status == "503":
            await asyncio.sleep(float(retry_after or 1))


async def run_phase(port, server, clients, attack, arguments, drawings, log_path) -> dict:
    """One phase: the drawing clients and, unless ``attack`` is None, the attackers of that kind."""
    if attack in PICTURE_SETS:
        PICTURE_SETS[attack]()  # built before the phase's clock starts
    process = psutil.Process(server.pid)
    stop, sampler, records, outcomes = asyncio.Event(), MemorySampler(process), [], []
    log_start = log_path.stat().st_size
    sampling = asyncio.create_task(sampler.run(stop))
    server_cpu_s, client_cpu_s = tree_cpu_s(process), time.process_time()
    started = time.monotonic()
    until = started + arguments.duration
    attackers = (
        []
        if attack is None
        else [ATTACKERS[attack](port, until, outcomes, index) for index in range(arguments.attackers)]
    )
    attacking = [asyncio.ensure_future(attacker) for attacker in attackers]
    await asyncio.gather(
        *[drawing_loop(client, drawings, until, index, records) for index, client in enumerate(clients)]
    )
    elapsed = time.monotonic() - started
    server_cpu_s, client_cpu_s = tree_cpu_s(process) - server_cpu_s, time.process_time() - client_cpu_s
    await asyncio.gather(*attacking)  # a connection held past the phase's end is waited for: a hang shows
    await asyncio.sleep(SETTLE_S)
    stop.set()
    await sampling
    good = [seconds for status, seconds in records if status == "200"]
    with open(log_path, "rb") as log:
        log.seek(log_start)
        tracebacks = log.read().count(b"Traceback")
    statuses = Counter(status for status, _ in records)
    return {
        "attack": attack or "none",
        "duration_s": round(elapsed, 1),
        "good_200_per_s": round(len(good) / elapsed, 1),
        "good_statuses": dict(sorted(statuses.items())),
        "good_200_p99_s": percentile(good, 99),
        "good_max_wait_s": round(max(seconds for _, seconds in records), 3) if records else None,
        "attack_answers": dict(sorted(Counter(status for status, _ in outcomes).items())),
        "attack_longest_held_s": round(max((seconds for _, seconds in outcomes), default=0.0), 2),
        "peak_memory_bytes": max(rss for _, rss in sampler.samples),
        "after_memory_bytes": tree_rss(process),
        "tracebacks": tracebacks,
        # The cores are shared with this client (and whatever else runs): what each got while drawing.
        "server_cpu_s": round(server_cpu_s, 1),
        "good_200_per_server_cpu_s": round(len(good) / max(server_cpu_s, 1e-9), 1),
        "client_cpu_s": round(client_cpu_s, 1),
    }


def phase_goals(phase: dict, baseline: dict, warm_bytes: int) -> dict:
    """Which goals a phase met, against the no-attack phase and the memory after warm-up."""
    answers = {**phase["good_statuses"], **phase["attack_answers"]}
    server_errors = sum(
        count
        for status, count in answers.items()
        for code in [status.split(": ")[-1][:3]]
        if code.isdigit() and int(code) >= 500 and code != "503"
    )
    hangs = sum(count for status, count in answers.items() if "timeout" in status or "left open" in status)
    p99 = phase["good_200_p99_s"]
    return {
        "good_reads": phase["good_200_per_s"] >= GOOD_READS_SHARE * baseline["good_200_per_s"],
        "good_p99": p99 is not None and p99 <= GOOD_P99_S,
        "good_max_wait": phase["good_max_wait_s"] is not None and phase["good_max_wait_s"] <= GOOD_MAX_WAIT_S,
        "peak_memory": phase["peak_memory_bytes"] <= PEAK_MEMORY_LIMIT,
        "memory_returns": abs(phase["after_memory_bytes"] / warm_bytes - 1) <= 0.10,
        "no_500": server_errors == 0 and phase["tracebacks"] == 0,
        "no_hang": hangs == 0 and phase["attack_longest_held_s"] <= REQUEST_TIMEOUT_S,
    }


async def run_all(port: int, server: subprocess.Popen, arguments: argparse.Namespace, log_path: Path) -> dict:
    drawings = [encoded(drawn_digit(seed)) for seed in range(8)]
    clients = [
        httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            transport=httpx2.AsyncHTTPTransport(local_address=client_address(index)),
        )
        for index in range(arguments.clients)
    ]
    try:
        await wait_until_up(clients[0], server, timeout_s=180)
        for content in drawings * 4:  # warm-up: first uses load code and size buffers
            await clients[0].post("/api/predict", files={"image": ("d.png", content, "image/png")})
        await asyncio.sleep(2)
        warm_bytes = tree_rss(psutil.Process(server.pid))
        phases = []
        for attack in interleaved(arguments.attacks):
            phases.append(await run_phase(port, server, clients, attack, arguments, drawings, log_path))
            print(
                json.dumps({key: phases[-1][key] for key in ("attack", "good_200_per_s", "attack_answers")})
            )
    finally:
        for client in clients:
            await client.aclose()
    for index, phase in enumerate(phases):
        baseline = neighbouring_baseline(phases, index)
        phase["no_attack_good_200_per_s"] = baseline["good_200_per_s"]
        phase["good_200_share_of_no_attack"] = round(
            phase["good_200_per_s"] / max(baseline["good_200_per_s"], 1e-9), 3
        )
        phase["goals_met"] = phase_goals(phase, baseline, warm_bytes)
    return {"warm_memory_bytes": warm_bytes, "phases": phases}


def interleaved(attacks: list[str]) -> list[str | None]:
    """The phases' attacks: each attack between two phases with none (None), ``[None, a, None, b, None]``."""
    phases: list[str | None] = [None]
    for attack in attacks:
        phases += [attack, None]
    return phases


def neighbouring_baseline(phases: list[dict], index: int) -> dict:
    """What phase ``index`` is judged against: the mean drawings' rate of the no-attack phases next to it
    (a no-attack phase is judged against itself)."""
    if phases[index]["attack"] == "none":
        return phases[index]
    around = [
        phase["good_200_per_s"]
        for phase in phases[max(index - 1, 0) : index + 2]
        if phase["attack"] == "none"
    ]
    return {"good_200_per_s": round(sum(around) / len(around), 1)}


def attack_list(text: str) -> list[str]:
    """``--attacks``: comma-separated names from :data:`ATTACKS`."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ATTACKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown attack {', '.join(unknown)}; choose from {', '.join(ATTACKS)}"
        )
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lab.load_fault_test", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100, help="drawing clients (default: %(default)s)")
    parser.add_argument(
        "--attackers", type=int, default=20, help="attacking connections (default: %(default)s)"
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds a phase (default: %(default)s)")
    parser.add_argument(
        "--attacks", type=attack_list, default=list(ATTACKS), help=f"comma-separated, of {','.join(ATTACKS)}"
    )
    parser.add_argument("--model", type=Path, default=config.MODEL_PATH, help="model to serve")
    parser.add_argument(
        "--output", type=Path, default=LOAD_FAULT_TEST_PATH, help="report (default: %(default)s)"
    )
    arguments = parser.parse_args(argv)
    if PICTURE_SETS.keys() & set(arguments.attacks):
        try:
            import lab.hostile_pictures  # noqa: F401
        except ImportError:
            parser.error(
                "the pictures and big_jpegs attacks need lab/hostile_pictures.py; leave them out of --attacks"
            )
    return arguments


def main(argv: list[str] | None = None) -> dict:
    arguments = parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "server.log"
        command = [
            sys.executable,
            "-m",
            "digit_recog.cli",
            "serve",
            "--port",
            str(port),
            "--model",
            str(arguments.model),
        ]
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
            )
        try:
            results = asyncio.run(run_all(port, server, arguments, log_path))
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {
        "clients": arguments.clients,
        "attackers": arguments.attackers,
        "cpu_count": os.cpu_count(),
        **results,
        "goals": GOALS,
    }
    write_json(report, arguments.output)
    print(f"wrote {shown_path(arguments.output)}")
    return report


if __name__ == "__main__":
    main()
