"""Hyperparameter search over the CNN builder's knobs with KerasTuner, judged on the validation split.

The search space covers what :func:`digit_recog.modeling.cnn.build_cnn` can vary (conv blocks, filters per
block, kernel size, batch norm, dense units, dropout) plus Adam's learning rate and the batch size.
Every trial trains on the training part of the split and is scored by its validation accuracy; the
test set is never loaded here.

The tuner writes each trial to ``<directory>/<project_name>/trial_*/`` as it goes and never
overwrites a project: building the tuner again with the same directory and project name resumes an
interrupted search where it stopped, on one machine or, through :mod:`digit_recog.experiments.distributed`,
on many. The best trial becomes the ``tuned`` preset via ``models/best_hparams.json``.
"""

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pandas as pd

from digit_recog import config, data
from digit_recog.artifacts import MissingArtifactError, atomic_path, write_json
from digit_recog.modeling.cnn import ConvBlock, ModelConfig, build_cnn
from digit_recog.modeling.presets import MAX_CONV_BLOCKS, model_config_from_hparams

TUNER_KINDS = ("hyperband", "bayesian", "random")
FILTER_CHOICES = [16, 32, 64, 128]
CHOICES = {
    "kernel_size": [3, 5],
    "dense_units": [64, 128, 256],
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
    "batch_size": [32, 64, 128, 256],
}
LEARNING_RATE_RANGE = (1e-4, 1e-2)  # sampled on a log scale

# Every hyperparameter of the space and the Python type it is stored as. Filters of blocks that a
# trial does not have (``filters_3`` with two blocks) are inactive: absent from the trial, NaN in tables.
HPARAM_TYPES = {
    "conv_blocks": int,
    **{f"filters_{index}": int for index in range(1, MAX_CONV_BLOCKS + 1)},
    "kernel_size": int,
    "batch_norm": bool,
    "dense_units": int,
    "dropout": float,
    "learning_rate": float,
    "batch_size": int,
}

# What Hyperband adds to each trial, and the names the results table gives them.
HYPERBAND_COLUMNS = {
    "tuner/epochs": "epochs",
    "tuner/initial_epoch": "initial_epoch",
    "tuner/bracket": "bracket",
    "tuner/round": "round",
    "tuner/trial_id": "continues_trial",
}

# What the search does not vary: no augmentation, and a batch-norm momentum of 0.9 instead of 0.99 so the
# moving statistics used for validation catch up within a two-epoch trial (with 0.99 they lag so far
# behind that short batch-norm trials score near chance, and the search would wrongly discard batch norm).
SEARCH_BASE = ModelConfig(conv_blocks=(ConvBlock(32),), bn_momentum=0.9)


@dataclass(frozen=True)
class SearchBudget:
    """How much searching to do; ``project_name()`` names the search so the same budget resumes it.

    Attributes:
        kind: "hyperband" (successive halving: many short trainings, the best ones trained longer),
            "bayesian" (a Gaussian process proposes each next trial) or "random".
        max_epochs: Hyperband: the most epochs any model gets. Bayesian/random: epochs of every trial.
        max_trials: Bayesian/random: number of trials (required). Hyperband: an optional cap on its
            schedule (None runs the full schedule, about ``max_epochs * log3(max_epochs)**2`` epochs).
        train_subset: train on the first this-many training images of the split (None: all 55,000).
        executions_per_trial: train each configuration this many times and average, to damp noise.
        hyperband_factor: Hyperband keeps the best 1/factor of each round for the next one.
        hyperband_iterations: how many times to run the whole Hyperband schedule.
        seed: seeds the oracle's choices and every model's initial weights.
    """

    kind: str = "hyperband"
    max_epochs: int = 4
    max_trials: int | None = None
    train_subset: int | None = 15_000
    executions_per_trial: int = 1
    hyperband_factor: int = 3
    hyperband_iterations: int = 1
    seed: int = config.SEED

    def __post_init__(self):
        if self.kind not in TUNER_KINDS:
            raise ValueError(f"tuner kind must be one of {TUNER_KINDS}, got {self.kind!r}.")
        if self.kind != "hyperband" and not self.max_trials:
            raise ValueError(f"a {self.kind} search needs max_trials (how many models to train), got None.")
        counts = [self.max_epochs, self.executions_per_trial, self.hyperband_iterations]
        counts += [value for value in (self.max_trials, self.train_subset) if value is not None]
        if min(counts) < 1 or self.hyperband_factor < 2:
            raise ValueError(f"budget counts must be positive and hyperband_factor at least 2: {self}.")

    def project_name(self) -> str:
        """A folder name that encodes the budget: the same budget resumes, another starts afresh."""
        parts = [
            self.kind,
            f"e{self.max_epochs}",
            f"t{self.max_trials or 'all'}",
            f"n{self.train_subset or 'all'}",
            f"x{self.executions_per_trial}",
        ]
        if self.kind == "hyperband":
            parts += [f"f{self.hyperband_factor}", f"i{self.hyperband_iterations}"]
        return "-".join([*parts, f"s{self.seed}"])


def declare_search_space(hp: keras_tuner.HyperParameters) -> dict:
    """Register the search space on ``hp`` and return the values active for this trial.

    Filters of block 2 and 3 live in conditional scopes, so the oracle neither varies nor counts
    them for networks without those blocks.
    """
    hp.Int("conv_blocks", 1, MAX_CONV_BLOCKS, default=2)
    hp.Choice("filters_1", FILTER_CHOICES, default=32)
    for index in range(2, MAX_CONV_BLOCKS + 1):
        with hp.conditional_scope("conv_blocks", list(range(index, MAX_CONV_BLOCKS + 1))):
            hp.Choice(f"filters_{index}", FILTER_CHOICES, default=64)
    hp.Choice("kernel_size", CHOICES["kernel_size"])
    hp.Boolean("batch_norm", default=False)
    hp.Choice("dense_units", CHOICES["dense_units"], default=128)
    hp.Choice("dropout", CHOICES["dropout"], default=0.3)
    hp.Float("learning_rate", *LEARNING_RATE_RANGE, sampling="log", default=1e-3)
    hp.Choice("batch_size", CHOICES["batch_size"], default=128)
    return {name: hp.values[name] for name in HPARAM_TYPES if name in hp.values and hp.is_active(name)}


class CnnHyperModel(keras_tuner.HyperModel):
    """Builds and fits one CNN per trial; the batch size is a hyperparameter too."""

    def __init__(self, seed: int = config.SEED):
        super().__init__(name="digit_recog_cnn")
        self.seed = seed

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """A compiled CNN for the trial's values, without augmentation, from a fixed seed."""
        hparams = declare_search_space(hp)
        model = build_cnn(model_config_from_hparams(hparams, SEARCH_BASE), seed=self.seed)
        model.compile(
            optimizer=keras.optimizers.Adam(hparams["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
        """``model.fit`` with the trial's batch size."""
        return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)


class _TunerFixes:
    """Two small fixes to KerasTuner 1.4.8's tuners, mixed into the three we use.

    * Wait a moment before asking the oracle again after it had no trial to hand out: in a distributed
      Hyperband search the chief answers IDLE while the last bracket waits for results, and KerasTuner's
      worker loop asks again at once, keeping a CPU core busy with requests.
    * Import TensorBoard only when a TensorBoard callback is used: KerasTuner imports it for every
      trial, and TensorFlow 2.21 no longer installs it.
    """

    idle_wait_seconds = 1.0

    def pre_create_trial(self):
        if getattr(self, "_asked_without_trial", False):
            time.sleep(self.idle_wait_seconds)
        self._asked_without_trial = True
        super().pre_create_trial()

    def on_trial_begin(self, trial):
        self._asked_without_trial = False
        super().on_trial_begin(trial)

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        if any(type(callback).__name__ == "TensorBoard" for callback in callbacks):
            super()._configure_tensorboard_dir(callbacks, trial, execution)


class HyperbandTuner(_TunerFixes, keras_tuner.Hyperband):
    """KerasTuner's Hyperband (with :class:`_TunerFixes`)."""


class BayesianTuner(_TunerFixes, keras_tuner.BayesianOptimization):
    """KerasTuner's Bayesian optimisation (with :class:`_TunerFixes`)."""


class RandomTuner(_TunerFixes, keras_tuner.RandomSearch):
    """KerasTuner's random search (with :class:`_TunerFixes`)."""


def build_tuner(
    budget: SearchBudget,
    directory: Path | None = None,
    project_name: str | None = None,
    overwrite: bool = False,
) -> keras_tuner.Tuner:
    """A tuner maximising ``val_accuracy`` that keeps its trials in ``directory/project_name``.

    With ``overwrite=False`` (the default) an existing project is reloaded, so an interrupted search
    resumes; the KERASTUNER_* environment variables make it a distributed chief or worker.

    Args:
        budget: the search kind and its budget.
        directory: where projects live (default ``config.TUNER_DIR``).
        project_name: default ``budget.project_name()``.
        overwrite: delete an existing project of that name and start afresh.
    """
    common = {
        "hypermodel": CnnHyperModel(budget.seed),
        "objective": "val_accuracy",
        "seed": budget.seed,
        "executions_per_trial": budget.executions_per_trial,
        "directory": str(directory or config.TUNER_DIR),
        "project_name": project_name or budget.project_name(),
        "overwrite": overwrite,
    }
    if budget.kind == "bayesian":
        return BayesianTuner(max_trials=budget.max_trials, **common)
    if budget.kind == "random":
        return RandomTuner(max_trials=budget.max_trials, **common)
    tuner = HyperbandTuner(
        max_epochs=budget.max_epochs,
        factor=budget.hyperband_factor,
        hyperband_iterations=budget.hyperband_iterations,
        **common,
    )
    # Hyperband's oracle takes no max_trials, but its base class stops handing out trials at the cap.
    # (On a distributed worker this sets an unused attribute: only the chief's oracle decides.)
    tuner.oracle.max_trials = budget.max_trials
    return tuner


def search_data(budget: SearchBudget, split_path: Path | None = None):
    """Training and validation arrays for the search: the split from 02_preprocess, subset as budgeted.

    Returns:
        ``(train_images, train_labels, val_images, val_labels)``, images of shape (N, 28, 28, 1).
        The test set is dropped on loading.
    """
    (images, labels), _ = data.load_mnist()
    train_indices, val_indices = data.load_split(split_path or config.SPLIT_PATH)
    if budget.train_subset:
        train_indices = train_indices[: budget.train_subset]
    images = images[..., np.newaxis]
    return images[train_indices], labels[train_indices], images[val_indices], labels[val_indices]


def run_search(
    tuner: keras_tuner.Tuner,
    budget: SearchBudget,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    verbose: int = 2,
) -> None:
    """Run (or resume) the search until the budget is spent; every trial is scored on the validation data.

    Hyperband sets each trial's epochs itself; the other kinds train each trial for ``max_epochs``
    with early stopping on validation loss.
    """
    tuner.search(
        _with_channel(train_images),
        train_labels,
        validation_data=(_with_channel(val_images), val_labels),
        epochs=budget.max_epochs,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)],
        verbose=verbose,
    )


def load_trials(directory: Path, project_name: str) -> list:
    """Every trial saved under ``directory/project_name``, as KerasTuner ``Trial`` objects, by id.

    Reading the files (not a tuner's memory) gives the same answer for a local and a distributed search.
    """
    project_dir = Path(directory) / project_name
    files = sorted(project_dir.glob("trial_*/trial.json"))
    if not files:
        raise MissingArtifactError(
            f"no trials in {project_dir}: run the search first (notebooks/06_tune.ipynb, or "
            "`python -m digit_recog.experiments.distributed`) with the same directory and project name."
        )
    return [keras_tuner.engine.trial.Trial.load(str(path)) for path in files]


def results_frame(trials: list) -> pd.DataFrame:
    """One row per trial: ``trial_id``, ``status``, ``val_accuracy`` (best epoch), ``val_loss`` (lowest),
    each hyperparameter (empty where inactive) and, for Hyperband, its schedule columns.
    """
    rows = []
    for trial in trials:
        values = trial.hyperparameters.values
        completed = trial.status == "COMPLETED" and trial.score is not None
        row = {
            "trial_id": trial.trial_id,
            "status": trial.status,
            "val_accuracy": float(trial.score) if completed else math.nan,
            "val_loss": _best_value(trial, "val_loss"),
        }
        row |= {name: values.get(name, math.nan) for name in HPARAM_TYPES}
        row |= {column: values[key] for key, column in HYPERBAND_COLUMNS.items() if key in values}
        rows.append(row)
    results = pd.DataFrame(rows)
    # Nullable dtypes keep whole numbers whole next to the gaps of inactive hyperparameters.
    whole = [name for name, kind in HPARAM_TYPES.items() if kind is int]
    whole += [column for column in ("epochs", "initial_epoch", "bracket", "round") if column in results]
    nullable = dict.fromkeys(whole, "Int64") | {"batch_norm": "boolean"}
    # Ids are numbers whose zero padding depends on max_trials, which may grow when a search resumes.
    results = results.astype(nullable).sort_values("trial_id", key=lambda ids: ids.astype(int))
    return results.reset_index(drop=True)


def _best_value(trial, metric: str) -> float:
    return float(trial.metrics.get_best_value(metric)) if trial.metrics.exists(metric) else math.nan


def best_trial(results: pd.DataFrame) -> pd.Series:
    """The completed trial with the highest validation accuracy (ties: lower validation loss)."""
    completed = results[(results["status"] == "COMPLETED") & results["val_accuracy"].notna()]
    if completed.empty:
        raise ValueError(f"no completed trial among {len(results)}: the search must finish at least one.")
    ranked = completed.sort_values(["val_accuracy", "val_loss", "trial_id"], ascending=[False, True, True])
    return ranked.iloc[0]


def best_hparams(results: pd.DataFrame) -> dict:
    """The best trial's active hyperparameters as plain Python values (ints, bools, floats)."""
    best = best_trial(results)
    return {name: kind(best[name]) for name, kind in HPARAM_TYPES.items() if pd.notna(best[name])}


def save_results(
    results: pd.DataFrame, csv_path: Path | None = None, json_path: Path | None = None, **details
) -> tuple[Path, Path]:
    """Write the results table as CSV and the best trial as JSON, both atomically.

    The JSON holds ``hyperparameters`` (what :func:`preset_from_hparams` needs), the trial's id and
    validation accuracy, and any ``details`` (the budget, the number of images, ...).

    Returns:
        ``(csv_path, json_path)``; by default ``config.TUNING_CSV_PATH`` and ``config.BEST_HPARAMS_PATH``.
    """
    csv_path = Path(csv_path or config.TUNING_CSV_PATH)
    json_path = Path(json_path or config.BEST_HPARAMS_PATH)
    with atomic_path(csv_path) as tmp_path:
        results.to_csv(tmp_path, index=False)
    best = best_trial(results)
    summary = {
        "hyperparameters": best_hparams(results),
        "trial_id": str(best["trial_id"]),
        "val_accuracy": round(float(best["val_accuracy"]), 6),
        "val_loss": round(float(best["val_loss"]), 6),
    }
    write_json(summary | details, json_path)
    return csv_path, json_path


def budget_details(budget: SearchBudget, train_images: int, val_images: int) -> dict:
    """What to record beside the best hyperparameters: the budget and the data sizes."""
    return {"budget": asdict(budget), "train_images": train_images, "val_images": val_images}


def space_choices() -> dict[str, list | None]:
    """Every hyperparameter with the values the space offers, or None for the log-sampled learning rate."""
    return {name: None if name == "learning_rate" else _choices(name) for name in HPARAM_TYPES}


def _choices(name: str) -> list:
    """Every value the search space offers for a categorical hyperparameter, in order."""
    if name == "conv_blocks":
        return list(range(1, MAX_CONV_BLOCKS + 1))
    if name == "batch_norm":
        return [False, True]
    return FILTER_CHOICES if name.startswith("filters_") else CHOICES[name]


def _with_channel(images: np.ndarray) -> np.ndarray:
    return images[..., np.newaxis] if images.ndim == 3 else images
