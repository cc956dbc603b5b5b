"""What learning from more writers buys: train one recipe on several mixes of training sets and read every
test set with each model (the transfer matrix), per digit too.

Each mix is validated on its own sets' validation parts; the test sets (MNIST's and the other writers' test
writers) only report.
"""

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd

from digit_recog import drawn, training_sets
from digit_recog.modeling import train
from digit_recog.modeling.presets import get_preset
from digit_recog.reading.predict import predict_probabilities

DIGITS = list(range(10))


@dataclass
class TrainedMix:
    """One mix's model, what it learned from and how its training went."""

    name: str
    model: keras.Model
    result: train.TrainingResult
    counts: dict[str, dict]

    def summary(self) -> dict:
        """One row of the mixes table: training images, validation accuracy, time."""
        best = self.result.best_epoch - 1
        return {
            "mix": self.name,
            "learned from": training_sets.describe(self.counts),
            "training images": sum(part["train_images"] for part in self.counts.values()),
            "validation accuracy": self.result.history["val_accuracy"][best],
            "train s": round(self.result.train_seconds, 1),
        }


def train_mix(
    name: str,
    sets: list[str],
    preset: str = "default",
    seed: int = 42,
    epochs: int | None = None,
    train_subset: int | None = None,
) -> TrainedMix:
    """Train ``preset`` (with ``epochs`` when given) on the training parts of ``sets``, validated on theirs.

    Raises:
        UnknownTrainingSetError: for a set name the project does not know, listing the known ones.
    """
    recipe = get_preset(preset, seed=seed, epochs=epochs, training_sets=tuple(sets))
    data = training_sets.load_training_data(recipe.train.training_sets, train_subset=train_subset)
    model = recipe.build(seed=seed)
    result = train.train_model(
        model,
        data.train_images,
        data.train_labels,
        data.val_images,
        data.val_labels,
        recipe.train,
        verbose=0,
        outlier_images=drawn.outlier_exposure_images(recipe.train.outlier_images),
    )
    return TrainedMix(name, model, result, data.counts)


def predictions(
    mixes: list[TrainedMix], test_sets: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[tuple[str, str], np.ndarray]:
    """Each mix's predicted digits on each test set: ``{(mix, test set): digits}``."""
    return {
        (mix.name, test_name): predict_probabilities(mix.model, images).argmax(axis=1)
        for mix in mixes
        for test_name, (images, _) in test_sets.items()
    }


def transfer_matrix(
    predicted: dict[tuple[str, str], np.ndarray], test_sets: dict[str, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """Accuracy of each mix (rows) on each test set (columns)."""
    rows = {}
    for (mix, test_name), digits in predicted.items():
        rows.setdefault(mix, {})[test_name] = float(np.mean(digits == test_sets[test_name][1]))
    return pd.DataFrame.from_dict(rows, orient="index")[list(test_sets)].rename_axis("trained on")


def recall_by_digit(
    predicted: dict[tuple[str, str], np.ndarray], test_sets: dict[str, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """Recall of each digit (columns) for each mix and test set (rows: a two-level index)."""
    rows = {}
    for (mix, test_name), digits in predicted.items():
        labels = test_sets[test_name][1]
        rows[mix, test_name] = {digit: float(np.mean(digits[labels == digit] == digit)) for digit in DIGITS}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["trained on", "test set"])
    return table


def misread(
    predicted: np.ndarray, images: np.ndarray, labels: np.ndarray, count: int = 15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``count`` misread digits of one test set: ``(images, labels, predicted)``."""
    wrong = np.flatnonzero(predicted != labels)[:count]
    return images[wrong], labels[wrong], predicted[wrong]
