"""Build CNNs from a small, explicit configuration.

Every model built here takes raw pixels (0-255, shape ``(N, 28, 28, 1)``), scales them itself and
outputs 10 class probabilities. Training-only augmentation layers sit right after the scaling;
:func:`inference_model` drops them, so a saved model can be used with plain Keras.
"""

from dataclasses import dataclass, field

import keras
from keras import layers

from digit_recog import config
from digit_recog.augment import Augmentation, augmentation_layers, is_augmentation

INPUT_SHAPE = (config.IMAGE_SIZE, config.IMAGE_SIZE, 1)


@dataclass(frozen=True)
class ConvBlock:
    """``convs`` convolutions of ``filters`` channels, optionally followed by 2x2 max pooling.

    ``strides`` applies to the block's first convolution: a stride-2 convolution downsamples more cheaply
    than a stride-1 convolution followed by pooling (see docs/performance.md).
    """

    filters: int
    kernel_size: int = 3
    convs: int = 1
    strides: int = 1
    padding: str = "valid"
    pool: bool = True
    batch_norm: bool | None = None  # None follows ModelConfig.batch_norm


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a CNN: conv blocks, then dense layers with one dropout rate each."""

    conv_blocks: tuple[ConvBlock, ...]
    dense_units: tuple[int, ...] = (128,)
    dropout_rates: tuple[float, ...] = (0.0,)
    batch_norm: bool = False
    bn_momentum: float = 0.99  # lower suits short trainings: the moving statistics catch up sooner
    augmentation: Augmentation = field(default_factory=Augmentation)

    def __post_init__(self):
        if len(self.dense_units) != len(self.dropout_rates):
            raise ValueError(
                f"dense_units {self.dense_units} and dropout_rates {self.dropout_rates} "
                "must have the same length (one dropout rate per dense layer)."
            )


def build_cnn(
    model_config: ModelConfig, name: str = "digit_recog_cnn", seed: int | None = None
) -> keras.Sequential:
    """Build an uncompiled Keras model from ``model_config``.

    Given a ``seed``, seeds Keras's random state first, so the initial weights are reproducible.
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=INPUT_SHAPE, name="pixels"))
    model.add(layers.Rescaling(1.0 / 255, name="scale_to_unit"))
    for layer in augmentation_layers(model_config.augmentation):
        model.add(layer)
    for block_index, block in enumerate(model_config.conv_blocks, start=1):
        batch_norm = model_config.batch_norm if block.batch_norm is None else block.batch_norm
        for conv_index in range(1, block.convs + 1):
            suffix = f"{block_index}_{conv_index}"
            _add_activated(
                model,
                layers.Conv2D(
                    block.filters,
                    block.kernel_size,
                    strides=block.strides if conv_index == 1 else 1,
                    padding=block.padding,
                    use_bias=not batch_norm,
                    name=f"conv{suffix}",
                ),
                model_config.bn_momentum if batch_norm else None,
                suffix,
            )
        if block.pool:
            model.add(layers.MaxPooling2D(2, name=f"pool{block_index}"))
    model.add(layers.Flatten(name="flatten"))
    for index, (units, rate) in enumerate(zip(model_config.dense_units, model_config.dropout_rates), start=1):
        _add_activated(
            model,
            layers.Dense(units, use_bias=not model_config.batch_norm, name=f"dense{index}"),
            model_config.bn_momentum if model_config.batch_norm else None,
            f"d{index}",
        )
        if rate:
            model.add(layers.Dropout(rate, name=f"dropout{index}"))
    model.add(layers.Dense(config.NUM_CLASSES, activation="softmax", name="probabilities"))
    return model


def _add_activated(model: keras.Sequential, layer: layers.Layer, bn_momentum: float | None, suffix: str):
    """Add ``layer`` then ReLU; given a batch-norm momentum, normalise before the activation."""
    model.add(layer)
    if bn_momentum is not None:
        model.add(layers.BatchNormalization(momentum=bn_momentum, name=f"bn{suffix}"))
    model.add(layers.Activation("relu", name=f"relu{suffix}"))


def inference_model(model: keras.Model) -> keras.Model:
    """``model`` without its training-only augmentation layers, sharing its weights.

    This is what gets saved: it holds only built-in Keras layers, so it loads without this package.
    A model without augmentation (or one that is not a ``Sequential``) is returned as it is.
    """
    if not isinstance(model, keras.Sequential) or not any(map(is_augmentation, model.layers)):
        return model
    kept = [layer for layer in model.layers if not is_augmentation(layer)]
    return keras.Sequential([keras.Input(shape=INPUT_SHAPE, name="pixels"), *kept], name=model.name)
