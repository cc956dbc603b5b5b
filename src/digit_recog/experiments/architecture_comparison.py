"""A fair race between the registered architectures under one training recipe.

:func:`compare_architectures` trains each one with the same recipe (epochs, batch size, optimizer,
learning-rate schedule, seed) through :func:`digit_recog.modeling.train.train_model` and measures them on
the validation split. The test set enters only through :func:`add_test_accuracy`, after every choice.
"""

from pathlib import Path

import keras
import numpy as np
import pandas as pd

from digit_recog import config, evaluate
from digit_recog.artifacts import atomic_path
from digit_recog.modeling.architectures import ARCHITECTURES
from digit_recog.modeling.train import TrainConfig, train_model
from digit_recog.reading.predict import accuracy, predict_probabilities


def compare_architectures(
    names: list[str],
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    train_config: TrainConfig,
    verbose: int = 2,
) -> tuple[pd.DataFrame, dict[str, keras.Model]]:
    """Train each named architecture with the same ``train_config`` and measure it on validation data.

    Each model starts from the same seed, sees the same images in the same order of epochs and uses the
    same optimizer and schedule, so differences come from the architecture.

    Returns:
        A table with one row per architecture (``architecture``, ``params``, ``epochs``,
        ``train_seconds``, ``seconds_per_epoch``, ``val_accuracy``, ``val_loss``), and the trained
        models by name, for :func:`add_test_accuracy`.
    """
    unknown = sorted(set(names) - set(ARCHITECTURES))
    if unknown:
        raise KeyError(f"unknown architectures {unknown}; choose from {sorted(ARCHITECTURES)}.")
    rows, models = [], {}
    for name in names:
        keras.utils.set_random_seed(train_config.seed)
        model = ARCHITECTURES[name]()
        if verbose:
            print(f"== {name}: {model.count_params():,} parameters", flush=True)
        result = train_model(
            model, train_images, train_labels, val_images, val_labels, train_config, verbose=verbose
        )
        rows.append(
            {
                "architecture": name,
                "params": model.count_params(),
                "epochs": result.epochs_run,
                "train_seconds": round(result.train_seconds, 1),
                "seconds_per_epoch": round(result.train_seconds / result.epochs_run, 1),
                **_validation_scores(model, val_images, val_labels),
            }
        )
        models[name] = model
    return pd.DataFrame(rows), models


def _validation_scores(model: keras.Model, val_images: np.ndarray, val_labels: np.ndarray) -> dict:
    """Accuracy and log loss of the weights the model ends with (the best epoch's, when restored)."""
    scores = evaluate.summary_metrics(val_labels, predict_probabilities(model, val_images))
    return {"val_accuracy": scores["accuracy"], "val_loss": scores["loss"]}


def add_test_accuracy(
    results: pd.DataFrame, models: dict[str, keras.Model], test_images: np.ndarray, test_labels: np.ndarray
) -> pd.DataFrame:
    """Return ``results`` with a ``test_accuracy`` column: for reporting only, after every choice is made."""
    test_accuracy = {name: accuracy(model, test_images, test_labels) for name, model in models.items()}
    return results.assign(test_accuracy=results["architecture"].map(test_accuracy))


def save_results(results: pd.DataFrame, path: Path | None = None) -> Path:
    """Write the comparison table as CSV atomically (default ``config.ARCHITECTURES_CSV_PATH``)."""
    path = Path(path or config.ARCHITECTURES_CSV_PATH)
    with atomic_path(path) as tmp_path:
        results.to_csv(tmp_path, index=False)
    return path
