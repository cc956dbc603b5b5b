"""Average several trained models into one Keras model that saves and loads like any other."""

import keras
from keras import layers

from digit_recog.modeling.cnn import INPUT_SHAPE, inference_model


def build_ensemble(models: list[keras.Model], name: str = "digit_recog_ensemble") -> keras.Model:
    """One functional model whose output is the mean of the members' class probabilities.

    Every member gets the same raw-pixel input (0-255, shape ``(N, 28, 28, 1)``), so the result is
    as self-contained as its members: ``keras.saving.load_model`` needs nothing from this package.
    Members are copied (weights included) and renamed ``member_1``, ``member_2``, ...; the models
    passed in are left untouched.

    Raises:
        ValueError: with fewer than two members, since an average of one model is that model.
    """
    if len(models) < 2:
        raise ValueError(f"an ensemble needs at least 2 member models, got {len(models)}.")
    pixels = keras.Input(shape=INPUT_SHAPE, name="pixels")
    outputs = [_renamed_copy(model, f"member_{index}")(pixels) for index, model in enumerate(models, start=1)]
    mean_probabilities = layers.Average(name="mean_probabilities")(outputs)
    return keras.Model(pixels, mean_probabilities, name=name)


def _renamed_copy(model: keras.Model, name: str) -> keras.Model:
    """A copy of ``model`` with its weights and without augmentation layers; members need unique names
    inside one model."""
    network = inference_model(model)
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    copy.name = name
    return copy
