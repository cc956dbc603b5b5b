"""Decoding under a budget: every untrusted picture is decoded and cleaned in a worker process that may spend
at most ``MAX_CPU_SECONDS`` of CPU time and ``MAX_MEMORY_BYTES`` of memory on it.

The format checks in :mod:`digit_recog.reading.decoding` refuse the tricks we know of; the budget bounds
the ones we do not. Each worker is a fresh process started by a ``forkserver`` (never a fork of a process
holding TensorFlow's threads) with its address space capped (``RLIMIT_AS``); before each picture its soft
``RLIMIT_CPU`` is raised to the CPU time it has used plus the budget, so a picture that runs past it is
killed by the kernel (SIGXCPU), and the caller also gives up after ``MAX_WALL_SECONDS``. A worker past
either limit is replaced; the picture is refused with :class:`DecodingBudgetError`. Only the 28x28 result
(or a number's digits and boxes) comes back, so a drawing costs a fraction of a millisecond of IPC.
"""

import contextlib
import math
import multiprocessing
import os
import queue
import resource
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from digit_recog.reading.decoding import ImageSource, ImageTooLargeError, PreprocessError
from digit_recog.reading.image import preprocess_image, segment_digits

# A 50-megapixel PNG or a 49-megapixel progressive JPEG takes about a second of one core to decode and clean.
MAX_CPU_SECONDS = 3.0
# Waiting past this (the worker is stuck, or starved of CPU) gives up on the picture too.
MAX_WALL_SECONDS = 15.0
# Address space a worker may take beyond what it holds when idle: the largest picture the gate admits
# (100 MB decoded; a 49-megapixel colour progressive JPEG's 294 MB of coefficients) fits, a 2 GB one not.
MAX_MEMORY_BYTES = 640 * 1024 * 1024
# A number longer than this is refused: no house number, year or amount needs more digits.
MAX_NUMBER_DIGITS = 32
# The first worker waits for the forkserver to start and import the worker's code; later ones are forked.
STARTUP_SECONDS = 60.0
# The worker's code is imported once in the forkserver, so each new worker starts in milliseconds.
_PRELOADED = ["digit_recog.reading.budget"]


class WorkerStartError(RuntimeError):
    """A decoding worker process could not be started."""


class DecodingBudgetError(ImageTooLargeError):
    """A picture needed more CPU time, memory or wall-clock time than its budget allows."""


class TooManyDigitsError(PreprocessError):
    """A picture read as a number holds more than ``MAX_NUMBER_DIGITS`` digits."""


@dataclass(frozen=True)
class Budget:
    """What one picture may cost: CPU seconds and memory in its worker, and seconds of waiting for it."""

    cpu_seconds: float = MAX_CPU_SECONDS
    memory_bytes: int = MAX_MEMORY_BYTES
    wall_seconds: float = MAX_WALL_SECONDS

    def describe(self) -> str:
        """The limits as words, for error messages."""
        return (
            f"{self.cpu_seconds:g} s of CPU, {self.memory_bytes / 2**20:,.0f} MB of memory, "
            f"{self.wall_seconds:g} s in all"
        )


# What a worker does with a picture: name -> function(source, name) returning small, picklable results.


def _digit(source: ImageSource, name: str) -> np.ndarray:
    return preprocess_image(source, name)


def _number(source: ImageSource, name: str) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    segments = segment_digits(source, name)
    if len(segments) > MAX_NUMBER_DIGITS:
        raise TooManyDigitsError(
            f"{name}: {len(segments)} digits found; a number is read with at most {MAX_NUMBER_DIGITS} digits"
        )
    return [(segment.image, segment.box) for segment in segments]


JOBS = {"digit": _digit, "number": _number}


def _serve(connection: Connection, memory_bytes: int, niceness: int = 0) -> None:
    """A worker's loop: cap its memory, lower its priority by ``niceness``, then read jobs until told to
    stop. A job is a list of pictures; each is read under a fresh CPU limit and answered as soon as it is."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a SIGXCPU kill leaves no core file
    if niceness:
        os.nice(niceness)
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _address_space() + memory_bytes
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError):  # no /proc or no address-space limit (macOS): the time limits still hold
        pass
    connection.send("ready")
    while True:
        job = connection.recv()
        if job is None:
            return
        kind, pictures, cpu_seconds = job
        job = None  # each picture's bytes go once it is answered
        pictures.reverse()
        while pictures:
            source, name = pictures.pop()
            reply = _answer(kind, source, name, cpu_seconds)
            source = None
            connection.send(reply)
            if reply[0] == "memory":
                return  # after a failed allocation, a fresh worker is safer than this one


def _answer(kind: str, source: ImageSource, name: str, cpu_seconds: float) -> tuple:
    """``("ok", result)``, ``("error", exception)`` or ``("memory", None)`` for one picture, read under a
    fresh limit of ``cpu_seconds``."""
    _limit_cpu(cpu_seconds)
    try:
        return ("ok", JOBS[kind](source, name))
    except MemoryError:
        return ("memory", None)
    except Exception as error:  # noqa: BLE001 - raised again in the caller, as if read there
        return ("error", error)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def _limit_cpu(cpu_seconds: float) -> None:
    """Have the kernel end this process once it spends ``cpu_seconds`` more of CPU time.

    The profiling timer counts CPU time to the microsecond and its SIGPROF ends the process, even inside a
    decoder's C code; ``RLIMIT_CPU`` (whole seconds, SIGXCPU) stands behind it, a second later.
    """
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu_seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _address_space() -> int:
    """Bytes of address space this process holds now (its VmSize)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context, memory_bytes: int, niceness: int = 0) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, memory_bytes, niceness), daemon=True)
        self.process.start()
        child.close()
        try:
            if self.connection.poll(STARTUP_SECONDS) and self.connection.recv() == "ready":
                return
        except EOFError:
            pass
        self.kill()
        raise WorkerStartError(
            "a decoding worker process did not start (its error is above); a script that reads pictures "
            "under the budget must start its work under `if __name__ == '__main__':`, as any "
            "multiprocessing program must"
        )

    def stop(self) -> None:
        """Ask the worker to finish; kill it if it does not within a second."""
        with contextlib.suppress(OSError):  # a worker that died already has closed its end
            self.connection.send(None)
        self.process.join(1)
        self.kill()

    def kill(self) -> None:
        """End the worker now (it is stuck or over its budget) and reap it."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


class DecodingPool:
    """``workers`` budgeted worker processes; :meth:`run` reads one picture in whichever is free.

    Safe to call from several threads at once: a caller waits for a free worker. Use it as a context manager,
    or call :meth:`close`, to stop the workers. With ``niceness``, the workers run at that much lower a
    priority (``os.nice``): under load the cores go to other work first, and the pictures wait.
    """

    def __init__(self, workers: int = 1, budget: Budget | None = None, niceness: int = 0) -> None:
        self.budget = budget or Budget()
        self.workers = workers
        self.niceness = niceness
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOADED)
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(workers):
            self._idle.put(self._start())

    def _start(self) -> _Worker:
        worker = _Worker(self._context, self.budget.memory_bytes, self.niceness)
        with self._lock:
            self._all.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.remove(worker)

    def run(self, kind: str, source: ImageSource, name: str):
        """What job ``kind`` (``"digit"``: the 28x28 input; ``"number"``: ``(image, box)`` per digit) makes
        of ``source``, computed in a worker within the budget.

        Raises:
            DecodingBudgetError: naming the picture and the limit it ran past.
            ImageReadError, ImageTooLargeError, NoDigitFoundError, TooManyDigitsError: as the worker raised.
        """
        outcome = self.run_many(kind, [(source, name)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def run_many(self, kind: str, pictures: list[tuple[ImageSource, str]]) -> list:
        """:meth:`run` of each ``(source, name)`` in one worker, one round trip for all of them: for each
        picture its result, or the :class:`PreprocessError` that refused it. Each picture keeps its own
        budget; a picture that ends its worker is refused and the rest go on in a fresh one.

        Raises:
            Whatever else a worker raised (a bug, not a picture's fault).
        """
        outcomes: list = []
        while len(outcomes) < len(pictures):
            outcomes += self._answers(kind, pictures[len(outcomes) :])
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(outcome, PreprocessError):
                raise outcome
        return outcomes

    def _answers(self, kind: str, pictures: list[tuple[ImageSource, str]]) -> list:
        """Outcomes of the first of ``pictures`` one idle worker reads: all of them, or up to and including
        the one that ended the worker (which is then replaced)."""
        if self._closed:
            raise RuntimeError("the decoding pool is closed")
        worker, outcomes, job = self._idle.get(), [], (kind, pictures, self.budget.cpu_seconds)
        try:
            for _, name in pictures:
                reply = self._exchange(worker, name, job if not outcomes else None)
                if reply[0] == "memory":
                    raise self._memory_error(name)
                outcomes.append(reply[1])
        except DecodingBudgetError as error:
            self._replace(worker)
            return [*outcomes, error]
        except BaseException:
            self._replace(worker)
            raise
        self._idle.put(worker)
        return outcomes

    def _replace(self, worker: _Worker) -> None:
        self._retire(worker)
        self._idle.put(self._start())

    def _memory_error(self, name: str) -> DecodingBudgetError:
        return DecodingBudgetError(
            f"{name} needs more memory to decode than the {self.budget.memory_bytes / 2**20:,.0f} MB "
            "a picture may take; resize it first"
        )

    def _exchange(self, worker: _Worker, name: str, job: tuple | None) -> tuple:
        """Send ``job`` (unless None), then the worker's reply for the picture ``name`` within the wall-clock
        budget; raise if the worker dies."""
        budget = self.budget
        try:
            if job is not None:
                worker.connection.send(job)
            if worker.connection.poll(budget.wall_seconds):
                return worker.connection.recv()
            raise DecodingBudgetError(
                f"{name} took longer than {budget.wall_seconds:g} s to decode (the limit per picture); "
                "it was given up"
            )
        except (EOFError, BrokenPipeError, ConnectionResetError):
            worker.process.join(1)
            if worker.process.exitcode in (-signal.SIGPROF, -signal.SIGXCPU):
                raise DecodingBudgetError(
                    f"{name} needs more than {budget.cpu_seconds:g} s of CPU time to decode (the limit "
                    "per picture); resize it or save it as a plain PNG or baseline JPEG first"
                ) from None
            raise DecodingBudgetError(
                f"{name} could not be decoded within the limits per picture ({budget.describe()}): its "
                f"decoder ended (exit status {worker.process.exitcode})"
            ) from None

    def worker_pids(self) -> list[int]:
        """The process ids of the workers now running (to measure or watch them)."""
        with self._lock:
            return [worker.process.pid for worker in self._all]

    def close(self) -> None:
        """Stop every worker."""
        self._closed = True
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop()

    def __enter__(self) -> "DecodingPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


_shared: DecodingPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> DecodingPool:
    """One pool of a single worker for this process, started on first use (for library calls)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = DecodingPool(1)
        return _shared
