"""The transfer matrix: every mix against every test set, per digit too, from the predictions it is given."""

import numpy as np
import pytest

from digit_recog.experiments import transfer

LABELS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 2)
TEST_SETS = {"a": (np.zeros((20, 28, 28), np.uint8), LABELS), "b": (np.zeros((20, 28, 28), np.uint8), LABELS)}


def _predicted() -> dict:
    misread_sevens = np.where(LABELS == 7, 2, LABELS)  # both 7s read as 2
    return {("x", "a"): LABELS, ("x", "b"): misread_sevens, ("y", "a"): misread_sevens, ("y", "b"): LABELS}


def test_the_matrix_holds_each_mix_on_each_test_set():
    matrix = transfer.transfer_matrix(_predicted(), TEST_SETS)
    assert list(matrix.index) == ["x", "y"] and list(matrix.columns) == ["a", "b"]
    assert matrix.loc["x", "a"] == 1.0 and matrix.loc["x", "b"] == pytest.approx(0.9)


def test_recall_names_the_digit_that_fails():
    recall = transfer.recall_by_digit(_predicted(), TEST_SETS)
    assert recall.loc[("x", "b"), 7] == 0.0 and recall.loc[("x", "b"), 2] == 1.0
    assert recall.loc[("y", "b")].min() == 1.0


def test_misread_lists_the_wrong_readings():
    images, labels, predicted = transfer.misread(_predicted()["x", "b"], *TEST_SETS["b"], count=5)
    assert labels.tolist() == [7, 7] and predicted.tolist() == [2, 2] and len(images) == 2


def test_an_unknown_set_in_a_mix_is_an_error_listing_the_known_ones():
    with pytest.raises(ValueError, match="'mnist', 'pendigits', 'optdigits'"):
        transfer.train_mix("bad", ["mnist", "usps"], epochs=1, train_subset=10)
