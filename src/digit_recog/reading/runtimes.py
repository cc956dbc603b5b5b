"""Read digits with an exported model: ONNX Runtime or LiteRT, instead of Keras.

An exported model answers like the ``.keras`` one (same digit, probabilities within 1e-4; the tests check
it on all of MNIST's test images) in a fraction of the time for one image. ``exported_reader`` picks the
runtime for :func:`digit_recog.reading.predict.load_reader`: by default the ONNX file ``digit-recog
export`` wrote beside the shipped model, when it is there, was exported from that very ``.keras`` file
and onnxruntime is installed; otherwise Keras. ``python -m lab.reading_benchmark`` measures the three: both
exported runtimes cost about a fifth of Keras's CPU per reading and are within a few hundredths of a
millisecond of each other, and only the ONNX file records which ``.keras`` file it came from.
"""

import threading
from pathlib import Path

import numpy as np

from digit_recog import config
from digit_recog.artifacts import MissingArtifactError, shown_path
from digit_recog.modeling.export import (
    SOURCE_HASH_KEY,
    ExportError,
    check_input_shape,
    file_sha256,
    require_packages,
)

RUNTIMES = ("auto", "keras", "onnx", "litert")
RUNTIME_PACKAGES = {".onnx": ["onnxruntime==1.31.1"], ".tflite": ["ai-edge-litert==2.3.0"]}
# Threads one prediction may use. The server reads several pictures at once, one per worker thread, and a
# digit is a few hundred thousand multiply-adds: a pool of threads per prediction only adds hand-overs and
# spinning (ONNX Runtime's pool spins between calls, on every core) competing with the other requests.
SERVING_THREADS = 1


class ExportedModelError(ExportError):
    """An exported model file exists but cannot be used: corrupt, stale, or the wrong input shape."""


class ExportedModel:
    """A model exported from Keras, read with its own runtime: ``predict`` maps (N, 28, 28, 1) float32 raw
    pixels to (N, 10) probabilities."""

    runtime = "exported"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def predict(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxModel(ExportedModel):
    """An ONNX file read with ONNX Runtime on the CPU."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = SERVING_THREADS) -> None:
        """Args: threads: inside one prediction (None: ONNX Runtime's default, one per core, spinning)."""
        super().__init__(path)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.threads = threads
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf/... kinds
            raise ExportedModelError(
                f"{shown_path(self.path)} could not be loaded by ONNX Runtime ({error}): export it again "
                "with `digit-recog export --format onnx --force`"
            ) from error
        model_input = self.session.get_inputs()[0]
        _check_input(tuple(model_input.shape), self.path)
        self.input_name = model_input.name
        self.metadata = self.session.get_modelmeta().custom_metadata_map

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: images})[0]


class LiteRTModel(ExportedModel):
    """A ``.tflite`` file read with the LiteRT interpreter (ai-edge-litert)."""

    runtime = "litert"

    def __init__(self, path: Path, threads: int | None = SERVING_THREADS) -> None:
        """Args: threads: inside one prediction (None: LiteRT's default)."""
        super().__init__(path)
        from ai_edge_litert.interpreter import Interpreter

        self.threads = threads
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        except Exception as error:  # LiteRT raises ValueError or RuntimeError for a damaged file
            raise ExportedModelError(
                f"{shown_path(self.path)} could not be loaded by LiteRT ({error}): export it again "
                "with `digit-recog export --format litert --force`"
            ) from error
        details = self.interpreter.get_input_details()[0]
        _check_input(tuple(int(n) for n in details["shape_signature"]), self.path)
        self.input_index = details["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.batch_size = 0
        # One interpreter holds one input at a time; the app calls predict from several threads.
        self.lock = threading.Lock()

    def predict(self, images: np.ndarray) -> np.ndarray:
        with self.lock:
            if images.shape[0] != self.batch_size:  # LiteRT plans memory for one input shape at a time
                self.interpreter.resize_tensor_input(self.input_index, list(images.shape))
                self.interpreter.allocate_tensors()
                self.batch_size = images.shape[0]
            self.interpreter.set_tensor(self.input_index, images)
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self.output_index).copy()


def load_exported_model(path: Path, threads: int | None = SERVING_THREADS) -> ExportedModel:
    """Load an exported ``.onnx`` or ``.tflite`` model with its runtime, using ``threads`` threads inside
    one prediction (None: the runtime's default).

    Raises:
        MissingArtifactError: the file does not exist.
        MissingPackageError: the runtime is not installed (the message names the pip package).
        ExportedModelError: the file is corrupt or does not take (N, 28, 28, 1) inputs.
    """
    path = Path(path)
    if path.suffix not in RUNTIME_PACKAGES:
        raise ExportedModelError(
            f"{shown_path(path)}: expected an exported model ending in .onnx or .tflite, found "
            f"{path.suffix or 'no suffix'}"
        )
    if not path.is_file():
        raise MissingArtifactError(
            f"{shown_path(path)} does not exist yet: run `digit-recog export` (or `make export`) first"
        )
    require_packages(RUNTIME_PACKAGES[path.suffix], f"reading {shown_path(path)}")
    return OnnxModel(path, threads) if path.suffix == ".onnx" else LiteRTModel(path, threads)


def exported_path_for(keras_path: Path, runtime: str) -> Path:
    """Where ``digit-recog export`` writes the ``runtime`` (onnx or litert) export of ``keras_path``."""
    suffix = ".onnx" if runtime == "onnx" else ".tflite"
    return config.EXPORTED_MODELS_DIR / (Path(keras_path).stem + suffix)


def limit_tensorflow_threads(threads: int = SERVING_THREADS) -> bool:
    """Have TensorFlow run each op on ``threads`` threads and one op at a time, as the exported runtimes do.

    TensorFlow takes the setting only before it starts its runtime (its first op); returns whether it did.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow has started already: it keeps its threads
        return False
    return True


def exported_reader(model_path: Path, runtime: str = "auto") -> ExportedModel | None:
    """The exported model to read with instead of Keras, or None to read with Keras.

    Either way one prediction uses :data:`SERVING_THREADS` threads (for Keras, when TensorFlow has not
    started yet: see :func:`limit_tensorflow_threads`).

    Args:
        model_path: a ``.keras`` file, or an exported ``.onnx``/``.tflite`` file (read with its runtime).
        runtime: ``"auto"`` reads with ONNX Runtime when the fresh ONNX export of ``model_path`` and
            onnxruntime are both there, else with Keras; ``"keras"`` always with Keras; ``"onnx"`` and
            ``"litert"`` insist on that export and raise when it is missing or stale.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    model_path = Path(model_path)
    if model_path.suffix in RUNTIME_PACKAGES:
        return load_exported_model(model_path)
    if runtime == "keras":
        limit_tensorflow_threads()
        return None
    if runtime == "auto":
        reader = _fresh_onnx_reader(model_path)
        if reader is None:
            limit_tensorflow_threads()
        return reader
    reader = load_exported_model(exported_path_for(model_path, runtime))
    if isinstance(reader, OnnxModel):
        _check_fresh(reader, model_path)
    return reader


def _fresh_onnx_reader(model_path: Path) -> OnnxModel | None:
    """The ONNX export of ``model_path`` read with ONNX Runtime, or None when it is missing or stale, or
    onnxruntime is not installed: Keras answers the same, only slower."""
    onnx_path = exported_path_for(model_path, "onnx")
    if not onnx_path.is_file() or not model_path.is_file():
        return None
    try:
        reader = load_exported_model(onnx_path)
        _check_fresh(reader, model_path)
    except (ImportError, ExportError):
        return None
    return reader


def _check_input(shape: tuple, path: Path) -> None:
    try:
        check_input_shape(shape, shown_path(path))
    except ExportError as error:
        raise ExportedModelError(f"{error}: this is not a digit-recog model") from None


def _check_fresh(reader: OnnxModel, keras_path: Path) -> None:
    recorded = reader.metadata.get(SOURCE_HASH_KEY)
    if recorded != file_sha256(keras_path):
        raise ExportedModelError(
            f"{shown_path(reader.path)} was not exported from {shown_path(keras_path)} as it is now "
            f"(expected source SHA-256 {file_sha256(keras_path)[:12]}…, found "
            f"{(recorded or 'none')[:12]}): run `digit-recog export --format onnx --force`"
        )
