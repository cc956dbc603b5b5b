"""One hyperparameter search shared by a chief and several workers, on this machine or across machines.

This is KerasTuner's own distribution. Every process builds the same tuner on the same directory and
project name; the environment gives each its role. ``KERASTUNER_TUNER_ID=chief`` serves the oracle
over gRPC at ``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT`` and only hands out trials; any other id
(``tuner0``, ``tuner1``, ...) is a worker that asks the chief for a trial, trains it, reports the
result and asks again. A worker ends when the chief answers STOPPED (the budget is spent); the chief
ends once every worker it has seen was told to stop and no trial is running (it looks every 20 s).
Trials are saved in the shared directory as they finish, so rerunning the same command after an
interruption resumes the search: unfinished trials are handed out again.

Usage::

    python -m digit_recog.experiments.distributed --workers 2        # chief + 2 workers here
    python -m digit_recog.experiments.distributed --role chief --host 0.0.0.0 --port 8000 \\
        --directory /shared/tuner
    python -m digit_recog.experiments.distributed --role worker --tuner-id tuner1 --host CHIEF_IP \\
        --port 8000 --directory /shared/tuner
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from digit_recog import config, data
from digit_recog.experiments import search

CHIEF_ID = "chief"
LAUNCH_ROLES = ("launch", "chief", "worker")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: the role, where the chief listens, the search budget and where results go."""
    parser = argparse.ArgumentParser(
        prog="python -m digit_recog.experiments.distributed",
        description="Hyperparameter search with a KerasTuner chief and worker processes.",
    )
    parser.add_argument(
        "--role",
        choices=LAUNCH_ROLES,
        default="launch",
        help="launch: start a chief and --workers workers here and wait (default); chief or worker: be one "
        "process of a search spread over machines",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes to launch (default 2)")
    parser.add_argument("--tuner-id", default="tuner0", help="this worker's unique id (--role worker)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address the chief listens on / workers connect to"
    )
    parser.add_argument("--port", type=int, default=0, help="chief's port (launch: 0 picks a free one)")
    parser.add_argument("--kind", choices=search.TUNER_KINDS, default="hyperband", help="search algorithm")
    parser.add_argument("--max-trials", type=int, default=None, help="trials (bayesian/random) or cap")
    parser.add_argument("--max-epochs", type=int, default=4, help="most epochs per trial")
    parser.add_argument("--train-subset", type=int, default=15_000, help="training images (0: all)")
    parser.add_argument("--executions", type=int, default=1, help="trainings averaged per trial")
    parser.add_argument("--seed", type=int, default=config.SEED)
    parser.add_argument("--directory", type=Path, default=config.TUNER_DIR, help="shared tuner folder")
    parser.add_argument("--project-name", default=None, help="default: named after the budget")
    parser.add_argument("--split", type=Path, default=config.SPLIT_PATH, help="split file from 02_preprocess")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per worker (0: cores / workers)")
    parser.add_argument("--grace", type=float, default=60, help="seconds workers get after the chief ends")
    parser.add_argument(
        "--timeout", type=float, default=0, help="stop everything after this many s (0: never)"
    )
    parser.add_argument(
        "--save", action="store_true", help="write reports/search.csv, models/best_hparams.json"
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.role != "launch" and not args.port:
        parser.error(f"--role {args.role} needs the chief's --port")
    if args.role == "worker" and CHIEF_ID in args.tuner_id:  # KerasTuner takes any such id for the chief
        parser.error(f"--tuner-id {args.tuner_id!r} must not contain {CHIEF_ID!r}")
    return args


def budget_from_args(args: argparse.Namespace) -> search.SearchBudget:
    """The :class:`~digit_recog.experiments.search.SearchBudget` the command line describes."""
    return search.SearchBudget(
        kind=args.kind,
        max_epochs=args.max_epochs,
        max_trials=args.max_trials,
        train_subset=args.train_subset or None,
        executions_per_trial=args.executions,
        seed=args.seed,
    )


def run_process(args: argparse.Namespace) -> int:
    """Be the chief (serve trials until the budget is spent) or a worker (train trials until told to stop)."""
    tuner_id = CHIEF_ID if args.role == "chief" else args.tuner_id
    os.environ.update(
        KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=args.host, KERASTUNER_ORACLE_PORT=str(args.port)
    )
    _limit_threads(args.threads)
    budget = budget_from_args(args)
    tuner = search.build_tuner(budget, args.directory, args.project_name or budget.project_name())
    if args.role == "chief":
        # The chief never trains: search() serves the oracle and returns once every worker is done.
        tuner.search(verbose=1)
    else:
        train_images, train_labels, val_images, val_labels = search.search_data(budget, args.split)
        search.run_search(tuner, budget, train_images, train_labels, val_images, val_labels, verbose=2)
    return 0


def _limit_threads(threads: int) -> None:
    """Keep workers sharing one machine from each starting a thread per core."""
    if threads:
        import tensorflow as tf  # the launcher never trains, so only the chief and workers load TensorFlow

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))


def free_port(host: str) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def process_command(args: argparse.Namespace, role: str, tuner_id: str, port: int, threads: int) -> list[str]:
    """The command line of one chief or worker process, with the same budget as the launcher's."""
    command = [
        sys.executable,
        "-m",
        "digit_recog.experiments.distributed",
        "--role",
        role,
        "--tuner-id",
        tuner_id,
    ]
    command += ["--host", args.host, "--port", str(port), "--kind", args.kind]
    command += ["--max-epochs", str(args.max_epochs), "--train-subset", str(args.train_subset)]
    command += ["--executions", str(args.executions), "--seed", str(args.seed)]
    command += ["--directory", str(args.directory), "--split", str(args.split), "--threads", str(threads)]
    if args.max_trials:
        command += ["--max-trials", str(args.max_trials)]
    if args.project_name:
        command += ["--project-name", args.project_name]
    return command


def launch(args: argparse.Namespace) -> int:
    """Start a chief and ``args.workers`` workers on this machine, wait for them, print the best trial.

    The chief's output (one block per trial started and finished) goes to this terminal, each worker's
    training log to ``<directory>/<project>/logs/<tuner id>.log``.

    Returns:
        0 when every process ended by itself and the results were gathered, else 1.
    """
    budget = budget_from_args(args)
    project_name = args.project_name or budget.project_name()
    port = args.port or free_port(args.host)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    log_dir = Path(args.directory) / project_name / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    print(f"search {project_name} in {args.directory}: chief on {args.host}:{port}, {args.workers} workers")
    processes = {
        CHIEF_ID: subprocess.Popen(process_command(args, "chief", CHIEF_ID, port, 1), env=environment)
    }
    for index in range(args.workers):
        tuner_id = f"tuner{index}"
        log_path = log_dir / f"{tuner_id}.log"
        with open(log_path, "w") as log:
            processes[tuner_id] = subprocess.Popen(
                process_command(args, "worker", tuner_id, port, threads),
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        print(f"  {tuner_id}: pid {processes[tuner_id].pid}, log {log_path}")
    # A `kill` of the launcher stops its chief and workers too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        ok = wait_for(processes, args.grace, args.timeout)
    except KeyboardInterrupt:
        stop(processes)
        print("interrupted: run the same command again to resume the search", file=sys.stderr)
        return 130
    if not ok:
        return 1
    return report(args.directory, project_name, budget, args.split, args.save)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def wait_for(processes: dict[str, subprocess.Popen], grace: float, timeout: float) -> bool:
    """Wait until every process has ended; stop them all if one fails or ``timeout`` runs out.

    A worker still running ``grace`` seconds after the chief ended has been given no trial (it started
    after the budget was spent) and is stopped. Returns whether all went well.
    """
    started, chief_ended = time.monotonic(), None
    while any(process.poll() is None for process in processes.values()):
        failed = {name: p.returncode for name, p in processes.items() if p.returncode not in (None, 0)}
        if failed:
            stop(processes)
            print(f"failed: {failed} (exit codes); see the logs, then rerun to resume", file=sys.stderr)
            return False
        now = time.monotonic()
        if timeout and now - started > timeout:
            stop(processes)
            print(f"timed out after {timeout:.0f} s; run the same command again to resume", file=sys.stderr)
            return False
        if processes[CHIEF_ID].returncode == 0:
            chief_ended = chief_ended or now
            if now - chief_ended > grace:
                idle = [name for name, process in processes.items() if process.poll() is None]
                print(f"the search ended before {idle} got a trial; stopping them", file=sys.stderr)
                stop(processes)
                break
        time.sleep(0.5)
    failed = {name: p.returncode for name, p in processes.items() if p.returncode not in (0, -15)}
    if failed:
        print(f"failed: {failed} (exit codes); see the logs, then rerun to resume", file=sys.stderr)
    return not failed


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """Terminate the processes this launcher started that are still running (kill after 10 s)."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def report(directory: Path, project_name: str, budget: search.SearchBudget, split: Path, save: bool) -> int:
    """Gather every trial from the shared directory, print the best, and save the results if asked."""
    results = search.results_frame(search.load_trials(directory, project_name))
    best = search.best_trial(results)
    counts = results["status"].value_counts().to_dict()
    print(
        f"{len(results)} trials {counts}; "
        f"best: trial {best['trial_id']}, val_accuracy {best['val_accuracy']:.4f}"
    )
    print(f"best hyperparameters: {search.best_hparams(results)}")
    if save:
        train_indices, val_indices = data.load_split(split)
        train_images = min(len(train_indices), budget.train_subset or len(train_indices))
        details = search.budget_details(budget, train_images, len(val_indices))
        for path in search.save_results(results, **details):
            print("saved", path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m digit_recog.experiments.distributed`` and ``digit-recog tune``."""
    args = parse_args(argv)
    if args.role == "launch":
        return launch(args)
    return run_process(args)


if __name__ == "__main__":
    sys.exit(main())
