"""Figures are drawn from data and saved atomically; artefact helpers fail with useful messages."""

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from digit_recog import artifacts, plots

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
LABELS = np.arange(20) % 10


def test_prediction_grid_marks_mistakes_in_red():
    predicted = LABELS.copy()
    predicted[[2, 7]] = (predicted[[2, 7]] + 1) % 10
    figure = plots.predictions_grid(IMAGES, LABELS, predicted, rows=3, cols=5)
    titles = [axis.title for axis in figure.axes]
    assert len(titles) == 15
    assert titles[0].get_text() == "pred 0 / actual 0"
    assert titles[2].get_text() == "pred 3 / actual 2  ✗"
    assert [t.get_color() for t in titles].count(plots.MISTAKE_COLOUR) == 2


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plots.class_balance(LABELS, LABELS),
        lambda: plots.mean_images(IMAGES, LABELS),
        lambda: plots.pixel_histogram(IMAGES),
        lambda: plots.accuracy_loss(
            {"loss": [1, 0.5], "val_loss": [1, 0.6], "accuracy": [0.5, 0.8], "val_accuracy": [0.5, 0.7]},
            best_epoch=2,
        ),
        lambda: plots.confusion_heatmap(__import__("pandas").DataFrame(np.eye(10, dtype=int))),
        lambda: plots.probability_bars(IMAGES[:2], LABELS[:2], np.full((2, 10), 0.1)),
        lambda: plots.filters_grid(RNG.normal(size=(3, 3, 1, 16))),
        lambda: plots.feature_maps(RNG.random((26, 26, 8)), "maps"),
    ],
)
def test_every_plot_returns_a_figure(draw):
    assert isinstance(draw(), Figure)


def test_save_figure_writes_a_png(tmp_path):
    path = plots.save_figure(plots.pixel_histogram(IMAGES), tmp_path / "sub" / "histogram.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["histogram.png"]


def test_write_json_then_read(tmp_path):
    path = artifacts.write_json({"b": 1, "a": [1.5]}, tmp_path / "report.json")
    assert artifacts.read_json(path, produced_by="04_evaluate.ipynb") == {"a": [1.5], "b": 1}
    assert json.loads(path.read_text()) == {"a": [1.5], "b": 1}


def test_failed_write_keeps_the_old_file(tmp_path):
    path = artifacts.write_json({"version": 1}, tmp_path / "report.json")
    with pytest.raises(TypeError):
        artifacts.write_json({"version": object()}, path)
    assert json.loads(path.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_missing_artefact_names_the_notebook(tmp_path):
    with pytest.raises(artifacts.MissingArtifactError, match="run notebooks/04_evaluate.ipynb first"):
        artifacts.read_json(tmp_path / "metrics.json", produced_by="04_evaluate.ipynb")


def test_corrupt_artefact_names_the_file_and_the_notebook(tmp_path):
    (tmp_path / "metrics.json").write_text('{"test_accuracy": 0.99')  # cut off mid-write
    with pytest.raises(
        ValueError, match=r"metrics\.json is not valid JSON .*run notebooks/04_evaluate\.ipynb again"
    ):
        artifacts.read_json(tmp_path / "metrics.json", produced_by="04_evaluate.ipynb")
