"""Tuning: the search space builds valid models, a tiny search runs, resumes and yields the tuned preset."""

import json

import keras_tuner
import numpy as np
import pandas as pd
import pytest

from digit_recog import config
from digit_recog.artifacts import MissingArtifactError
from digit_recog.experiments import search
from digit_recog.modeling import presets
from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.presets import get_preset

TINY = search.SearchBudget(kind="random", max_trials=2, max_epochs=1, train_subset=600, seed=7)


@pytest.fixture(scope="module")
def tiny_search(mnist, tmp_path_factory):
    """Two one-epoch trials on 600 images, then the same search resumed with one more trial allowed."""
    (images, labels), _ = mnist
    arrays = images[:600], labels[:600], images[-1000:], labels[-1000:]
    directory = tmp_path_factory.mktemp("tuner")
    search.run_search(search.build_tuner(TINY, directory), TINY, *arrays, verbose=0)
    first = search.results_frame(search.load_trials(directory, TINY.project_name()))
    more = search.SearchBudget(kind="random", max_trials=3, max_epochs=1, train_subset=600, seed=7)
    resumed = search.build_tuner(more, directory, project_name=TINY.project_name())
    search.run_search(resumed, more, *arrays, verbose=0)
    return first, search.results_frame(search.load_trials(directory, TINY.project_name()))


@pytest.mark.slow
def test_tiny_search_results_table(tiny_search):
    results, _ = tiny_search
    assert len(results) == 2 and (results["status"] == "COMPLETED").all()
    assert list(results.columns[:4]) == ["trial_id", "status", "val_accuracy", "val_loss"]
    assert set(search.HPARAM_TYPES) <= set(results.columns)
    assert results["val_accuracy"].between(0.0, 1.0).all()
    for row in results.itertuples():  # filters of blocks a network does not have are inactive
        assert all(pd.isna(getattr(row, f"filters_{i}")) for i in range(row.conv_blocks + 1, 4))


@pytest.mark.slow
def test_interrupted_search_resumes_where_it_stopped(tiny_search):
    first, resumed = tiny_search
    assert len(resumed) == 3 and resumed["trial_id"].is_unique
    assert resumed.iloc[:2].equals(first), "the first two trials were kept, not rerun"


@pytest.mark.slow
def test_best_hyperparameters_json_and_tuned_preset(tiny_search, tmp_path, monkeypatch):
    results, _ = tiny_search
    best = search.best_hparams(results)
    assert set(best) >= {"conv_blocks", "filters_1", "kernel_size", "learning_rate", "batch_size"}
    assert all(type(best[name]) is kind for name, kind in search.HPARAM_TYPES.items() if name in best)
    csv_path, json_path = search.save_results(
        results, tmp_path / "tuning.csv", tmp_path / "best.json", note="x"
    )
    saved = json.loads(json_path.read_text())
    assert saved["hyperparameters"] == best and saved["val_accuracy"] == pytest.approx(
        results["val_accuracy"].max()
    )
    assert csv_path.read_text().startswith("trial_id,status,val_accuracy")
    monkeypatch.setattr(config, "BEST_HPARAMS_PATH", json_path)
    preset = get_preset("tuned", epochs=2)
    assert preset.train.epochs == 2 and preset.train.batch_size == best["batch_size"]
    assert len(preset.model.conv_blocks) == best["conv_blocks"]
    assert build_cnn(preset.model).output_shape == (None, 10)


def test_every_corner_of_the_search_space_builds(mnist):
    (images, _), _ = mnist
    hypermodel = search.CnnHyperModel(seed=0)
    for blocks, kernel in [(1, 3), (3, 5)]:
        hp = keras_tuner.HyperParameters()
        search.declare_search_space(hp)
        hp.values.update(conv_blocks=blocks, kernel_size=kernel, filters_2=16, filters_3=16, batch_norm=True)
        model = hypermodel.build(hp)
        assert model.predict(images[:2, :, :, np.newaxis], verbose=0).shape == (2, 10)


def test_preset_from_hparams_builds_a_model():
    hparams = {"conv_blocks": 2, "filters_1": 32, "filters_2": 64, "kernel_size": 5, "batch_norm": True}
    hparams |= {"dense_units": 128, "dropout": 0.3, "learning_rate": 2e-3, "batch_size": 64}
    preset = presets.preset_from_hparams(hparams)
    assert [block.filters for block in preset.model.conv_blocks] == [32, 64]
    assert preset.train.learning_rate == 2e-3 and "06_tune" in preset.description
    assert build_cnn(preset.model).output_shape == (None, 10)


def test_incomplete_hyperparameters_are_named():
    with pytest.raises(ValueError, match="lack \\['filters_2'"):
        presets.preset_from_hparams({"conv_blocks": 2, "filters_1": 32, "kernel_size": 3})


def test_tuned_preset_before_06_tune_names_the_notebook(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "BEST_HPARAMS_PATH", tmp_path / "best_hparams.json")
    with pytest.raises(MissingArtifactError, match="run notebooks/06_tune.ipynb first"):
        get_preset("tuned")


@pytest.mark.parametrize(
    "bad",
    [{"kind": "grid"}, {"kind": "bayesian", "max_trials": None}, {"max_epochs": 0}, {"hyperband_factor": 1}],
)
def test_invalid_budgets_are_rejected(bad):
    with pytest.raises(ValueError):
        search.SearchBudget(**bad)


def test_project_name_encodes_the_budget():
    assert TINY.project_name() == "random-e1-t2-n600-x1-s7"
    assert search.SearchBudget().project_name() == "hyperband-e4-tall-n15000-x1-f3-i1-s42"
