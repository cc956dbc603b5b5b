"""Forward multiply-adds per image of each preset's network, and what its training costs in them.

Counts the convolutions and dense layers of the built models (batch norm, pooling and augmentation are
left out), then compares a preset's training arithmetic (multiply-adds x epochs) with the original recipe's.
For scale it adds the 3x3 model of An et al. (2020, github.com/ansh941/MnistSimpleCNN): ten unpadded 3x3
convolutions of 32 to 176 channels and one dense layer, trained 150 epochs. Prints one JSON object:

    .venv/bin/python -m lab.ablations.multiply_adds > lab/reports/multiply_adds.json
"""

import json

import keras

from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.presets import PRESETS

AN_ET_AL_CHANNELS = (1, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176)
AN_ET_AL_EPOCHS = 150


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one image through the model's Conv2D and Dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            total += (
                height * width * filters * layer.kernel_size[0] * layer.kernel_size[1] * layer.input.shape[-1]
            )
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return total


def an_et_al_multiply_adds(size: int = 28) -> int:
    """Multiply-adds of one image through An et al.'s 3x3 model."""
    total = 0
    for channels_in, channels_out in zip(AN_ET_AL_CHANNELS, AN_ET_AL_CHANNELS[1:]):
        size -= 2
        total += size * size * 9 * channels_in * channels_out
    return total + size * size * AN_ET_AL_CHANNELS[-1] * 10


def main() -> dict:
    """Per-image multiply-adds (millions) and training arithmetic as a multiple of the original recipe's."""
    per_image = {
        name: multiply_adds(build_cnn(PRESETS[name].model, seed=0))
        for name in ("seed", "fast", "default", "best")
    }
    epochs = {name: PRESETS[name].train.epochs for name in per_image}
    per_image["an_et_al_2020_3x3"], epochs["an_et_al_2020_3x3"] = an_et_al_multiply_adds(), AN_ET_AL_EPOCHS
    baseline = per_image["seed"] * epochs["seed"]
    return {
        name: {
            "multiply_adds_millions": round(count / 1e6, 2),
            "epochs": epochs[name],
            "training_arithmetic_x_original": round(count * epochs[name] / baseline, 2),
        }
        for name, count in per_image.items()
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
