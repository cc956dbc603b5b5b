"""Distributed search: a chief and two workers share one search and end by themselves."""

import subprocess
import sys

import pytest

from digit_recog import data
from digit_recog.experiments import distributed, search


@pytest.mark.slow
def test_chief_and_two_workers_run_every_trial_once_and_stop(mnist, tmp_path):
    (_, labels), _ = mnist
    split_path = data.save_split(
        tmp_path / "split.npz", *data.split_train_validation(labels, 1000, 0), seed=0
    )
    directory = tmp_path / "tuner"
    argv = ["--workers", "2", "--host", "127.0.0.1", "--port", str(distributed.free_port("127.0.0.1"))]
    argv += ["--kind", "random", "--max-epochs", "1", "--max-trials", "4", "--train-subset", "600"]
    argv += ["--directory", str(directory), "--split", str(split_path), "--grace", "120"]
    finished = subprocess.run(
        [sys.executable, "-m", "digit_recog.experiments.distributed", *argv],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "got a trial; stopping them" not in finished.stderr, "every process ended by itself"
    assert "best: trial" in finished.stdout and "best hyperparameters: {" in finished.stdout

    budget = distributed.budget_from_args(distributed.parse_args(argv))
    results = search.results_frame(search.load_trials(directory, budget.project_name()))
    assert len(results) == 4 and results["trial_id"].is_unique
    assert (results["status"] == "COMPLETED").all()
    logs = directory / budget.project_name() / "logs"
    assert sorted(path.name for path in logs.iterdir()) == ["tuner0.log", "tuner1.log"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--role", "worker"],
        ["--role", "worker", "--port", "8000", "--tuner-id", "chief2"],
        ["--workers", "0"],
    ],
)
def test_bad_command_lines_are_refused(argv):
    with pytest.raises(SystemExit):
        distributed.parse_args(argv)


def test_worker_commands_carry_the_same_budget():
    args = distributed.parse_args(["--max-trials", "5", "--kind", "bayesian", "--directory", "/shared/tuner"])
    command = distributed.process_command(args, "worker", "tuner3", 8000, threads=2)
    assert command[1:3] == ["-m", "digit_recog.experiments.distributed"]
    for flag, value in [
        ("--role", "worker"),
        ("--tuner-id", "tuner3"),
        ("--port", "8000"),
        ("--max-trials", "5"),
    ]:
        assert command[command.index(flag) + 1] == value
    assert command[command.index("--directory") + 1] == "/shared/tuner"
