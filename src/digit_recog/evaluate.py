"""Metrics computed from predicted probabilities, with scikit-learn, as plain numbers and tables."""

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, log_loss

from digit_recog import config

DIGITS = list(range(config.NUM_CLASSES))


def summary_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, cross-entropy loss, error count and sample count from probabilities (N, 10)."""
    predicted = probabilities.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "loss": float(log_loss(labels, probabilities, labels=DIGITS)),
        "errors": int((predicted != labels).sum()),
        "samples": int(len(labels)),
    }


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> dict:
    """How far confidence is from accuracy: the expected calibration error over ``bins`` equal-width bins of
    the top probability, and the mean top probability beside the accuracy."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which_bin = np.minimum((confidence * bins).astype(int), bins - 1)
    gaps = [
        abs(confidence[which_bin == index].mean() - correct[which_bin == index].mean())
        * np.mean(which_bin == index)
        for index in range(bins)
        if np.any(which_bin == index)
    ]
    return {
        "expected_calibration_error": float(np.sum(gaps)),
        "mean_confidence": float(confidence.mean()),
        "accuracy": float(correct.mean()),
    }


def classification_table(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support for each digit and the averages, as a DataFrame."""
    report = classification_report(labels, predicted, labels=DIGITS, output_dict=True, zero_division=0)
    table = pd.DataFrame(report).T
    table["support"] = table["support"].astype(int)
    return table


def confusion(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Confusion matrix with actual digits as rows and predicted digits as columns."""
    matrix = confusion_matrix(labels, predicted, labels=DIGITS)
    return pd.DataFrame(
        matrix,
        index=pd.Index(DIGITS, name="actual"),
        columns=pd.Index(DIGITS, name="predicted"),
    )


def most_confident_mistakes(labels: np.ndarray, probabilities: np.ndarray, count: int = 10) -> pd.DataFrame:
    """The ``count`` misclassified samples the model was surest about, most confident first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:count]
    return pd.DataFrame(
        {
            "index": order,
            "actual": labels[order],
            "predicted": predicted[order],
            "confidence": probabilities[order, predicted[order]],
            "probability_of_actual": probabilities[order, labels[order]],
        }
    )
