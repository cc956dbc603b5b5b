"""The committed model and report: what a user gets without running anything.

The model is loaded with plain Keras (no digit_recog code) and fed raw 0-255 test images, exactly as
a user would; its accuracy must clear the floor and match the committed reports/metrics.json, and the
README's Results table must be the one rendered from the committed reports.
"""

import json

import keras
import numpy as np
import pytest

from digit_recog import config
from lab import readme_blocks, results_table

MODEL = config.PROJECT_ROOT / "models" / "digit_recog_mnist_cnn.keras"
METRICS = config.PROJECT_ROOT / "reports" / "metrics.json"
ACCURACY_FLOOR = 0.9930


@pytest.fixture(scope="module")
def test_accuracy(mnist):
    _, (test_images, test_labels) = mnist
    model = keras.saving.load_model(MODEL)
    probabilities = model.predict(test_images[..., np.newaxis], batch_size=1000, verbose=0)
    return float((probabilities.argmax(axis=1) == test_labels).mean())


def test_shipped_model_clears_the_accuracy_floor(test_accuracy):
    assert test_accuracy >= ACCURACY_FLOOR


def test_committed_metrics_are_this_models(test_accuracy):
    metrics = json.loads(METRICS.read_text())
    assert metrics["test_accuracy"] == pytest.approx(test_accuracy, abs=1e-4)


@pytest.mark.parametrize("name", ["accuracy_loss.png", "predictions_3x5.png", "confusion_matrix.png"])
def test_committed_figures_exist(name):
    assert (config.PROJECT_ROOT / "figures" / name).read_bytes()[:4] == b"\x89PNG"


def test_readme_results_table_is_the_one_rendered_from_the_reports():
    # Holds after `make run` on any CPU (it rewrites both), fails after a hand edit of either.
    reports = results_table.load_reports(
        results_table.ReportPaths.under(
            config.PROJECT_ROOT / "reports", config.PROJECT_ROOT / "lab" / "reports"
        )
    )
    block = readme_blocks.read_block(
        config.PROJECT_ROOT / "README.md", results_table.RESULTS_START, results_table.RESULTS_END
    )
    assert block == results_table.render(reports).strip("\n")
    assert f"**{reports['metrics']['test_accuracy']:.2%}**" in block


@pytest.mark.parametrize(
    ("model_file", "record"),
    [("seed_seed42.keras", ("baseline",)), ("ensemble_best.keras", ("presets", "ensemble"))],
)
def test_committed_benchmark_models_score_what_the_benchmark_recorded(model_file, record, mnist):
    _, (test_images, test_labels) = mnist
    model = keras.saving.load_model(config.PROJECT_ROOT / "models" / "benchmark" / model_file)
    probabilities = model.predict(test_images[..., np.newaxis], batch_size=1000, verbose=0)
    entry = json.loads((config.PROJECT_ROOT / "lab" / "reports" / "benchmark.json").read_text())
    for key in record:
        entry = entry[key]
    assert float((probabilities.argmax(axis=1) == test_labels).mean()) == pytest.approx(
        entry["test_accuracy"], abs=1e-4
    )
