"""Evaluation helpers on small hand-made predictions whose answers are known."""

import numpy as np
import pytest

from digit_recog import evaluate


@pytest.fixture
def predictions():
    labels = np.array([0, 1, 2, 3, 3])
    probabilities = np.full((5, 10), 0.01)
    for row, predicted in enumerate([0, 1, 2, 3, 8]):
        probabilities[row, predicted] = 0.91
    probabilities[4, 8], probabilities[4, 3] = 0.60, 0.32  # wrong, 60% sure
    return labels, probabilities / probabilities.sum(axis=1, keepdims=True)


def test_summary_metrics(predictions):
    labels, probabilities = predictions
    metrics = evaluate.summary_metrics(labels, probabilities)
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["errors"] == 1 and metrics["samples"] == 5
    expected_loss = -np.mean(np.log(probabilities[np.arange(5), labels]))
    assert metrics["loss"] == pytest.approx(expected_loss)


def test_confusion_rows_are_actual_digits(predictions):
    labels, probabilities = predictions
    matrix = evaluate.confusion(labels, probabilities.argmax(axis=1))
    assert matrix.shape == (10, 10)
    assert matrix.loc[3, 8] == 1 and matrix.loc[3, 3] == 1 and int(matrix.values.sum()) == 5


def test_classification_table(predictions):
    labels, probabilities = predictions
    table = evaluate.classification_table(labels, probabilities.argmax(axis=1))
    assert table.loc["3", "recall"] == pytest.approx(0.5)
    assert table.loc["8", "precision"] == 0.0
    assert table.loc["3", "support"] == 2


def test_most_confident_mistakes(predictions):
    labels, probabilities = predictions
    mistakes = evaluate.most_confident_mistakes(labels, probabilities, count=5)
    assert mistakes["index"].tolist() == [4]
    assert mistakes.loc[0, "predicted"] == 8 and mistakes.loc[0, "actual"] == 3
    assert mistakes.loc[0, "confidence"] > mistakes.loc[0, "probability_of_actual"]


def test_calibration_is_zero_when_confidence_matches_accuracy_and_grows_with_overconfidence():
    labels = np.array([0, 0, 0, 0])
    honest = np.tile([0.75, 0.25] + [0.0] * 8, (4, 1))
    honest[3] = [0.25, 0.75] + [0.0] * 8  # three of four right at 75% confidence
    assert evaluate.calibration(labels, honest)["expected_calibration_error"] == pytest.approx(0.0)
    overconfident = np.tile([0.99, 0.01] + [0.0] * 8, (4, 1))
    overconfident[3] = [0.01, 0.99] + [0.0] * 8
    report = evaluate.calibration(labels, overconfident)
    assert report["expected_calibration_error"] == pytest.approx(0.24)
    assert report["mean_confidence"] == pytest.approx(0.99) and report["accuracy"] == 0.75
