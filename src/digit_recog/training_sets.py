"""Which digits a model learns from: MNIST's training split, the other-writer sets' training writers and
digits the project draws in styles MNIST lacks.

Each set gives a training part and a validation part. MNIST's come from the split ``02_preprocess`` saves;
each other-writer training file is split the same way (stratified, seeded), before any picture is drawn, so
that no digit of the validation part is ever trained on in any rendering; the drawn styles' parts are drawn
from seeds of their own. The other sets' test writers never enter here.
"""

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from digit_recog import config, data, drawn_styles, other_writers

MNIST = data.MNIST
DRAWN_STYLES = data.DRAWN_STYLES
# How often each training digit of a set is drawn per epoch's data, each copy at its own random pen width or
# blur: twice for pen paths (a point more of pendigits' validation accuracy than once, for 0.04 points of
# MNIST's, one seed: lab/ablations/many_writers_validation.py) and for the smaller bitmap file.
COPIES = {MNIST: 1, "pendigits": 2, "optdigits": 2, DRAWN_STYLES: 1}
OTHER_WRITERS_VALIDATION_FRACTION = 0.1
RENDERING_SEED = 2026  # the pen widths and blurs of the training pictures


@dataclass
class TrainingData:
    """Training and validation images (raw 0-255, (N, 28, 28)) and labels, and what each set gave."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    counts: dict[str, dict] = field(default_factory=dict)  # per set: training and validation images, copies
    val_parts: dict[str, slice] = field(default_factory=dict)  # each set's rows of the validation arrays

    def validation_part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The validation images and labels of one set."""
        rows = self.val_parts[name]
        return self.val_images[rows], self.val_labels[rows]


def load_training_data(
    training_sets, split_path=config.SPLIT_PATH, train_subset: int | None = None
) -> TrainingData:
    """The chosen sets' training and validation parts, MNIST's from the split at ``split_path``.

    ``train_subset`` keeps the first that many training digits of each set (before copies), for quick runs.

    Raises:
        data.UnknownTrainingSetError: for an unknown set name, listing the known ones.
        MnistFileError, OtherWritersFileError: naming a missing or damaged data file.
    """
    parts = {
        name: _set_parts(name, split_path, train_subset) for name in data.check_training_sets(training_sets)
    }
    val_parts, start = {}, 0
    for name, (_, _, val_images, _) in parts.items():
        val_parts[name] = slice(start, start + len(val_images))
        start += len(val_images)
    return TrainingData(
        train_images=np.concatenate([part[0] for part in parts.values()]),
        train_labels=np.concatenate([part[1] for part in parts.values()]),
        val_images=np.concatenate([part[2] for part in parts.values()]),
        val_labels=np.concatenate([part[3] for part in parts.values()]),
        counts={name: _counts(name, part) for name, part in parts.items()},
        val_parts=val_parts,
    )


def _counts(name: str, part: tuple) -> dict:
    counts = {"train_images": len(part[0]), "val_images": len(part[2]), "copies": COPIES[name]}
    if name not in (MNIST, DRAWN_STYLES):
        counts["writers"] = other_writers.writers(name, "training")
    return counts


def _set_parts(name: str, split_path, train_subset: int | None):
    if name == MNIST:
        (images, labels), _ = data.load_mnist()
        train_indices, val_indices = data.load_split(split_path)
        train_indices = train_indices[:train_subset] if train_subset else train_indices
        return images[train_indices], labels[train_indices], images[val_indices], labels[val_indices]
    if name == DRAWN_STYLES:
        return (*drawn_styles_part("training", train_subset), *drawn_styles_part("validation"))
    return other_writers_parts(name, train_subset)


@functools.cache
def drawn_styles_part(part: str, train_subset: int | None = None):
    """``(images, labels)`` of the drawn styles' ``"training"`` or ``"validation"`` part as the reader sees
    them, the first ``train_subset`` pictures when given; read-only, made once per process."""
    pictures, labels, _ = drawn_styles.drawn_styles(part)
    kept = train_subset or None  # 0 keeps all, as it does for the other sets
    return _read_only(*other_writers.in_mnist_layout(pictures[:kept], labels[:kept]))


def other_writers_parts(name: str, train_subset: int | None = None, copies: int | None = None):
    """``(train_images, train_labels, val_images, val_labels)`` of one other-writer set, as the reader sees
    them: the training part drawn ``copies`` times (default :data:`COPIES`), the validation part once."""
    return (*other_writers_training(name, train_subset, copies), *other_writers_validation(name))


@functools.cache
def other_writers_training(name: str, train_subset: int | None = None, copies: int | None = None):
    """``(images, labels)`` of one other-writer set's training part, its first ``train_subset`` digits when
    given, each drawn ``copies`` times (default :data:`COPIES`) at its own pen width or blur; read-only, made
    once per process."""
    shapes, labels, train_indices, _ = _split_other_writers(name)
    train_indices = train_indices[:train_subset] if train_subset else train_indices
    rng = np.random.default_rng([RENDERING_SEED, 0])
    drawn = [
        other_writers.in_mnist_layout(
            other_writers.draw(name, shapes[train_indices], rng), labels[train_indices]
        )
        for _ in range(copies or COPIES[name])
    ]
    return _read_only(
        np.concatenate([images for images, _ in drawn]), np.concatenate([kept for _, kept in drawn])
    )


@functools.cache
def other_writers_validation(name: str):
    """``(images, labels)`` of one other-writer set's validation part, each digit drawn once; read-only, made
    once per process."""
    shapes, labels, _, val_indices = _split_other_writers(name)
    rng = np.random.default_rng([RENDERING_SEED, 1])
    return _read_only(
        *other_writers.in_mnist_layout(
            other_writers.draw(name, shapes[val_indices], rng), labels[val_indices]
        )
    )


def _split_other_writers(name: str):
    shapes, labels = other_writers.digit_shapes(name, "training")
    train_indices, val_indices = data.split_train_validation(
        labels, round(OTHER_WRITERS_VALIDATION_FRACTION * len(labels)), config.SEED
    )
    return shapes, labels, train_indices, val_indices


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.setflags(write=False)
    return arrays


def validation_parts(training_sets, split_path=config.SPLIT_PATH) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each chosen set's validation part, ``{name: (images, labels)}``: what a model trained on
    ``training_sets`` was validated, calibrated and given its thresholds on."""
    parts = {}
    for name in data.check_training_sets(training_sets):
        if name == MNIST:
            (images, labels), _ = data.load_mnist()
            _, val_indices = data.load_split(split_path)
            parts[name] = (images[val_indices], labels[val_indices])
        elif name == DRAWN_STYLES:
            parts[name] = drawn_styles_part("validation")
        else:
            parts[name] = other_writers_validation(name)
    return parts


def counts_table(counts: dict[str, dict]) -> pd.DataFrame:
    """What each set gives, one row a set: training and validation images, how often each training digit is
    drawn, and the training writers ("-" for MNIST, whose files do not say who wrote what)."""
    table = pd.DataFrame.from_dict(counts, orient="index").astype("Int64").astype(object)
    return table.where(table.notna(), "-")


def describe(counts: dict[str, dict]) -> str:
    """What a model learned from, in words: "MNIST (55,000 images) and 60 other writers: pendigits (30
    writers, 6,745 images), optdigits (30 writers, 3,480 images); and 4,600 digits drawn in styles MNIST
    lacks"."""
    parts = [f"MNIST ({counts[MNIST]['train_images']:,} images)"] if MNIST in counts else []
    others = {name: part for name, part in counts.items() if "writers" in part}
    if others:
        listed = ", ".join(
            f"{name} ({part['writers']} writers, {part['train_images']:,} images)"
            for name, part in others.items()
        )
        parts.append(f"{sum(part['writers'] for part in others.values())} other writers: {listed}")
    text = " and ".join(parts)
    if DRAWN_STYLES in counts:
        drawn = f"{counts[DRAWN_STYLES]['train_images']:,} digits drawn in styles MNIST lacks"
        text = f"{text}{'; and' if others else ' and'} {drawn}" if text else drawn
    return text
