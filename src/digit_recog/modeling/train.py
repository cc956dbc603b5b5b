"""Train a model with Keras callbacks and save what the later notebooks need."""

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from digit_recog import config, data
from digit_recog.artifacts import atomic_path, write_json
from digit_recog.machine import machine_info

# "constant", "cosine" and "plateau" change the rate once an epoch; "onecycle" every step: a linear
# warm-up to the peak rate over the first ``warmup_fraction`` of training, then a cosine decay.
LR_SCHEDULES = ("constant", "cosine", "plateau", "onecycle")


@dataclass(frozen=True)
class TrainConfig:
    """How to fit a model. Early stopping and the checkpoint watch the validation loss."""

    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    min_learning_rate: float = 1e-5
    early_stopping_patience: int = 4
    warmup_fraction: float = 0.2
    label_smoothing: float = 0.0
    seed: int = 42
    # Non-digit pictures added to the training images under uniform targets (outlier exposure): how many
    # to draw; those without ink are left out. The caller draws them
    # (``digit_recog.drawn.outlier_exposure_images``) and passes them to ``train_model``.
    outlier_images: int = 0
    # What the model learns from: any of ``data.TRAINING_SETS`` ("mnist", the other writers' training
    # files; ``digit_recog.training_sets.load_training_data`` loads them). A list or one name is taken too.
    training_sets: tuple[str, ...] = (data.MNIST,)

    def __post_init__(self):
        object.__setattr__(self, "training_sets", data.check_training_sets(self.training_sets))
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}.")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError(f"epochs, batch_size and learning_rate must be positive: {self}.")


@dataclass
class TrainingResult:
    """History per epoch, the epoch whose weights were kept, and the training time.

    ``train_seconds`` is wall-clock time, what a person waits; ``train_cpu_seconds`` the CPU time of all
    the process's threads meanwhile, which does not grow while the process is held up by something else.
    """

    history: dict[str, list[float]]
    best_epoch: int
    epochs_run: int
    train_seconds: float
    config: dict = field(default_factory=dict)
    train_cpu_seconds: float | None = None

    def summary(self) -> dict:
        """Everything but the per-epoch history, for ``reports/training.json``."""
        best = {key: values[self.best_epoch - 1] for key, values in self.history.items()}
        return {
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "train_seconds": round(self.train_seconds, 1),
            "train_cpu_seconds": None if self.train_cpu_seconds is None else round(self.train_cpu_seconds, 1),
            "best_epoch_metrics": best,
            "train_config": self.config,
        }


def train_model(
    model: keras.Model,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    train_config: TrainConfig,
    checkpoint_path: Path | None = None,
    verbose: int = 2,
    tensorboard_dir: Path | None = None,
    hparams: dict | None = None,
    outlier_images: np.ndarray | None = None,
) -> TrainingResult:
    """Compile and fit ``model``; keep the weights of the epoch with the lowest validation loss.

    Images are raw uint8 pixels of shape (N, 28, 28) or (N, 28, 28, 1); labels are digits 0-9.
    The test set never enters here. With ``tensorboard_dir``, Keras's TensorBoard callback logs the curves
    there, and ``hparams`` (plain numbers, strings and booleans) go to TensorBoard's HParams dashboard.
    Build ``model`` inside ``distribution_strategy().scope()`` to train on every visible GPU.
    ``outlier_images`` (raw pixels, not digits) train with a uniform target over the ten digits, so that the
    model learns to spread its probability on what is not a digit (outlier exposure, Hendrycks et al. 2019).
    """
    keras.utils.set_random_seed(train_config.seed)
    steps_per_epoch = math.ceil(len(train_images) / train_config.batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(train_config, steps_per_epoch)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=train_config.label_smoothing),
        metrics=["accuracy"],
    )
    callbacks = _callbacks(train_config, checkpoint_path) + _tensorboard_callbacks(tensorboard_dir, hparams)
    started, cpu_started = time.perf_counter(), time.process_time()
    images, targets = _with_outliers(train_images, _one_hot(train_labels), outlier_images)
    fit = model.fit(
        images,
        targets,
        validation_data=(_with_channel(val_images), _one_hot(val_labels)),
        epochs=train_config.epochs,
        batch_size=train_config.batch_size,
        shuffle=True,
        callbacks=callbacks,
        verbose=verbose,
    )
    train_seconds, train_cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    return TrainingResult(
        history=history,
        best_epoch=int(np.argmin(history["val_loss"])) + 1,
        epochs_run=len(history["val_loss"]),
        train_seconds=train_seconds,
        config=asdict(train_config),
        train_cpu_seconds=train_cpu_seconds,
    )


def learning_rate_schedule(train_config: TrainConfig, steps_per_epoch: int):
    """A per-step schedule for "onecycle" (built into Keras, so saved models load anywhere), else a float."""
    if train_config.lr_schedule != "onecycle":
        return train_config.learning_rate
    total_steps = train_config.epochs * steps_per_epoch
    warmup_steps = int(train_config.warmup_fraction * total_steps)
    start = train_config.learning_rate / 10
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=start,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=train_config.min_learning_rate / train_config.learning_rate,
        warmup_target=train_config.learning_rate,
        warmup_steps=warmup_steps,
    )


def _callbacks(train_config: TrainConfig, checkpoint_path: Path | None) -> list[keras.callbacks.Callback]:
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=train_config.early_stopping_patience, restore_best_weights=True
        )
    ]
    if train_config.lr_schedule != "onecycle":
        callbacks.append(_lr_callback(train_config))
    if checkpoint_path is not None:
        Path(checkpoint_path).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(BestEpochCheckpoint(Path(checkpoint_path)))
    return callbacks


class BestEpochCheckpoint(keras.callbacks.Callback):
    """Save the model after each epoch whose validation loss is the lowest so far, as Keras's
    ``ModelCheckpoint(save_best_only=True)`` does, but atomically: the save goes to a temporary file beside
    the checkpoint, renamed over it only once complete, so a process killed mid-save leaves the previous
    checkpoint whole (and the next save removes the temporary file)."""

    def __init__(self, path: Path, monitor: str = "val_loss"):
        super().__init__()
        self.path, self.monitor, self.best = Path(path), monitor, float("inf")

    def on_train_begin(self, logs=None):
        self.best = float("inf")

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None or not current < self.best:
            return
        self.best = float(current)
        with atomic_path(self.path) as tmp_path:
            self.model.save(tmp_path)


def _tensorboard_callbacks(log_dir: Path | None, hparams: dict | None) -> list[keras.callbacks.Callback]:
    if log_dir is None:
        return []
    callbacks = [keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0, write_graph=False)]
    if hparams:
        from tensorboard.plugins.hparams import api as hparams_api  # TensorBoard loads only when logging

        callbacks.append(hparams_api.KerasCallback(str(log_dir), _loggable(hparams)))
    return callbacks


def _loggable(hparams: dict) -> dict:
    """The HParams dashboard takes numbers, strings and booleans: others become strings, None is left out."""
    return {
        key: value if isinstance(value, bool | int | float | str) else str(value)
        for key, value in hparams.items()
        if value is not None
    }


def distribution_strategy() -> tf.distribute.Strategy:
    """``MirroredStrategy`` over every visible GPU when there are several, else TensorFlow's default.

    The same code path serves one GPU, several or only the CPU: build and train the model inside
    ``distribution_strategy().scope()``.
    """
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def _lr_callback(train_config: TrainConfig) -> keras.callbacks.Callback:
    if train_config.lr_schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=1, min_lr=train_config.min_learning_rate
        )
    return keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(epoch, train_config))


def learning_rate_at(epoch: int, train_config: TrainConfig) -> float:
    """Learning rate for a 0-based ``epoch`` of the per-epoch schedules: constant, or cosine decay to the
    minimum at the end."""
    if train_config.lr_schedule == "constant" or train_config.epochs == 1:
        return train_config.learning_rate
    progress = epoch / (train_config.epochs - 1)
    low, high = train_config.min_learning_rate, train_config.learning_rate
    return low + 0.5 * (high - low) * (1 + math.cos(math.pi * progress))


def save_training_result(result: TrainingResult, history_path: Path, summary_path: Path, **details) -> None:
    """Write the per-epoch history, and the run summary with any ``details`` added, as JSON.

    The summary also records when the training finished and on what machine.
    """
    write_json(result.history, history_path)
    recorded = {
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }
    write_json(result.summary() | recorded | details, summary_path)


def _with_outliers(
    images: np.ndarray, targets: np.ndarray, outlier_images: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The training images and targets, with ``outlier_images`` appended under uniform targets."""
    if outlier_images is None or len(outlier_images) == 0:
        return _with_channel(images), targets
    uniform = np.full((len(outlier_images), config.NUM_CLASSES), 1 / config.NUM_CLASSES, np.float32)
    return (
        np.concatenate([_with_channel(images), _with_channel(outlier_images).astype(images.dtype)]),
        np.concatenate([targets, uniform]),
    )


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """One-hot targets, which label smoothing needs (the sparse loss has no smoothing)."""
    return keras.utils.to_categorical(labels, num_classes=config.NUM_CLASSES).astype(np.float32)


def _with_channel(images: np.ndarray) -> np.ndarray:
    return images[..., np.newaxis] if images.ndim == 3 else images
