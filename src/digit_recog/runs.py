"""Experiment runs: every training that is not the shipped model writes under ``runs/<run_name>/``.

The shipped model and its reports (``models/``, ``reports/``, ``figures/``) are replaced only by
:func:`promote` (``digit-recog runs promote NAME``) or by ``make run``, whose ``03_train`` (``promote=True``)
trains into ``runs/_promoting/`` before the pipeline promotes it the same way (:func:`promote_trained`).
Any other training, a tweak of ``epochs`` in a
notebook say, goes to a run folder of its own, and the later notebooks read it when given its ``run_name``:

    runs/<run_name>/model.keras     training.json history.json metrics.json ...   (reports)
                    figures/        tensorboard/                                   (figures, TensorBoard logs)

``run_name=None`` in ``04``-``08`` means the shipped model. A run folder without its ``training.json`` is
unfinished (training was interrupted, or only ``02_preprocess`` wrote a split there): ``digit-recog runs``
lists it as such, and a new training of the same name replaces it. ``digit-recog runs restore`` puts the
committed shipped model and its reports back from git.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from digit_recog import config
from digit_recog.artifacts import (
    PARTIAL_MARK,
    MissingArtifactError,
    file_sha256,
    give_ordinary_mode,
    parse_json,
    partial_prefix,
    remove_stale_partials,
    shown_path,
)
from digit_recog.modeling.export import thresholds_path

SHIPPED = "shipped"  # how tables name the shipped model; not a valid run name
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MODEL_FILE = "model.keras"
# What 02_preprocess writes into a run folder before any training: kept when a training replaces the run.
PREPARED_FILES = (config.SPLIT_PATH.name, "figures/augmentation_examples.png")
# Where 04, 05 and 08 write what they make of the shipped model unless make run asks for the shipped reports;
# not a valid run name, so never listed as a run.
SHIPPED_SCRATCH = "_shipped"
PROMOTING = "_promoting"  # under runs/: what make run's 03_train trained, until the pipeline promotes it
# Set by make run and the notebook replay: training logs one line per epoch instead of a progress bar.
BATCH_RUN_VARIABLE = "DIGIT_RECOG_BATCH_RUN"
TABLE_COLUMNS = (
    "run", "preset", "training_sets", "epochs", "best_epoch", "batch_size", "learning_rate", "train_images",
    "val_accuracy",
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


def promotion_run() -> RunPaths:
    """Where ``03_train`` writes with ``promote=True`` (``make run``): ``runs/_promoting/``, under the shipped
    model's name (so its floors are strict), until :func:`promote_trained` makes it the shipped model through
    the checks and the staged swap of ``digit-recog runs promote``. An interrupted ``make run`` thus leaves
    the shipped model as it was."""
    root = config.RUNS_DIR / PROMOTING
    return RunPaths(
        name=SHIPPED,
        split=config.SPLIT_PATH,
        model=root / MODEL_FILE,
        checkpoint=root / "checkpoints" / config.CHECKPOINT_PATH.name,
        reports_dir=root,
        figures_dir=root / "figures",
        tensorboard_dir=shipped().tensorboard_dir,
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

    An unfinished run of that name (no ``training.json``) is replaced without asking; replacing a run
    (``overwrite``) first clears everything it wrote (see :func:`clear_run`).
    """
    if promote:
        if run_name is not None:
            raise ValueError(
                "promote=True replaces the shipped model, run_name writes a run of its own: give one of them "
                "(or promote a finished run with `digit-recog runs promote NAME`)."
            )
        staging = promotion_run()
        shutil.rmtree(staging.reports_dir, ignore_errors=True)  # what an interrupted make run left
        return staging
    paths = run_paths(run_name or default_run_name(preset))
    if paths.training.is_file() and not overwrite:
        raise RunExistsError(
            f"{shown_path(paths.reports_dir)} already holds a run named {paths.name!r}: choose another "
            "run_name, delete that folder, or set overwrite_run=True to replace it."
        )
    clear_run(paths)
    return paths


def clear_run(paths: RunPaths) -> None:
    """Delete what run ``paths`` wrote (model, checkpoints, reports, figures, TensorBoard logs), keeping only
    the split and figure ``02_preprocess`` prepared for it (``PREPARED_FILES``)."""
    kept = {paths.reports_dir / name for name in PREPARED_FILES}
    if paths.reports_dir.is_dir():
        for path in sorted(paths.reports_dir.rglob("*"), reverse=True):  # files before their folders
            if path in kept or any(path in keep.parents for keep in kept):
                continue
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
    shutil.rmtree(paths.tensorboard_dir, ignore_errors=True)


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


def writes_of(run: RunPaths, update_shipped_reports: bool = False) -> RunPaths:
    """Where ``04``, ``05`` and ``08`` write the reports and figures they make of ``run``.

    A run's own folder; for the shipped model, its committed ``reports/`` and ``figures/`` only when
    ``update_shipped_reports`` (what ``make run`` sets), else ``runs/_shipped/``, so that looking at the
    shipped model in JupyterLab leaves git's files as they are.
    """
    if not run.is_shipped or update_shipped_reports:
        return run
    scratch = config.RUNS_DIR / SHIPPED_SCRATCH
    return replace(run, reports_dir=scratch, figures_dir=scratch / "figures")


def run_name_list(names: str | list[str] | None) -> list[str] | None:
    """``names`` as a list: one name given as a string is that one run (``"quick"`` -> ``["quick"]``)."""
    return [names] if isinstance(names, str) else None if names is None else list(names)


class FloorError(AssertionError):
    """A score of the shipped model below the floor it must clear."""


def check_floor(what: str, value: float, floor: float | None, strict: bool) -> None:
    """Say whether ``value`` clears ``floor`` (a floor of None is switched off, and says nothing).

    Raises:
        FloorError: below the floor when ``strict`` (the shipped model, and ``make run``); for any other run
            a line says so, and the notebook goes on.
    """
    if floor is None:
        return
    shown = f"{value:.4f}" if isinstance(value, float) else str(value)
    if value >= floor:
        print(f"{what} {shown} clears its floor of {floor}")
        return
    message = f"{what} {shown} is below the floor {floor}"
    if strict:
        raise FloorError(f"{message} (set it to None to switch the floor off)")
    print(f"note: {message}; floors guard only the shipped model, so this run goes on")


def floors_strict(run: RunPaths) -> bool:
    """Whether a notebook's accuracy floors stop it: for the shipped model, and in ``make run`` and the
    notebook replay (``DIGIT_RECOG_BATCH_RUN``); any other run only notes a score below its floor."""
    return run.is_shipped or bool(os.environ.get(BATCH_RUN_VARIABLE))


def shown_paths(paths: list[Path]) -> list[str]:
    """``paths`` as the notebooks print them: relative to the output root (the project, usually)."""
    return [shown_path(Path(path)) for path in paths]


def print_saved(paths: list[Path]) -> None:
    """Print one ``saved PATH`` line for each file written, its path relative to the project."""
    for shown in shown_paths(paths):
        print("saved", shown)


def training_verbosity() -> int:
    """Keras's ``verbose`` for training: a progress bar within each epoch (1) in an interactive session,
    one line per epoch (2) in ``make run`` and the notebook replay, which set ``DIGIT_RECOG_BATCH_RUN``."""
    return 2 if os.environ.get(BATCH_RUN_VARIABLE) else 1


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by the user (Kernel -> Interrupt, Ctrl-C); IPython shows one line, no traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


@contextlib.contextmanager
def interruptible(run: RunPaths) -> Iterator[None]:
    """Turn an interrupt during training into one line saying what was kept of ``run``.

    Raises:
        TrainingInterrupted: instead of the KeyboardInterrupt, so that Run All still stops there.
    """
    try:
        yield
    except KeyboardInterrupt:
        kept = (
            f"the best epoch so far is in {shown_paths([run.checkpoint])[0]}"
            if checkpoint_is_complete(run.checkpoint)
            else "no epoch finished, nothing was kept"
        )
        again = "rerun make run" if run.is_shipped else f"a new training named {run.name!r} replaces it"
        raise TrainingInterrupted(
            f"training interrupted: {kept}; the run is unfinished (no training.json), {again}"
        ) from None


def checkpoint_is_complete(path: Path) -> bool:
    """Whether the checkpoint at ``path`` is a whole ``.keras`` archive (every entry reads back intact):
    what a resumed or inspected run may load. The checkpoint is saved under a temporary name and renamed,
    so a killed save leaves the previous one; this refuses one damaged any other way."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist() and archive.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


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


def unfinished_run_names() -> list[str]:
    """Names of the run folders under ``runs/`` without a training summary (interrupted or only prepared)."""
    if not config.RUNS_DIR.is_dir():
        return []
    return sorted(
        folder.name
        for folder in config.RUNS_DIR.iterdir()
        if folder.is_dir()
        and RUN_NAME.fullmatch(folder.name)
        and folder.name != "tensorboard"
        and not (folder / "training.json").is_file()
    )


def runs_table(include_shipped: bool = True) -> pd.DataFrame:
    """One row per run (and the shipped model first): parameters, validation accuracy and loss, time.

    Columns: ``run``, ``preset``, ``epochs``, ``best_epoch``, ``batch_size``, ``learning_rate``,
    ``train_images``, ``val_accuracy``, ``val_loss``, ``test_accuracy`` (where ``04_evaluate`` scored the
    run), ``train_seconds``, ``finished_at``, ``machine``.
    """
    runs = ([shipped()] if include_shipped and shipped().training.is_file() else []) + [
        run_paths(name) for name in run_names()
    ]
    rows = []
    for paths in runs:
        try:
            rows.append(_summary_row(paths))
        except ValueError:
            continue  # listed by damaged_runs
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def damaged_runs(include_shipped: bool = True) -> dict[str, str]:
    """``{run: what is wrong}`` for the runs (and the shipped model) whose ``training.json`` or
    ``metrics.json`` cannot be read: not UTF-8, not JSON, or not a JSON object. The table leaves them out."""
    runs = ([shipped()] if include_shipped and shipped().training.is_file() else []) + [
        run_paths(name) for name in run_names()
    ]
    damaged = {}
    for paths in runs:
        try:
            _summary_row(paths)
        except ValueError as error:
            damaged[paths.name] = str(error)
    return damaged


def _summary_row(paths: RunPaths) -> dict:
    training = _json_object(paths.training, "train the run again with 03_train")
    metrics = _json_object(paths.metrics, "rerun 04_evaluate on it") if paths.metrics.is_file() else {}
    train_config = training.get("train_config", {})
    best = training.get("best_epoch_metrics", {})
    machine = training.get("machine", {})
    return {
        "run": paths.name,
        "preset": training.get("preset"),
        "training_sets": "+".join(train_config.get("training_sets", ["mnist"])),
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


def _json_object(path: Path, remedy: str) -> dict:
    """The JSON object in the file at ``path``; a ValueError naming the file when it holds anything else."""
    found = parse_json(path, remedy)
    if not isinstance(found, dict) or not all(
        isinstance(found.get(key, {}), dict) for key in ("train_config", "best_epoch_metrics", "machine")
    ):
        raise ValueError(f"{shown_path(path)} is not a training summary (a JSON object): {remedy}.")
    return found


def histories(names: list[str] | None = None) -> dict[str, dict]:
    """The per-epoch history of each named run (default: the shipped model and every run)."""
    names = names if names is not None else ([SHIPPED] if shipped().history.is_file() else []) + run_names()
    return {
        name: parse_json((shipped() if name == SHIPPED else run_paths(name)).history, "train it again")
        for name in names
    }


class PromoteError(ValueError):
    """A run that cannot become the shipped model: unfinished, or a file of it missing or damaged."""


# Under runs/: what the last promote replaced (not a valid run name, so never listed as a run).
PREVIOUS_SHIPPED = "_previous_shipped"


def promote(run_name: str) -> list[Path]:
    """Make run ``run_name`` the shipped model: its model, thresholds, reports and figures, with a version
    record for its model, replace the shipped ones together.

    The run is checked first: a finished run (``training.json``) whose model passes the model gate
    (:func:`digit_recog.reading.predict.load_trained_model`) and has valid thresholds. Every file is then
    copied beside its target under a temporary name, the shipped files it replaces are kept under
    ``runs/_previous_shipped/`` (``digit-recog runs restore previous`` puts them back), and only then is
    each renamed into place. Returns the shipped paths written. Reports the run lacks (say it was never
    evaluated) are left as they were, so run ``make run``'s later notebooks (04, 05, 08) afterwards.

    Raises:
        RunNameError, MissingArtifactError: no such run.
        PromoteError: naming what is wrong with the run; the shipped files are left as they were.
    """
    return _promote(existing_run(run_name))


def promote_trained() -> list[Path]:
    """Make what ``03_train`` trained with ``promote=True`` (:func:`promotion_run`) the shipped model, as
    :func:`promote` does a run, then delete its folder; the pipeline calls it after ``03_train``.

    Raises:
        PromoteError: naming what is wrong; the shipped files are left as they were.
    """
    staging = promotion_run()
    written = _promote(staging)
    shutil.rmtree(staging.reports_dir, ignore_errors=True)
    return written


def _promote(source: RunPaths) -> list[Path]:
    check_promotable(source)
    files = shipped_files_of(source)
    from digit_recog.model_card import content_sha256, next_record, read_version_record  # imports pandas

    record = next_record(
        read_version_record(config.MODEL_VERSION_PATH),
        file_sha256(source.model),
        content_sha256(source.model),
        parse_json(source.training, "")["preset"],
        datetime.now(timezone.utc).date().isoformat(),
    )
    return install_shipped(
        files, {config.MODEL_VERSION_PATH: json.dumps(record, indent=2, sort_keys=True) + "\n"}
    )


def check_promotable(run: RunPaths) -> None:
    """Raise :class:`PromoteError` naming every problem that keeps ``run`` from being the shipped model."""
    from digit_recog.reading.predict import ModelFileError, load_trained_model  # imports Keras
    from digit_recog.reading.verdict import load_thresholds

    problems = []
    if not run.training.is_file():
        problems.append(f"{shown_path(run.training)} is missing (the run is unfinished)")
    else:
        try:
            training = parse_json(run.training, "train the run again")
            if not isinstance(training, dict) or not isinstance(training.get("preset"), str):
                problems.append(f"{shown_path(run.training)} does not name the run's preset")
        except ValueError as error:
            problems.append(str(error).rstrip("."))
    try:
        load_trained_model(run.model)
    except (ModelFileError, FileNotFoundError) as error:
        problems.append(str(error))
    try:
        if load_thresholds(run.model) is None:
            problems.append(f"{shown_path(thresholds_path(run.model))} is missing (03_train writes it)")
    except ValueError as error:
        problems.append(str(error).rstrip("."))
    if problems:
        shown = "what 03_train trained" if run.is_shipped else f"run {run.name!r}"
        raise PromoteError(
            f"{shown} cannot be promoted: {'; '.join(problems)}. The shipped model is unchanged."
        )


def shipped_files_of(run: RunPaths) -> dict[Path, Path]:
    """``{shipped path: the run's file}`` for everything of ``run`` that promoting it copies: the model,
    its thresholds (beside the shipped model, where the reader reads them), reports and figures."""
    target = shipped()
    skipped = {thresholds_path(run.model).name, config.SPLIT_PATH.name}
    reports = [
        path
        for path in sorted([*run.reports_dir.glob("*.json"), *run.reports_dir.glob("*.csv")])
        if path.name not in skipped and not path.name.startswith(".")  # no temporary file of a killed save
    ]
    figures = [path for path in sorted(run.figures_dir.glob("*.png")) if not path.name.startswith(".")]
    return {
        target.model: run.model,
        thresholds_path(target.model): thresholds_path(run.model),
        **{target.report(path.name): path for path in reports},
        **{target.figure(path.name): path for path in figures},
    }


def install_shipped(copies: dict[Path, Path], texts: dict[Path, str] | None = None) -> list[Path]:
    """Replace shipped files together: each of ``copies`` (``{target: source}``) and ``texts`` (``{target:
    content}``) is first written beside its target under a temporary name; then the files it replaces are
    kept under ``runs/_previous_shipped/``; then each is renamed into place. A failure before the renames
    leaves every shipped file as it was. Returns the targets."""
    texts = texts or {}
    staged: dict[Path, Path] = {}
    try:
        for target in [*copies, *texts]:
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(target)
            fd, name = tempfile.mkstemp(
                dir=target.parent, prefix=partial_prefix(target), suffix=target.suffix
            )
            os.close(fd)
            staged[target] = Path(name)
            if target in copies:
                shutil.copyfile(copies[target], staged[target])
            else:
                staged[target].write_text(texts[target])
            give_ordinary_mode(staged[target])
        _keep_previous(list(staged))
        for target, partial in staged.items():
            os.replace(partial, target)
    finally:
        for partial in staged.values():
            partial.unlink(missing_ok=True)
    return list(staged)


def _keep_previous(targets: list[Path]) -> None:
    """Copy the shipped files at ``targets`` (those that exist) under ``runs/_previous_shipped/``, replacing
    what an earlier promote kept there."""
    previous = config.RUNS_DIR / PREVIOUS_SHIPPED
    remove_stale_partials(previous)  # what a promote that was killed here left
    staging = config.RUNS_DIR / f".{PREVIOUS_SHIPPED}{PARTIAL_MARK}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    for target in targets:
        if target.is_file():
            kept = staging / target.resolve().relative_to(config.OUTPUT_ROOT.resolve())
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, kept)
    staging.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(previous, ignore_errors=True)
    os.replace(staging, previous)


def restore_previous() -> list[str]:
    """Put back the shipped files the last promote replaced (kept under ``runs/_previous_shipped/``); return
    them, relative to the project. The files it replaces are kept in turn, so a second call undoes the first.

    Raises:
        MissingArtifactError: when no promote kept any.
    """
    previous = config.RUNS_DIR / PREVIOUS_SHIPPED
    kept = sorted(path for path in previous.rglob("*") if path.is_file()) if previous.is_dir() else []
    if not kept:
        raise MissingArtifactError(
            f"{shown_path(previous)} holds nothing: no promote has replaced the shipped model yet"
        )
    install_shipped({config.OUTPUT_ROOT / path.relative_to(previous): path for path in kept})
    return [str(path.relative_to(previous)) for path in kept]


SHIPPED_FILES = ("models", "reports", "figures")  # what `runs restore` takes back from git


def restore() -> list[str]:
    """Put the committed shipped model, its thresholds, version, card, reports and figures back from git's
    ``HEAD`` (``git restore --source=HEAD``); return the files that changed.

    Raises:
        RuntimeError: outside a git checkout (or without git), naming what to do instead.
    """
    if config.OUTPUT_ROOT != config.PROJECT_ROOT:
        raise RuntimeError(
            f"outputs go to {config.OUTPUT_ROOT} (DIGIT_RECOG_OUTPUT_DIR), not the repository: "
            "nothing to restore"
        )
    changed = _git("diff", "--name-only", "HEAD", "--", *SHIPPED_FILES).split()
    _git("restore", "--source=HEAD", "--staged", "--worktree", "--", *SHIPPED_FILES)
    return changed


def _git(*arguments: str) -> str:
    try:
        done = subprocess.run(
            ["git", *arguments], cwd=config.PROJECT_ROOT, capture_output=True, text=True, check=True
        )
    except FileNotFoundError as error:
        raise RuntimeError("git is not installed: restore the shipped model from a fresh clone") from error
    except subprocess.CalledProcessError as error:
        raise RuntimeError(
            f"git {arguments[0]} failed in {config.PROJECT_ROOT} ({error.stderr.strip()}): restoring needs "
            "a git checkout of the project; outside one, download the project again"
        ) from error
    return done.stdout


def shipped_model_problem() -> str | None:
    """Why the shipped model's file disagrees with its recorded version (``models/model_version.json``), or
    None when it holds the recorded model."""
    from digit_recog.model_card import UNVERSIONED, model_version

    if not config.MODEL_PATH.is_file() or not config.MODEL_VERSION_PATH.is_file():
        return None
    if model_version(config.MODEL_PATH, config.MODEL_VERSION_PATH)["version"] != UNVERSIONED:
        return None
    return (
        f"{shown_path(config.MODEL_PATH)} is not the model {shown_path(config.MODEL_VERSION_PATH)} records "
        "(its SHA-256 differs): it and its reports may disagree. `digit-recog runs restore` puts the "
        "committed one back; `make run` retrains and records a new version"
    )


def free_port(start: int, tries: int = 50) -> int:
    """The first port from ``start`` on that nothing on this machine listens to."""
    for port in range(start, start + tries):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"ports {start}-{start + tries - 1} are all busy")


if __name__ == "__main__":  # `python -m digit_recog.runs free-port 6006`, for make tensorboard
    if sys.argv[1:2] != ["free-port"] or len(sys.argv) != 3:
        sys.exit("usage: python -m digit_recog.runs free-port START")
    print(free_port(int(sys.argv[2])))
