"""Named recipes: an architecture and a way to train it, chosen on the validation split only."""

from dataclasses import dataclass, fields, replace

from digit_recog.augment import Augmentation
from digit_recog.model import ConvBlock, ModelConfig
from digit_recog.train import TrainConfig


@dataclass(frozen=True)
class Preset:
    """A model configuration, a training configuration and one line saying what they are."""

    description: str
    model: ModelConfig
    train: TrainConfig


# Real handwriting differs from MNIST in stroke width, sharpness, slant, size and position; these
# augmentations lifted accuracy on MNIST-style out-of-distribution digits (scikit-learn's 8x8 set,
# 89% -> 96%) for about 0.1 point of validation accuracy. See reports/performance.md.
HANDWRITING_AUGMENTATION = Augmentation(
    rotation=0.03, zoom=0.1, translation=0.1, stroke_width=0.7, blur=1.0, chained_geometry=True
)
# The default's rotation, zoom and shift resample once (RandomAffine), and every image gets a random blur:
# on 3 seeds, 0.13 points more validation accuracy than the three chained Keras layers and half the images
# blurred, for 0.2 points less on other writers' digits (reports/performance.md).
DEFAULT_AUGMENTATION = replace(HANDWRITING_AUGMENTATION, chained_geometry=False, blur_factor=(1.0, 1.0))
# Head and schedule: dense 256, dropout 0.2, batch-norm momentum 0.9 and peak learning rate 6e-3 (from 128,
# 0.3, 0.99 and 4e-3) each scored a little higher in a GPU sweep; together, 0.06 points more validation
# accuracy on 3 seeds of the CPU (reports/performance.md).
DEFAULT_MODEL = ModelConfig(
    conv_blocks=(ConvBlock(32, batch_norm=False), ConvBlock(64), ConvBlock(128, pool=False)),
    dense_units=(256,),
    dropout_rates=(0.2,),
    batch_norm=True,
    bn_momentum=0.9,
    augmentation=DEFAULT_AUGMENTATION,
)
DEFAULT_EPOCHS = 11
# 20, 30 and 45 epochs scored the same on the validation split (99.64%, 99.61%, 99.62%, 3 seeds each, GPU
# sweep); 20 takes two thirds of the time (reports/performance.md).
BEST_EPOCHS = 20

PRESETS = {
    "seed": Preset(
        description="The original project's CNN and recipe (232,650 parameters, Adam 1e-3, batch 64, "
        "10 epochs), but validated on a held-out split instead of the test set.",
        model=ModelConfig(
            conv_blocks=(ConvBlock(32), ConvBlock(64)),
            dense_units=(128, 64),
            dropout_rates=(0.2, 0.3),
        ),
        train=TrainConfig(
            epochs=10, batch_size=64, learning_rate=1e-3, lr_schedule="constant", early_stopping_patience=3
        ),
    ),
    "fast": Preset(
        description="Seconds, not minutes: a stride-2 4x4 convolution of 16 filters in place of "
        "convolution plus pooling at full resolution, then 32 filters and a 64-unit dense layer with batch "
        "norm, 2 epochs of a one-cycle schedule peaking at 1e-2, batch 256, label smoothing.",
        model=ModelConfig(
            conv_blocks=(
                ConvBlock(16, kernel_size=4, strides=2, pool=False, batch_norm=False),
                ConvBlock(32),
            ),
            dense_units=(64,),
            dropout_rates=(0.0,),
            batch_norm=True,
            bn_momentum=0.9,
        ),
        train=TrainConfig(
            epochs=2, batch_size=256, learning_rate=1e-2, lr_schedule="onecycle", label_smoothing=0.1
        ),
    ),
    "default": Preset(
        description="The shipped model: the original two conv blocks plus a third of 128 filters, batch "
        "norm after all but the first convolution, augmented for real handwriting (stroke width, a random "
        "blur of every image, and rotation, zoom and shift in one resampling), a dense layer of 256 with "
        "dropout 0.2, one-cycle schedule peaking at 6e-3, label smoothing.",
        model=DEFAULT_MODEL,
        train=TrainConfig(
            epochs=DEFAULT_EPOCHS,
            batch_size=256,
            learning_rate=6e-3,
            lr_schedule="onecycle",
            label_smoothing=0.1,
            early_stopping_patience=20,
        ),
    ),
    "best": Preset(
        description="A deeper network in the shape of the best public single MNIST CNNs: twice two 3x3 "
        "convolutions and a stride-2 5x5 one (32, then 64 filters), a 4x4 convolution of 128 to 1x1, batch "
        "norm throughout, stroke-width, blur and geometry augmentation, one-cycle schedule peaking at 4e-3, "
        "label smoothing, 20 epochs.",
        model=ModelConfig(
            conv_blocks=(
                ConvBlock(32, convs=2, pool=False),
                ConvBlock(32, kernel_size=5, strides=2, padding="same", pool=False),
                ConvBlock(64, convs=2, pool=False),
                ConvBlock(64, kernel_size=5, strides=2, padding="same", pool=False),
                ConvBlock(128, kernel_size=4, pool=False),
            ),
            dense_units=(128,),
            dropout_rates=(0.4,),
            batch_norm=True,
            augmentation=HANDWRITING_AUGMENTATION,
        ),
        train=TrainConfig(
            epochs=BEST_EPOCHS,
            batch_size=256,
            learning_rate=4e-3,
            lr_schedule="onecycle",
            label_smoothing=0.1,
            early_stopping_patience=100,
        ),
    ),
}


def get_preset(name: str, **train_overrides) -> Preset:
    """Return preset ``name``, with any non-None training settings in ``train_overrides`` applied.

    ``"tuned"`` is built from ``models/best_hparams.json``, the best trial of ``06_tune``.

    Raises:
        KeyError: for an unknown preset name or training setting, listing the valid ones.
        MissingArtifactError: for ``"tuned"`` before 06_tune.ipynb has written its file.
    """
    if name == "tuned":
        from digit_recog.tuning import load_tuned_preset  # imports KerasTuner only when asked for

        preset = load_tuned_preset()
    elif name in PRESETS:
        preset = PRESETS[name]
    else:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted([*PRESETS, 'tuned'])}.")
    valid = {f.name for f in fields(TrainConfig)}
    unknown = set(train_overrides) - valid
    if unknown:
        raise KeyError(f"unknown training settings {sorted(unknown)}; valid ones are {sorted(valid)}.")
    chosen = {key: value for key, value in train_overrides.items() if value is not None}
    return replace(preset, train=replace(preset.train, **chosen))
