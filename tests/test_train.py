"""Training: the loop learns, is reproducible, and saves atomically."""

import json

import keras
import numpy as np
import pytest

from digit_recog.modeling import train
from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.export import save_model
from digit_recog.modeling.presets import PRESETS

TINY = train.TrainConfig(epochs=3, batch_size=64, learning_rate=1e-3, lr_schedule="constant", seed=3)


def fit_small(mnist, train_config, count=1_500, checkpoint_path=None):
    (images, labels), _ = mnist
    model = build_cnn(PRESETS["seed"].model, seed=train_config.seed)
    result = train.train_model(
        model,
        images[:count],
        labels[:count],
        images[-500:],
        labels[-500:],
        train_config,
        checkpoint_path=checkpoint_path,
        verbose=0,
    )
    return model, result


@pytest.mark.slow
def test_loss_falls_on_a_small_subset(mnist, tmp_path):
    checkpoint = tmp_path / "checkpoint.keras"
    _, result = fit_small(mnist, TINY, checkpoint_path=checkpoint)
    assert result.history["loss"][-1] < 0.7 * result.history["loss"][0]
    assert result.history["val_accuracy"][-1] > 0.8
    assert checkpoint.is_file()
    assert 1 <= result.best_epoch <= result.epochs_run == 3
    assert result.train_seconds > 0 and result.train_cpu_seconds > 0
    assert result.summary()["train_cpu_seconds"] == round(result.train_cpu_seconds, 1)


@pytest.mark.slow
def test_same_seed_gives_identical_weights(mnist):
    config = train.TrainConfig(epochs=1, batch_size=64, seed=11)
    first, _ = fit_small(mnist, config, count=600)
    second, _ = fit_small(mnist, config, count=600)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_cosine_schedule_runs_from_peak_to_floor():
    config = train.TrainConfig(epochs=11, learning_rate=2e-3, min_learning_rate=1e-5, lr_schedule="cosine")
    rates = [train.learning_rate_at(epoch, config) for epoch in range(11)]
    assert rates[0] == pytest.approx(2e-3) and rates[-1] == pytest.approx(1e-5)
    assert all(a > b for a, b in zip(rates, rates[1:]))


@pytest.mark.parametrize("bad", [{"lr_schedule": "sometimes"}, {"epochs": 0}, {"learning_rate": -1.0}])
def test_invalid_training_settings_are_rejected(bad):
    with pytest.raises(ValueError):
        train.TrainConfig(**bad)


def test_save_model_is_atomic(tmp_path):
    path = tmp_path / "model.keras"
    model = build_cnn(PRESETS["seed"].model)
    save_model(model, path)
    original = path.read_bytes()

    class Exploding(keras.Model):
        def save(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_model(Exploding(), path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_training_result_files(tmp_path):
    result = train.TrainingResult(
        history={"loss": [0.5, 0.3, 0.35], "val_loss": [0.4, 0.2, 0.25]},
        best_epoch=2,
        epochs_run=3,
        train_seconds=12.34,
        config={"epochs": 3},
    )
    train.save_training_result(result, tmp_path / "history.json", tmp_path / "training.json", preset="seed")
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["best_epoch_metrics"] == {"loss": 0.3, "val_loss": 0.2}
    assert summary["preset"] == "seed" and summary["train_seconds"] == 12.3
    assert json.loads((tmp_path / "history.json").read_text())["loss"] == [0.5, 0.3, 0.35]


def test_onecycle_warms_up_then_decays_per_step():
    config = train.TrainConfig(
        epochs=4, learning_rate=4e-3, min_learning_rate=4e-5, lr_schedule="onecycle", warmup_fraction=0.25
    )
    schedule = train.learning_rate_schedule(config, steps_per_epoch=100)
    rates = [float(schedule(step)) for step in (0, 50, 100, 250, 400)]
    assert rates[0] == pytest.approx(4e-4)  # a tenth of the peak
    assert rates[0] < rates[1] < rates[2] == pytest.approx(4e-3)  # peak after a quarter of the 400 steps
    assert rates[2] > rates[3] > rates[4] == pytest.approx(4e-5, rel=1e-3)


@pytest.mark.slow
def test_label_smoothing_and_onecycle_still_learn(mnist):
    config = train.TrainConfig(
        epochs=2, batch_size=64, learning_rate=2e-3, lr_schedule="onecycle", label_smoothing=0.1, seed=5
    )
    _, result = fit_small(mnist, config, count=1_500)
    assert result.history["val_accuracy"][-1] > 0.8
