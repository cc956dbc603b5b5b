"""Honest probabilities: temperature scaling fitted on the validation split, built into the saved model.

Label smoothing trains the network to be less than certain, so a clean digit reads at about 90%. Temperature
scaling (Guo et al., 2017) divides the last layer's logits by one number ``T`` chosen to minimise the
negative log-likelihood of the validation labels: the ranking of the digits, and so the accuracy, stays the
same, while the probabilities come to mean what they say. The calibrated model ends in built-in layers
(``Dense`` without activation, ``Rescaling(1/T)``, ``Softmax``), so plain Keras users get them too.
"""

import keras
import numpy as np
from keras import layers
from scipy.optimize import minimize_scalar

TEMPERATURE_LAYER = "temperature"
TEMPERATURE_RANGE = (0.05, 20.0)


def logits_model(model: keras.Sequential) -> keras.Sequential:
    """``model`` with its last softmax ``Dense`` layer returning logits; the layers share ``model``'s weights.

    Raises:
        ValueError: when the last layer is not a ``Dense`` layer with a softmax activation.
    """
    *body, head = model.layers
    if not isinstance(head, layers.Dense) or head.activation is not keras.activations.softmax:
        raise ValueError(
            f"the last layer of {model.name!r} is {type(head).__name__} {head.name!r}, not a softmax Dense "
            "layer: temperature scaling needs the logits before the softmax."
        )
    return keras.Sequential([keras.Input(model.input_shape[1:], name="pixels"), *body, _linear_copy(head)])


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the mean negative log-likelihood of ``labels`` under softmax(logits / T)."""
    logits = np.asarray(logits, np.float64)
    rows = np.arange(len(labels))

    def negative_log_likelihood(log_temperature: float) -> float:
        scaled = logits / np.exp(log_temperature)
        scaled -= scaled.max(axis=1, keepdims=True)
        log_probabilities = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probabilities[rows, labels].mean())

    low, high = np.log(TEMPERATURE_RANGE)
    return float(np.exp(minimize_scalar(negative_log_likelihood, bounds=(low, high), method="bounded").x))


def calibrated_model(model: keras.Sequential, temperature: float) -> keras.Sequential:
    """``model`` with probabilities softmax(logits / ``temperature``): same weights, same predicted digit."""
    logits = logits_model(model)
    return keras.Sequential(
        [
            *logits.layers[:-1],
            logits.layers[-1],
            layers.Rescaling(1.0 / temperature, name=TEMPERATURE_LAYER),
            layers.Softmax(name="probabilities"),
        ],
        name=model.name,
    )


def calibrate(
    model: keras.Sequential, val_images: np.ndarray, val_labels: np.ndarray
) -> tuple[keras.Sequential, float]:
    """Fit the temperature on the validation images (raw pixels, (N, 28, 28[, 1])) and return the calibrated
    model and the temperature."""
    images = val_images[..., np.newaxis] if val_images.ndim == 3 else val_images
    logits = logits_model(model).predict(images.astype(np.float32), batch_size=512, verbose=0)
    temperature = fit_temperature(logits, val_labels)
    return calibrated_model(model, temperature), temperature


def without_temperature(model: keras.Sequential) -> keras.Sequential:
    """A calibrated model as it was before calibration (temperature 1), sharing its weights."""
    if temperature_of(model) is None:
        return model
    kept = [layer for layer in model.layers if layer.name != TEMPERATURE_LAYER]
    return keras.Sequential([keras.Input(model.input_shape[1:], name="pixels"), *kept], name=model.name)


def temperature_of(model: keras.Model) -> float | None:
    """The temperature built into a calibrated model, or None for one that was not calibrated."""
    try:
        return 1.0 / float(model.get_layer(TEMPERATURE_LAYER).scale)
    except ValueError:
        return None


def _linear_copy(head: layers.Dense) -> layers.Dense:
    """A ``Dense`` layer like ``head`` without its activation, holding the same weights."""
    settings = head.get_config() | {"activation": None, "name": f"{head.name}_logits"}
    copy = layers.Dense.from_config(settings)
    copy.build((None, head.kernel.shape[0]))
    copy.set_weights(head.get_weights())
    return copy
