"""Save a trained model as a file anyone can load: a ``.keras`` file of built-in layers, raw pixels in;
or, through Keras's own ``model.export``, as ONNX, LiteRT (``.tflite``) or a TensorFlow SavedModel.

Every exported model takes what the ``.keras`` one takes, raw 0-255 pixels of shape (N, 28, 28, 1) as
float32, and returns the ten softmax probabilities. An ONNX file also records the SHA-256 of the
``.keras`` file it came from, so a reader can tell when it is stale (the model was retrained since).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digit_recog import config
from digit_recog.artifacts import (
    atomic_path,
    file_sha256,
    give_ordinary_mode,
    partial_prefix,
    remove_stale_partials,
    shown_path,
)

if TYPE_CHECKING:  # Keras takes seconds to import; reading with an exported model needs none of it
    import keras

# Our format names, and Keras's for them.
KERAS_EXPORT_FORMATS = {"onnx": "onnx", "litert": "litert", "saved_model": "tf_saved_model"}
EXPORT_FORMATS = tuple(KERAS_EXPORT_FORMATS)
DEFAULT_EXPORT_PATHS = {
    "onnx": config.ONNX_MODEL_PATH,
    "litert": config.LITERT_MODEL_PATH,
    "saved_model": config.SAVED_MODEL_DIR,
}
# Packages an export needs beyond TensorFlow, as pinned in requirements.txt.
EXPORT_PACKAGES = {"onnx": ["tf2onnx==1.17.0"], "litert": [], "saved_model": []}
SOURCE_HASH_KEY = "digit_recog_source_sha256"  # ONNX metadata: which .keras file this was exported from
MODEL_INPUT_SHAPE = (None, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)


class ExportError(Exception):
    """A model cannot be exported: unknown format, wrong input shape, or the output is in the way."""


class UnknownFormatError(ExportError, ValueError):
    """The format name is not one we export to."""


class OutputExistsError(ExportError, FileExistsError):
    """The output path exists and overwriting it was not asked for."""


class MissingPackageError(ExportError, ImportError):
    """An optional package the export or runtime needs is not installed."""


def save_model(model: keras.Model, path: Path) -> Path:
    """Save ``model``, without its training-only augmentation layers, as a ``.keras`` file atomically.

    A failed save leaves the old file intact; the saved file loads with plain Keras.
    """
    from digit_recog.modeling.cnn import inference_model

    with atomic_path(path) as tmp_path:
        inference_model(model).save(tmp_path)
    return Path(path)


def export_model(
    model: keras.Model, format_name: str, out: Path, force: bool = False, source_sha256: str | None = None
) -> Path:
    """Export ``model`` with Keras's ``model.export`` to ``out`` in one of ``EXPORT_FORMATS``.

    Args:
        model: a model taking (N, 28, 28, 1) raw pixels, e.g. the shipped ``.keras`` model.
        format_name: ``"onnx"`` (a file), ``"litert"`` (a ``.tflite`` file) or ``"saved_model"`` (a folder).
        out: where to write; written atomically, so a failed export leaves an older one intact.
        force: replace ``out`` if it exists.
        source_sha256: the SHA-256 of the ``.keras`` file, recorded in an ONNX file's metadata.

    Raises:
        UnknownFormatError, MissingPackageError, OutputExistsError, ExportError (wrong input shape).
    """
    check_format(format_name)
    require_packages(EXPORT_PACKAGES[format_name], f"exporting to {format_name}")
    check_input_shape(tuple(model.input_shape), "the model to export")
    model(np.zeros((1, *MODEL_INPUT_SHAPE[1:]), np.float32))  # Keras exports only models that were called

    def write(tmp_path: Path) -> None:
        with warnings.catch_warnings():
            # Keras's tf2onnx shim probes np.object, which NumPy 2 warns about; nothing we can act on.
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(tmp_path), format=KERAS_EXPORT_FORMATS[format_name], verbose=False)
        if format_name == "onnx" and source_sha256:
            _record_source_hash(tmp_path, source_sha256)

    return write_output(Path(out), force, write, is_folder=format_name == "saved_model")


def export_model_file(
    model_path: Path, format_name: str, out: Path | None = None, force: bool = False
) -> Path:
    """Load the ``.keras`` file at ``model_path`` and export it (see :func:`export_model`).

    ``out`` defaults to the format's path under ``config.EXPORTED_MODELS_DIR``.
    """
    check_format(format_name)
    out = Path(out) if out is not None else DEFAULT_EXPORT_PATHS[format_name]
    refuse_existing(out, force)
    model = load_model_to_export(Path(model_path))
    try:
        written = export_model(model, format_name, out, force=force, source_sha256=file_sha256(model_path))
    except (ExportError, OSError):
        raise
    except (
        Exception
    ) as error:  # Keras's and tf2onnx's exporters raise many kinds for a layer they cannot trace
        raise ExportError(
            f"{shown_path(Path(model_path))} could not be exported to {format_name}: {_one_line(error)}"
        ) from error
    if thresholds_path(model_path).is_file():  # the reader's verdicts travel with the model
        with atomic_path(thresholds_path(written)) as tmp_path:
            shutil.copyfile(thresholds_path(model_path), tmp_path)
    return written


MAX_CAUSE_LENGTH = 300  # of an exporter's error quoted in ours


def load_model_to_export(model_path: Path) -> keras.Model:
    """The Keras model in the ``.keras`` file at ``model_path``, loaded safely (no Python code runs).

    Raises:
        ExportError: naming the file and what is wrong: a folder, not a complete ``.keras`` (zip) file
            (truncated, or another kind of file), a ``Lambda`` layer (Python code, which a safe load and the
            exporters refuse), or any other reason Keras gives for not loading it.
    """
    import keras

    shown = shown_path(model_path)
    if model_path.is_dir():
        raise ExportError(f"{shown} is a folder; expected a .keras model file")
    if not zipfile.is_zipfile(model_path):
        raise ExportError(
            f"{shown} is not a Keras model file: a .keras file is a zip archive, and this one is truncated "
            f"or another kind of file ({model_path.stat().st_size:,} bytes)"
        )
    try:
        return keras.saving.load_model(model_path)
    except Exception as error:  # Keras raises many kinds for a damaged archive or config
        if "Lambda" in str(error):
            raise ExportError(
                f"{shown} holds a Lambda layer (Python code), which cannot be loaded safely or exported: "
                "rebuild the model from built-in layers"
            ) from error
        raise ExportError(f"{shown} could not be loaded as a Keras model: {_one_line(error)}") from error


def _one_line(error: Exception) -> str:
    message = " ".join(str(error).split())
    if len(message) > MAX_CAUSE_LENGTH:
        message = message[:MAX_CAUSE_LENGTH] + "..."
    return f"{type(error).__name__}: {message}"


def thresholds_path(model_path: Path) -> Path:
    """Where the reader's verdict thresholds for the model at ``model_path`` are kept: beside it."""
    return Path(model_path).with_suffix(".thresholds.json")


def check_format(format_name: str) -> None:
    """Raise :class:`UnknownFormatError` unless ``format_name`` is one of ``EXPORT_FORMATS``."""
    if format_name not in KERAS_EXPORT_FORMATS:
        raise UnknownFormatError(
            f"unknown export format {format_name!r}: expected one of {', '.join(EXPORT_FORMATS)}"
        )


def check_input_shape(shape: tuple, shown: str) -> None:
    """Raise :class:`ExportError` unless ``shape`` is a batch of 28x28x1 images (any batch size)."""
    if len(shape) != 4 or tuple(shape[1:]) != MODEL_INPUT_SHAPE[1:]:
        raise ExportError(
            f"{shown} takes inputs of shape {shape}; expected (N, 28, 28, 1), a batch of 28x28 "
            "grayscale images"
        )


def require_packages(requirements: list[str], purpose: str) -> None:
    """Raise :class:`MissingPackageError` naming the pip install line when a package is missing."""
    missing = [req for req in requirements if importlib.util.find_spec(_module_of(req)) is None]
    if missing:
        raise MissingPackageError(
            f"{purpose} needs {', '.join(missing)}, which is not installed: "
            f"run `pip install {' '.join(missing)}` (or `make install`)"
        )


def _module_of(requirement: str) -> str:
    name = requirement.split("==")[0]
    return {"ai-edge-litert": "ai_edge_litert"}.get(name, name)


def refuse_existing(out: Path, force: bool) -> None:
    """Raise :class:`OutputExistsError` when ``out`` exists and ``force`` is false."""
    if out.exists() and not force:
        kind = "folder" if out.is_dir() else "file"
        raise OutputExistsError(f"{shown_path(out)} exists ({kind}): pass --force to replace it")


def write_output(out: Path, force: bool, write: Callable[[Path], None], is_folder: bool) -> Path:
    """Call ``write`` with a temporary path beside ``out``, then move the result into place.

    A crash or an error in ``write`` leaves whatever was at ``out`` intact.
    """
    refuse_existing(out, force)
    if not is_folder:
        with atomic_path(out) as tmp_path:
            tmp_path.unlink()  # some writers refuse to overwrite
            write(tmp_path)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=partial_prefix(out)))
    try:
        write(staging / out.name)
        give_ordinary_mode(staging / out.name)
        old = staging / "previous"
        if out.exists():
            os.replace(out, old)
        os.replace(staging / out.name, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _record_source_hash(onnx_path: Path, source_sha256: str) -> None:
    import onnx  # installed with tf2onnx, which the ONNX export needs anyway

    proto = onnx.load(str(onnx_path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = SOURCE_HASH_KEY, source_sha256
    onnx.save(proto, str(onnx_path))
