"""Experiment runs: every training that is not the shipped model writes under ``runs/<run_name>/``.

The shipped model and its reports (``models/``, ``reports/``, ``figures/``) are replaced only by ``make run``
(``03_train`` with ``promote=True``) or by :func:`promote`. Any other training, a tweak of ``epochs`` in a
notebook say, goes to a run folder of its own, and the later notebooks read it when given its ``run_name``:

    runs/<run_name>/model.keras     training.json history.json metrics.json ...   (reports)
                    figures/        tensorboard/                                   (figures, TensorBoard logs)

``run_name=None`` in ``04``-``08`` means the shipped model.
"""

import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from digit_recog import config
from digit_recog.artifacts import MissingArtifactError, atomic_path, parse_json, shown_path

SHIPPED = "shipped"  # how tables name the shipped model; not a valid run name
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MODEL_FILE = "model.keras"
TABLE_COLUMNS = (
    "run", "preset", "epochs", "best_epoch", "batch_size", "learning_rate", "train_images", "val_accuracy",
    "val_loss", "test_accuracy", "train_seconds", "finished_at", "machine",
)  # fmt: skip


class RunNameError(ValueError):
    """A run name that cannot be a folder name of its own."""


class RunExistsError(FileExistsError):
    """A new run was asked for under a name that already has a folder."""


@dataclass(frozen=True)
class RunPaths:
    """Where one run (or the shipped model) keeps what it makes."""

    name: str
    split: Path
    model: Path
    checkpoint: Path
    reports_dir: Path
    figures_dir: Path
    tensorboard_dir: Path

    @property
    def history(self) -> Path:
        return self.report("history.json")

    @property
    def training(self) -> Path:
        return self.report("training.json")

    @property
    def metrics(self) -> Path:
        return self.report("metrics.json")

    @property
    def is_shipped(self) -> bool:
        return self.name == SHIPPED

    def report(self, file_name: str) -> Path:
        """A report of this run, e.g. ``report("robustness.csv")``."""
        return self.reports_dir / file_name

    def figure(self, file_name: str) -> Path:
        """A figure of this run, e.g. ``figure("confusion_matrix.png")``."""
        return self.figures_dir / file_name


def shipped() -> RunPaths:
    """The shipped model's paths, those of ``config``."""
    return RunPaths(
        name=SHIPPED,
        split=config.SPLIT_PATH,
        model=config.MODEL_PATH,
        checkpoint=config.CHECKPOINT_PATH,
        reports_dir=config.REPORTS_DIR,
        figures_dir=config.FIGURES_DIR,
        tensorboard_dir=config.RUNS_DIR / "tensorboard" / SHIPPED,
    )


def run_paths(run_name: str) -> RunPaths:
    """The paths of run ``run_name`` under ``runs/``, whether or not it exists yet.

    Its split is the run's own when ``02_preprocess`` wrote one for it, else the shipped split.

    Raises:
        RunNameError: for a name that is not a plain folder name (see :func:`check_run_name`).
    """
    root = config.RUNS_DIR / check_run_name(run_name)
    own_split = root / config.SPLIT_PATH.name
    return RunPaths(
        name=run_name,
        split=own_split if own_split.is_file() else config.SPLIT_PATH,
        model=root / MODEL_FILE,
        checkpoint=root / "checkpoints" / config.CHECKPOINT_PATH.name,
        reports_dir=root,
        figures_dir=root / "figures",
        tensorboard_dir=config.RUNS_DIR / "tensorboard" / run_name,
    )


def check_run_name(run_name: str) -> str:
    """Return ``run_name`` if it can name a folder of its own under ``runs/``.

    Raises:
        RunNameError: naming the problem: a path separator, ``..``, a leading dot, other characters, or
            the reserved name ``shipped``.
    """
    if not isinstance(run_name, str) or not RUN_NAME.fullmatch(run_name) or run_name == SHIPPED:
        raise RunNameError(
            f"run_name {run_name!r} cannot name a run folder: use 1-64 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (no '/' or '..'), and not {SHIPPED!r}."
        )
    return run_name


def split_destination(run_name: str | None, validation_size: int, seed: int) -> Path:
    """Where ``02_preprocess`` writes a split: the shipped split's path, or run ``run_name``'s own.

    Raises:
        ValueError: for a split other than the shipped one (another size or seed) without a ``run_name``,
            which would change what every later notebook reads.
    """
    if run_name is not None:
        return config.RUNS_DIR / check_run_name(run_name) / config.SPLIT_PATH.name
    if (validation_size, seed) != (config.VALIDATION_SIZE, config.SEED):
        raise ValueError(
            f"a split of {validation_size} images with seed {seed} is not the shipped one "
            f"({config.VALIDATION_SIZE}, seed {config.SEED}): give it a run_name, and train with that name."
        )
    return config.SPLIT_PATH


def default_run_name(preset: str, now: datetime | None = None) -> str:
    """A fresh name for a run nobody named: the preset and the time, e.g. ``default-20261130-101500``."""
    now = now or datetime.now(timezone.utc)
    return f"{preset}-{now:%Y%m%d-%H%M%S}"


def new_training_run(run_name: str | None, preset: str, promote: bool, overwrite: bool = False) -> RunPaths:
    """Where a training in ``03_train`` writes: the shipped paths when promoting, else a new run folder.

    Args:
        run_name: the run's name; None picks :func:`default_run_name`.
        preset: the preset trained, for the default name.
        promote: True (``make run``) to replace the shipped model and its reports.
        overwrite: allow writing into an existing run folder.

    Raises:
        RunNameError: for a bad name; RunExistsError: when the run exists and ``overwrite`` is False.
        ValueError: when both ``promote`` and ``run_name`` are given.
    """
    if promote:
        if run_name is not None:
            raise ValueError(
                "promote=True replaces the shipped model, run_name writes a run of its own: give one of them "
                "(or promote a finished run with `digit-recog runs promote NAME`)."
            )
        return shipped()
    paths = run_paths(run_name or default_run_name(preset))
    if paths.reports_dir.exists() and not overwrite:
        raise RunExistsError(
            f"{shown_path(paths.reports_dir)} already holds a run named {paths.name!r}: choose another "
            "run_name, delete that folder, or set overwrite_run=True to replace it."
        )
    return paths


def existing_run(run_name: str | None) -> RunPaths:
    """The run a later notebook reads: the shipped model for None, else run ``run_name``, which must exist.

    Raises:
        RunNameError: for a bad name.
        MissingArtifactError: when ``runs/<run_name>/`` has no model, naming the notebook call that makes it.
    """
    if run_name is None:
        return shipped()
    paths = run_paths(run_name)
    if not paths.model.is_file():
        raise MissingArtifactError(
            f"{shown_path(paths.model)} does not exist: train that run first, e.g. "
            f"`papermill notebooks/03_train.ipynb out.ipynb -p run_name {run_name}` "
            f"(runs so far: {', '.join(run_names()) or 'none'})."
        )
    return paths


def run_names() -> list[str]:
    """Names of the runs under ``runs/`` that have a training summary, oldest first."""
    if not config.RUNS_DIR.is_dir():
        return []
    found = [
        folder
        for folder in config.RUNS_DIR.iterdir()
        if RUN_NAME.fullmatch(folder.name) and (folder / "training.json").is_file()
    ]
    return [
        folder.name for folder in sorted(found, key=lambda folder: (folder / "training.json").stat().st_mtime)
    ]


def runs_table(include_shipped: bool = True) -> pd.DataFrame:
    """One row per run (and the shipped model first): parameters, validation accuracy and loss, time.

    Columns: ``run``, ``preset``, ``epochs``, ``best_epoch``, ``batch_size``, ``learning_rate``,
    ``train_images``, ``val_accuracy``, ``val_loss``, ``test_accuracy`` (where ``04_evaluate`` scored the
    run), ``train_seconds``, ``finished_at``, ``machine``.
    """
    runs = ([shipped()] if include_shipped and shipped().training.is_file() else []) + [
        run_paths(name) for name in run_names()
    ]
    return pd.DataFrame([_summary_row(paths) for paths in runs], columns=list(TABLE_COLUMNS))


def _summary_row(paths: RunPaths) -> dict:
    training = parse_json(paths.training, "train the run again with 03_train")
    metrics = parse_json(paths.metrics, "rerun 04_evaluate on it") if paths.metrics.is_file() else {}
    train_config = training.get("train_config", {})
    best = training.get("best_epoch_metrics", {})
    machine = training.get("machine", {})
    return {
        "run": paths.name,
        "preset": training.get("preset"),
        "epochs": training.get("epochs_run"),
        "best_epoch": training.get("best_epoch"),
        "batch_size": train_config.get("batch_size"),
        "learning_rate": train_config.get("learning_rate"),
        "train_images": training.get("train_images"),
        "val_accuracy": best.get("val_accuracy"),
        "val_loss": best.get("val_loss"),
        "test_accuracy": metrics.get("test_accuracy"),
        "train_seconds": training.get("train_seconds"),
        "finished_at": training.get("finished_at"),
        "machine": ", ".join([machine.get("cpu_model", "?"), *machine.get("gpus", [])]) if machine else None,
    }


def histories(names: list[str] | None = None) -> dict[str, dict]:
    """The per-epoch history of each named run (default: the shipped model and every run)."""
    names = names if names is not None else ([SHIPPED] if shipped().history.is_file() else []) + run_names()
    return {
        name: parse_json((shipped() if name == SHIPPED else run_paths(name)).history, "train it again")
        for name in names
    }


def promote(run_name: str) -> list[Path]:
    """Make run ``run_name`` the shipped model: copy its model, reports and figures over the shipped ones.

    Returns the shipped paths written. Reports the run lacks (say it was never evaluated) are left as they
    were, so run ``make run``'s later notebooks (04, 05, 08) afterwards to refresh them.
    """
    source, target = existing_run(run_name), shipped()
    reports = sorted([*source.reports_dir.glob("*.json"), *source.reports_dir.glob("*.csv")])
    return [
        _copy(source.model, target.model),
        *(_copy(path, target.report(path.name)) for path in reports),
        *(_copy(path, target.figure(path.name)) for path in sorted(source.figures_dir.glob("*.png"))),
    ]


def _copy(source: Path, destination: Path) -> Path:
    with atomic_path(destination) as partial:
        shutil.copyfile(source, partial)
    return destination
