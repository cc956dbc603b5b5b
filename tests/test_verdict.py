"""Verdicts: "not a digit" and "unsure" thresholds chosen on validation, saved beside the model."""

import numpy as np
import pytest

from digit_recog.reading import verdict as verdicts
from digit_recog.reading.verdict import NOT_A_DIGIT, UNSURE, Thresholds


def probabilities_with_top(tops: list[float], digits: list[int]) -> np.ndarray:
    rows = np.full((len(tops), 10), 0.0)
    for row, (top, digit) in enumerate(zip(tops, digits)):
        rows[row] = (1 - top) / 9
        rows[row, digit] = top
    return rows


def test_each_band_gets_its_verdict_and_no_thresholds_means_digit():
    thresholds = Thresholds(not_a_digit_below=0.5, unsure_below=0.9)
    tops = probabilities_with_top([0.3, 0.7, 0.95], [1, 1, 1])
    assert [verdicts.verdict(row, thresholds) for row in tops] == [NOT_A_DIGIT, UNSURE, "digit"]
    assert verdicts.verdict(tops[0], None) == "digit"


def test_thresholds_come_from_the_validation_quantile_and_the_accuracy_above():
    tops = np.linspace(0.3, 1.0, 1000)
    digits = np.ones(1000, dtype=int)
    labels = digits.copy()
    labels[:100] = 0  # the 100 least confident answers are wrong
    chosen = verdicts.choose_thresholds(probabilities_with_top(list(tops), list(digits)), labels, 0.01, 0.999)
    assert chosen.not_a_digit_below == pytest.approx(np.quantile(tops, 0.01))
    assert chosen.unsure_below == pytest.approx(tops[100])  # the lowest top above which all are right


def test_thresholds_are_saved_beside_the_model_and_a_bad_file_is_named(tmp_path):
    model = tmp_path / "model.keras"
    assert verdicts.load_thresholds(model) is None
    verdicts.save_thresholds(Thresholds(0.4, 0.8), model, chosen_on="validation")
    assert verdicts.load_thresholds(model) == Thresholds(0.4, 0.8)
    verdicts.thresholds_path(model).write_text('{"not_a_digit_below": 0.9, "unsure_below": 0.1}')
    with pytest.raises(ValueError, match="model.thresholds.json does not hold valid reading thresholds"):
        verdicts.load_thresholds(model)
