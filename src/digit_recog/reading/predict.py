"""The one place that predicts: load a model, check the input, and read digits and numbers.

``predict_probabilities`` and ``accuracy`` take batches of 28x28 images; ``read_digit`` and ``read_number``
take any picture, bring it to MNIST's layout with :mod:`digit_recog.reading.image` and read it (in a
budgeted worker process of :mod:`digit_recog.reading.budget` when given one; ``read_number`` always).
"""

import weakref
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from digit_recog import config
from digit_recog.artifacts import MissingArtifactError, require
from digit_recog.reading.budget import DecodingPool, shared_pool
from digit_recog.reading.decoding import ImageSource, shown_name
from digit_recog.reading.image import preprocess_image
from digit_recog.reading.runtimes import ExportedModel, exported_reader
from digit_recog.reading.verdict import DIGIT, Thresholds, verdict


@dataclass(frozen=True)
class DigitReading:
    """What the model read in one image: the digit, all ten probabilities, the input it saw, and the verdict
    (``"digit"``, ``"unsure"`` or ``"not a digit"``, see :mod:`digit_recog.reading.verdict`)."""

    digit: int
    probabilities: np.ndarray
    image: np.ndarray
    verdict: str = DIGIT

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` most probable digits as ``(digit, probability)``, most probable first."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(digit), float(self.probabilities[digit])) for digit in order]


@dataclass(frozen=True)
class NumberReading:
    """Several digits read left to right: the number as text and one reading per digit."""

    text: str
    digits: list[DigitReading]
    boxes: list[tuple[int, int, int, int]]


class ModelFileError(Exception):
    """A model file exists but Keras cannot load it, or it is not a digit reader (see ``check_model``)."""


class IncompatibleModelError(ModelFileError):
    """The model loads, but does not take 28x28x1 images or does not output ten probabilities."""


MAX_CAUSE_LENGTH = 300  # of a Keras error quoted in ours: a hand-edited config would otherwise print whole


def load_trained_model(path: Path = config.MODEL_PATH) -> keras.Model:
    """Load a saved ``.keras`` model and check that it reads digits: (28, 28, 1) images in, 10 outputs.

    Raises:
        MissingArtifactError: when no file is at ``path`` (naming the notebook that trains the default model).
        ModelFileError: when ``path`` is a folder, not a ``.keras`` (zip) file, or Keras cannot load it.
        IncompatibleModelError: when the model's input or output shape is not a digit reader's.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; expected a .keras model file")
    if not path.exists() and path.resolve() != config.MODEL_PATH.resolve():
        raise MissingArtifactError(
            f"{path} does not exist (notebooks/03_train.ipynb trains the default model, "
            f"{config.MODEL_PATH.name})"
        )
    require(path, "03_train.ipynb")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} could not be loaded as a Keras model: it is not a .keras file (expected a zip archive, "
            f"as model.save('name.keras') writes; found {path.stat().st_size:,} bytes starting "
            f"{_first_bytes(path)!r}){_remedy(path)}"
        )
    try:
        model = keras.saving.load_model(path)
    except Exception as error:  # Keras raises many kinds for a damaged zip or config
        raise ModelFileError(
            f"{path} could not be loaded as a Keras model ({_short(error)}){_remedy(path)}"
        ) from error
    check_model(model, path)
    return model


def check_model(model: keras.Model, path: Path | str = "the model") -> None:
    """Raise ``IncompatibleModelError`` unless ``model`` takes (N, 28, 28, 1) images and outputs (N, 10).

    The batch dimension may be anything; a model with several inputs or outputs is refused too.
    """
    expected_input = (config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
    inputs, outputs = list(model.inputs or []), list(model.outputs or [])
    if len(inputs) != 1 or len(outputs) != 1:
        raise IncompatibleModelError(
            f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; expected one input of shape "
            f"{expected_input} and one output of {config.NUM_CLASSES} probabilities"
        )
    input_shape, output_shape = tuple(inputs[0].shape[1:]), tuple(outputs[0].shape[1:])
    if input_shape != expected_input:
        raise IncompatibleModelError(
            f"{path} takes inputs of shape {input_shape}; expected {expected_input} "
            "(28x28 grayscale images, as MNIST)"
        )
    if output_shape != (config.NUM_CLASSES,):
        raise IncompatibleModelError(
            f"{path} outputs shape {output_shape}; expected ({config.NUM_CLASSES},), "
            "one probability per digit"
        )


def _remedy(path: Path) -> str:
    """Rewriting the file is a remedy for the project's own model only, not for one a user brought."""
    if path.resolve() == config.MODEL_PATH.resolve():
        return ". Rerun notebooks/03_train.ipynb to write it again."
    return ""


def _first_bytes(path: Path, count: int = 8) -> bytes:
    with open(path, "rb") as stream:
        return stream.read(count)


def _short(error: Exception) -> str:
    """An exception as one line of at most ``MAX_CAUSE_LENGTH`` characters."""
    message = " ".join(str(error).split())
    if len(message) > MAX_CAUSE_LENGTH:
        message = message[:MAX_CAUSE_LENGTH] + "..."
    return f"{type(error).__name__}: {message}"


def load_reader(path: Path = config.MODEL_PATH, runtime: str = "auto") -> keras.Model | ExportedModel:
    """The model to read digits with: the fastest runtime that gives the same answers (see
    :func:`digit_recog.reading.runtimes.exported_reader`), else the ``.keras`` model itself."""
    return exported_reader(path, runtime) or load_trained_model(path)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Return ``images`` as a float32 batch of shape (N, 28, 28, 1) with raw 0-255 pixel values.

    Accepts one image (28, 28), a batch (N, 28, 28) or a batch (N, 28, 28, 1).

    Raises:
        ValueError: for any other shape, or for pixels already scaled to [0, 1]
            (the model scales them itself).
    """
    images = np.asarray(images)
    size = config.IMAGE_SIZE
    if images.shape == (size, size):
        images = images[np.newaxis]
    if images.ndim == 3 and images.shape[1:] == (size, size):
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[1:] != (size, size, 1):
        raise ValueError(
            f"expected images of shape (28, 28), (N, 28, 28) or (N, 28, 28, 1); got {images.shape}. "
            "Resize your image to 28x28 grayscale first."
        )
    if np.issubdtype(images.dtype, np.floating) and 0 < images.max() <= 1.0:
        raise ValueError(
            "pixel values look scaled to [0, 1] (max is "
            f"{images.max():.3f}); pass raw 0-255 values, the model scales them itself."
        )
    return images.astype(np.float32)


# One compiled forward pass per model, for any number of images (see _forward_pass).
_FORWARD_PASSES: "weakref.WeakKeyDictionary[keras.Model, Callable]" = weakref.WeakKeyDictionary()


def _forward_pass(model: keras.Model) -> Callable:
    """``model`` in inference mode as one TensorFlow function over (None, 28, 28, 1) float32, traced once.

    ``model.predict`` traces its function again for every new input shape (the last, smaller batch) and dtype
    until TensorFlow relaxes the shape, and for every new model; a notebook scoring several models on sets of
    several sizes (08_robustness) then retraced often enough for TensorFlow to warn. With the batch dimension
    left open in the signature, each model is traced exactly once, whatever the sizes.
    """
    forward = _FORWARD_PASSES.get(model)
    if forward is None:
        import tensorflow as tf  # Keras's backend: loaded already with the model

        size = config.IMAGE_SIZE
        forward = tf.function(
            lambda images: model(images, training=False),
            input_signature=[tf.TensorSpec((None, size, size, 1), tf.float32)],
        )
        _FORWARD_PASSES[model] = forward
    return forward


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities, shape (N, 10), for raw images of any shape ``to_model_input`` accepts.

    A Keras model runs as one compiled function traced once per model (:func:`_forward_pass`), in batches of
    ``batch_size``; an exported model through its runtime.
    """
    batch = to_model_input(images)
    if isinstance(model, ExportedModel):
        return np.concatenate(
            [model.predict(batch[i : i + batch_size]) for i in range(0, len(batch), batch_size)]
        )
    if keras.backend.backend() != "tensorflow" or not len(batch):
        return model.predict(batch, batch_size=batch_size, verbose=0)
    forward = _forward_pass(model)
    return np.concatenate(
        [np.asarray(forward(batch[i : i + batch_size])) for i in range(0, len(batch), batch_size)]
    )


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> float:
    """Share of ``images`` (raw pixels, any shape ``to_model_input`` accepts) whose most probable digit
    is the label."""
    predicted = predict_probabilities(model, images, batch_size).argmax(axis=1)
    return float(np.mean(predicted == labels))


def layer_outputs(model: keras.Model, images: np.ndarray, layer_names: list[str]) -> list[np.ndarray]:
    """What the named layers of ``model`` output for ``images`` (inference mode)."""
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in layer_names])
    outputs = probe.predict(to_model_input(images), verbose=0)
    return list(outputs) if len(layer_names) > 1 else [outputs]


def predict_digits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Probabilities (N, 10) for a few preprocessed images, without ``model.predict``'s overhead."""
    if isinstance(model, ExportedModel):
        return model.predict(to_model_input(images))
    return np.asarray(model.predict_on_batch(to_model_input(images)))


def read_digit(
    model: keras.Model,
    source: ImageSource,
    name: str | None = None,
    thresholds: Thresholds | None = None,
    pool: DecodingPool | None = None,
) -> DigitReading:
    """Preprocess one image and return the model's reading of it, judged by ``thresholds`` when given.

    With ``pool``, the picture is decoded and cleaned in one of its workers, within its budget (an
    untrusted upload); without, in this process.
    """
    if pool is None:
        image = preprocess_image(source, name)
    else:
        image = pool.run("digit", _picklable(source), shown_name(source, name))
    return _reading(predict_digits(model, image)[0], image, thresholds)


def read_layout(model: keras.Model, image: np.ndarray, thresholds: Thresholds | None = None) -> DigitReading:
    """The model's reading of one 28x28 image already in MNIST's layout (e.g. one that
    :func:`digit_recog.reading.layout.checked_layout` passed), judged by ``thresholds`` when given."""
    return _reading(predict_digits(model, image)[0], image, thresholds)


def read_number(
    model: keras.Model,
    source: ImageSource,
    name: str | None = None,
    thresholds: Thresholds | None = None,
    pool: DecodingPool | None = None,
) -> NumberReading:
    """Read several digits written side by side, e.g. ``"2026"``, with each digit's probabilities.

    The picture is decoded and cut into digits in a worker of ``pool`` (by default one shared worker),
    within its budget of CPU time and memory.

    Raises:
        DecodingBudgetError: when decoding or cutting the picture runs past the budget.
        TooManyDigitsError: when it holds more than ``MAX_NUMBER_DIGITS`` (32) digits.
        ImageReadError, ImageTooLargeError, NoDigitFoundError: as for :func:`read_digit`.
    """
    segments = (pool or shared_pool()).run("number", _picklable(source), shown_name(source, name))
    images = np.stack([image for image, _ in segments])
    probabilities = predict_digits(model, images)
    digits = [_reading(p, image, thresholds) for p, (image, _) in zip(probabilities, segments)]
    return NumberReading(
        text="".join(str(reading.digit) for reading in digits),
        digits=digits,
        boxes=[box for _, box in segments],
    )


def _picklable(source: ImageSource) -> ImageSource:
    """A file object's bytes (it cannot be sent to a worker); any other source as it is."""
    return source.read() if hasattr(source, "read") else source


def _reading(probabilities: np.ndarray, image: np.ndarray, thresholds: Thresholds | None) -> DigitReading:
    return DigitReading(
        digit=int(probabilities.argmax()),
        probabilities=probabilities,
        image=image,
        verdict=verdict(probabilities, thresholds),
    )
