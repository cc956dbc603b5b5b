"""Six well-known MNIST architectures, one registry of builders that presets and experiments share.

Every builder returns an uncompiled model that takes raw pixels (0-255, shape ``(N, 28, 28, 1)``),
scales them itself and outputs 10 class probabilities. Only built-in Keras layers are used, so a
saved model loads with plain ``keras.saving.load_model``.

:mod:`digit_recog.experiments.architecture_comparison` races them under one training recipe.
"""

from collections.abc import Callable

import keras
from keras import layers

from digit_recog import config
from digit_recog.modeling.cnn import INPUT_SHAPE, ConvBlock, ModelConfig, build_cnn

# The original project's network: two convolutions, dense 128-64 (the ``seed`` preset trains it).
ORIGINAL_CNN = ModelConfig(
    conv_blocks=(ConvBlock(32), ConvBlock(64)),
    dense_units=(128, 64),
    dropout_rates=(0.2, 0.3),
)


def build_original_cnn() -> keras.Model:
    """The project's original CNN (the ``seed`` preset): 2 conv layers, dense 128-64, 232,650 parameters."""
    return build_cnn(ORIGINAL_CNN, name="original_cnn")


def build_keras_io_convnet() -> keras.Model:
    """keras.io's "Simple MNIST convnet": Conv32-pool-Conv64-pool-Dropout 0.5-Dense 10, 34,826 parameters."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="pixels"),
            layers.Rescaling(1.0 / 255, name="scale_to_unit"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(config.NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="keras_io_convnet",
    )


def build_deep_bn_cnn() -> keras.Model:
    """The strongest public single-model kind (Chris Deotte's Kaggle CNN): 32-32-32s2, 64-64-64s2, 128.

    Strided 5x5 convolutions downsample instead of pooling; batch norm after every convolution and
    dropout 0.4 between stages.
    """
    model = keras.Sequential(name="deep_bn_cnn")
    model.add(keras.Input(shape=INPUT_SHAPE, name="pixels"))
    model.add(layers.Rescaling(1.0 / 255, name="scale_to_unit"))
    for stage, filters in enumerate((32, 64), start=1):
        model.add(layers.Conv2D(filters, 3, activation="relu", name=f"conv{stage}_1"))
        model.add(layers.BatchNormalization(name=f"bn{stage}_1"))
        model.add(layers.Conv2D(filters, 3, activation="relu", name=f"conv{stage}_2"))
        model.add(layers.BatchNormalization(name=f"bn{stage}_2"))
        model.add(
            layers.Conv2D(filters, 5, strides=2, padding="same", activation="relu", name=f"conv{stage}_3")
        )
        model.add(layers.BatchNormalization(name=f"bn{stage}_3"))
        model.add(layers.Dropout(0.4, name=f"dropout{stage}"))
    model.add(layers.Conv2D(128, 4, activation="relu", name="conv3"))
    model.add(layers.BatchNormalization(name="bn3"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dropout(0.4, name="dropout3"))
    model.add(layers.Dense(config.NUM_CLASSES, activation="softmax", name="probabilities"))
    return model


def build_small_vgg() -> keras.Model:
    """A small VGG: three blocks of two 3x3 convolutions (16, 32, 64 filters), each block max-pooled."""
    model = keras.Sequential(name="small_vgg")
    model.add(keras.Input(shape=INPUT_SHAPE, name="pixels"))
    model.add(layers.Rescaling(1.0 / 255, name="scale_to_unit"))
    for block, filters in enumerate((16, 32, 64), start=1):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}_1"))
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}_2"))
        model.add(layers.MaxPooling2D(2, name=f"pool{block}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(128, activation="relu", name="dense1"))
    model.add(layers.Dropout(0.5, name="dropout1"))
    model.add(layers.Dense(config.NUM_CLASSES, activation="softmax", name="probabilities"))
    return model


def build_small_resnet() -> keras.Model:
    """A small ResNet (functional API): a conv stem, three residual blocks of 16, 32 and 64 filters.

    The second and third blocks halve the resolution with a strided convolution and a 1x1 projection
    on the shortcut; global average pooling replaces a large dense head.
    """
    pixels = keras.Input(shape=INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="scale_to_unit")(pixels)
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for block, (filters, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        x = _residual_block(x, filters, stride, name=f"res{block}")
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    probabilities = layers.Dense(config.NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, probabilities, name="small_resnet")


def _residual_block(x, filters: int, stride: int, name: str):
    """Two 3x3 conv-BN layers plus a shortcut (a 1x1 projection when the shape changes), then ReLU."""
    shortcut = x
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    x = layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = layers.Activation("relu", name=f"{name}_relu1")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = layers.BatchNormalization(name=f"{name}_bn2")(x)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_project")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_project_bn")(shortcut)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.Activation("relu", name=f"{name}_relu2")(x)


def build_mlp() -> keras.Model:
    """The baseline without convolutions: pixels flattened into dense 256-128 with dropout 0.2."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="pixels"),
            layers.Rescaling(1.0 / 255, name="scale_to_unit"),
            layers.Flatten(name="flatten"),
            layers.Dense(256, activation="relu", name="dense1"),
            layers.Dropout(0.2, name="dropout1"),
            layers.Dense(128, activation="relu", name="dense2"),
            layers.Dropout(0.2, name="dropout2"),
            layers.Dense(config.NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="mlp",
    )


ARCHITECTURES: dict[str, Callable[[], keras.Model]] = {
    "mlp": build_mlp,
    "keras_io_convnet": build_keras_io_convnet,
    "original_cnn": build_original_cnn,
    "small_vgg": build_small_vgg,
    "small_resnet": build_small_resnet,
    "deep_bn_cnn": build_deep_bn_cnn,
}
