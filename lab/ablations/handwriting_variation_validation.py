"""Validation-only: the ``default`` preset with slant and elastic distortion, against the rule set beforehand.

The rule, written before any run (docs/honest_reading.md): keep slant (+-0.3) and an elastic distortion in
the ``default`` if the validation accuracy of seeds 42 and 43 averages at least 99.50%, the issue's floor
for MNIST. The first candidate, Simard's alpha 34 and sigma 4, scored 99.00% on seed 42 and was dropped;
the second, alpha 34 with Ciresan et al.'s smoother sigma 6, is the preset's now. The amounts come from
the literature and from how people write, not from a search; other writers' digits, the styles set and
the test set are not loaded here. Pass ``--without`` to train the preset as it was before (no slant, no
elastic distortion) for comparison. One JSON line per training, about 5 minutes each on 2 cores:

    .venv/bin/python -m lab.ablations.handwriting_variation_validation [--without | --slant-only] \
        [--epochs N] SEED...
"""

import argparse
import json
from dataclasses import replace

from digit_recog.modeling.presets import PRESETS, Preset
from lab.ablations.outlier_exposure_validation import validation_report


def without_variation(preset: Preset) -> Preset:
    """``preset`` with no slant and no elastic distortion: the ``default`` as it was before them."""
    augmentation = replace(preset.model.augmentation, shear=0.0, elastic_alpha=0.0)
    return replace(preset, model=replace(preset.model, augmentation=augmentation))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="+", type=int)
    parser.add_argument("--without", action="store_true", help="no slant and no elastic distortion")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of the preset's")
    parser.add_argument("--slant-only", action="store_true", help="slant, but no elastic distortion")
    arguments = parser.parse_args()
    preset = without_variation(PRESETS["default"]) if arguments.without else PRESETS["default"]
    if arguments.slant_only:
        augmentation = replace(preset.model.augmentation, elastic_alpha=0.0)
        preset = replace(preset, model=replace(preset.model, augmentation=augmentation))
    if arguments.epochs:
        preset = replace(preset, train=replace(preset.train, epochs=arguments.epochs))
    for seed in arguments.seeds:
        report = validation_report(preset, preset.train.outlier_images, seed)
        variant = "default_before" if arguments.without else "default_slant_elastic"
        augmentation = preset.model.augmentation
        amounts = {"shear": augmentation.shear, "elastic_alpha": augmentation.elastic_alpha}
        amounts |= {"elastic_sigma": augmentation.elastic_sigma, "epochs": preset.train.epochs}
        print(json.dumps({"variant": variant, **amounts, **report}), flush=True)
