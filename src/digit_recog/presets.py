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
    "default": Preset(
        description="The same two conv blocks with batch norm, a wider dropout-regularised head, "
        "random rotation/zoom/shift augmentation and a cosine learning-rate decay.",
        model=ModelConfig(
            conv_blocks=(ConvBlock(32), ConvBlock(64)),
            dense_units=(128,),
            dropout_rates=(0.4,),
            batch_norm=True,
            augmentation=Augmentation(rotation=0.03, zoom=0.1, translation=0.1),
        ),
        train=TrainConfig(
            epochs=16, batch_size=128, learning_rate=2e-3, lr_schedule="cosine", early_stopping_patience=4
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
