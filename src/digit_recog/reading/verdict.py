"""Say "unsure" or "not a digit" instead of a confident-looking wrong answer.

A calibrated model's top probability says how sure it is. Two thresholds on it, both chosen on the
validation split by ``03_train`` and saved beside the model (``<model>.thresholds.json``), turn a reading
into a verdict:

- ``"not a digit"`` below ``not_a_digit_below``: so low that only a small share of real digits (0.5% of the
  validation digits) ever score there;
- ``"unsure"`` below ``unsure_below``: the answers above it were right at least 99.9% of the time on
  validation, those below it less often;
- ``"digit"`` otherwise.

A model without a thresholds file (one of your own) always answers ``"digit"``.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from digit_recog.artifacts import parse_json, shown_path, write_json
from digit_recog.modeling.export import thresholds_path

DIGIT, UNSURE, NOT_A_DIGIT = "digit", "unsure", "not a digit"
VERDICTS = (DIGIT, UNSURE, NOT_A_DIGIT)
FLAGGED_VALIDATION_SHARE = 0.005  # of the validation digits that "not a digit" may catch
SURE_ACCURACY = 0.999  # how often a "digit" verdict was right on validation
THRESHOLDS_REMEDY = "retrain the model with notebooks/03_train.ipynb, or delete it"


@dataclass(frozen=True)
class Thresholds:
    """Top probabilities below which a reading is "not a digit", and below which it is "unsure"."""

    not_a_digit_below: float
    unsure_below: float

    def __post_init__(self):
        if not 0 <= self.not_a_digit_below <= self.unsure_below <= 1:
            raise ValueError(
                f"thresholds must satisfy 0 <= not_a_digit_below <= unsure_below <= 1, got {asdict(self)}"
            )


def verdict(probabilities: np.ndarray, thresholds: Thresholds | None) -> str:
    """The verdict on one reading's ten probabilities (``"digit"`` when there are no thresholds)."""
    if thresholds is None:
        return DIGIT
    top = float(np.max(probabilities))
    if top < thresholds.not_a_digit_below:
        return NOT_A_DIGIT
    return UNSURE if top < thresholds.unsure_below else DIGIT


def choose_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    flagged_share: float = FLAGGED_VALIDATION_SHARE,
    sure_accuracy: float = SURE_ACCURACY,
) -> Thresholds:
    """Thresholds from validation probabilities (N, 10) and labels.

    ``not_a_digit_below`` is the ``flagged_share`` quantile of the top probabilities; ``unsure_below`` the
    lowest top probability above which the answers were right at least ``sure_accuracy`` of the time.
    """
    top = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    not_a_digit_below = float(np.quantile(top, flagged_share))
    order = np.argsort(top)[::-1]  # most confident first
    running_accuracy = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    sure = np.flatnonzero(running_accuracy >= sure_accuracy)
    unsure_below = float(top[order][sure[-1]]) if len(sure) else 1.0
    return Thresholds(not_a_digit_below, max(unsure_below, not_a_digit_below))


def save_thresholds(thresholds: Thresholds, model_path: Path, **details) -> Path:
    """Write ``thresholds`` (and any ``details``, such as how they were chosen) beside the model."""
    return write_json(asdict(thresholds) | details, thresholds_path(model_path))


def load_thresholds(model_path: Path) -> Thresholds | None:
    """The thresholds saved beside the model at ``model_path``, or None when there are none.

    Raises:
        ValueError: naming the file when something is there but does not hold two valid thresholds: a
            folder, a file that is not UTF-8 or not JSON, or JSON without the two numbers.
    """
    path = thresholds_path(model_path)
    if not path.exists():
        return None
    saved = parse_json(path, THRESHOLDS_REMEDY)
    try:
        return Thresholds(float(saved["not_a_digit_below"]), float(saved["unsure_below"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"{shown_path(path)} does not hold valid reading thresholds ({error}): {THRESHOLDS_REMEDY}."
        ) from error
