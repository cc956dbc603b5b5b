"""The slant and elastic variants the lab tried: each changes only what its name says."""

import pytest

from digit_recog.augment import RandomWarp, augmentation_layers
from digit_recog.modeling.presets import PRESETS
from lab.ablations.handwriting_variation_validation import VARIANTS, variant_preset


def test_the_control_is_the_shipped_default():
    assert variant_preset("control") == PRESETS["default"]


@pytest.mark.parametrize("name", sorted(set(VARIANTS) - {"control"}))
def test_each_variant_warps_and_changes_only_augmentation_and_epochs(name):
    preset, default = variant_preset(name), PRESETS["default"]
    assert preset.model.augmentation.shear == (0.3 if "slant" in name else 0.0)
    assert (preset.model.augmentation.elastic_alpha > 0) == ("elastic" in name)
    assert preset.train.epochs == (13 if name.endswith("_13") else default.train.epochs)
    assert preset.model.conv_blocks == default.model.conv_blocks and preset.train.seed == default.train.seed
    assert isinstance(augmentation_layers(preset.model.augmentation)[-1], RandomWarp)


def test_an_unknown_variant_names_the_known_ones():
    with pytest.raises(SystemExit, match="slant_elastic"):
        variant_preset("wobbly")
