"""Save a trained model as a file anyone can load: a ``.keras`` file of built-in layers, raw pixels in."""

from pathlib import Path

import keras

from digit_recog.artifacts import atomic_path
from digit_recog.modeling.cnn import inference_model


def save_model(model: keras.Model, path: Path) -> Path:
    """Save ``model``, without its training-only augmentation layers, as a ``.keras`` file atomically.

    A failed save leaves the old file intact; the saved file loads with plain Keras.
    """
    with atomic_path(path) as tmp_path:
        inference_model(model).save(tmp_path)
    return Path(path)
