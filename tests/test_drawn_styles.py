"""The digits the project draws to train on: styles MNIST lacks, as a training set like the others."""

import numpy as np
import pytest

from digit_recog import data, drawn_styles, strokes, training_sets


@pytest.mark.parametrize("family", list(drawn_styles.FAMILIES))
def test_every_family_draws_strokes_a_hand_can_place(family):
    digit, _, make = drawn_styles.FAMILIES[family]
    rng = np.random.default_rng(0)
    for _ in range(50):
        aspect = rng.uniform(0.5, 0.85)
        strokes = drawn_styles._fit_unit_box(make(rng, aspect))
        xs = [x for stroke in strokes for x, _ in stroke]
        ys = [y for stroke in strokes for _, y in stroke]
        assert min(xs) >= -1e-9 and max(xs) <= 1 + 1e-9
        assert min(ys) >= -0.05 and max(ys) <= 1  # a 7's bar may rise a little above its top
        assert all(len(stroke) >= 2 for stroke in strokes)
    assert digit in {1, 4, 7, 9}


def test_a_flag_falls_steeply_and_a_sevens_bar_lies_near_level():
    rng = np.random.default_rng(1)
    for _ in range(200):
        aspect = rng.uniform(0.5, 0.85)
        (flag, top, _), *_ = drawn_styles.flagged_one(rng, aspect)
        angle = np.degrees(np.arctan2(flag[1] - top[1], (top[0] - flag[0]) * aspect))
        assert 30 - 1e-6 <= angle <= 65 + 1e-6
        (left, right, *_), *_ = drawn_styles.seven(rng, aspect)
        bar = np.degrees(np.arctan2(right[1] - left[1], (right[0] - left[0]) * aspect))
        assert abs(bar) <= 8 + 1e-6


def test_the_parts_are_fixed_apart_and_read_only():
    pictures, labels, families = drawn_styles.drawn_styles("validation")
    again, _, _ = drawn_styles.drawn_styles.__wrapped__("validation")
    assert pictures.shape == (drawn_styles.PICTURES["validation"], strokes.CANVAS, strokes.CANVAS)
    assert np.array_equal(pictures, again) and not pictures.flags.writeable
    assert set(np.unique(labels)) == {1, 4, 7, 9}
    for family, (digit, _, _) in drawn_styles.FAMILIES.items():
        assert set(labels[families == family]) == {digit}
    training, _, _ = drawn_styles.drawn_styles.__wrapped__("training")
    seen = {picture.tobytes() for picture in training}
    assert not any(picture.tobytes() in seen for picture in pictures)
    with pytest.raises(ValueError, match="part must be one of"):
        drawn_styles.drawn_styles("test")


def test_drawn_styles_are_a_training_set_with_no_writers():
    training = training_sets.load_training_data([data.MNIST, data.DRAWN_STYLES], train_subset=40)
    assert training.counts[data.DRAWN_STYLES] == {"train_images": 40, "val_images": 460, "copies": 1}
    images, labels = training.validation_part(data.DRAWN_STYLES)
    assert images.shape == (460, 28, 28) and images.dtype == np.uint8 and images[:, 0, :].max() == 0
    assert training_sets.describe(training.counts) == (
        "MNIST (40 images) and 40 digits drawn in styles MNIST lacks"
    )
    table = training_sets.counts_table(training.counts)
    assert table.loc[data.DRAWN_STYLES].tolist() == [40, 460, 1] and "writers" not in table.columns
    both = training_sets.load_training_data(["optdigits", data.DRAWN_STYLES], train_subset=40).counts
    assert training_sets.describe(both) == (
        "30 other writers: optdigits (30 writers, 80 images); and 40 digits drawn in styles MNIST lacks"
    )
    parts = training_sets.validation_parts([data.DRAWN_STYLES])
    assert np.array_equal(parts[data.DRAWN_STYLES][1], labels)
