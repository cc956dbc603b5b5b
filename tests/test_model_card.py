"""The shipped model's version follows its SHA-256, and its card is rendered from the reports."""

import json

import pandas as pd

from digit_recog import artifacts, config, model_card

COMMITTED_MODEL = config.PROJECT_ROOT / "models" / "digit_recog_mnist_cnn.keras"
COMMITTED_RECORD = config.PROJECT_ROOT / "models" / "model_version.json"


def test_the_version_goes_up_only_when_the_network_or_weights_change():
    record = {
        "version": 3,
        "sha256": "abc",
        "content_sha256": "net",
        "released": "2026-11-26",
        "preset": "default",
    }
    assert model_card.next_record(record, "abc", "net", "default", "2026-12-01") == record
    # the same weights saved again: another file (Keras stamps the date), the same version
    assert model_card.next_record(record, "xyz", "net", "default", "2026-12-01") == record | {"sha256": "xyz"}
    assert model_card.next_record(record, "def", "other", "default", "2026-12-01") == {
        "version": 4,
        "sha256": "def",
        "content_sha256": "other",
        "released": "2026-12-01",
        "preset": "default",
    }
    assert model_card.next_record({}, "abc", "net", "default", "2026-12-01")["version"] == 1
    # a record from before content digests: its file's SHA-256 vouches for the content
    old = {"version": 6, "sha256": "abc", "released": "2026-11-30", "preset": "default"}
    assert model_card.next_record(old, "abc", "net", "default", "2026-12-01") == old | {
        "content_sha256": "net"
    }


def test_the_same_weights_saved_twice_have_one_content_digest(tmp_path):
    import keras

    model = keras.saving.load_model(COMMITTED_MODEL)
    model.save(tmp_path / "a.keras")
    model.save(tmp_path / "b.keras")
    assert model_card.content_sha256(tmp_path / "a.keras") == model_card.content_sha256(tmp_path / "b.keras")


def test_the_committed_model_is_the_recorded_one_and_any_other_file_is_unversioned(tmp_path):
    record = json.loads(COMMITTED_RECORD.read_text())
    assert model_card.model_version(COMMITTED_MODEL, COMMITTED_RECORD) == {
        "version": str(record["version"]),
        "sha256": artifacts.file_sha256(COMMITTED_MODEL),
    }
    other = tmp_path / "other.keras"
    other.write_bytes(b"not the shipped model")
    assert model_card.model_version(other, COMMITTED_RECORD)["version"] == model_card.UNVERSIONED


def test_the_card_states_the_version_recipe_results_and_limits():
    reports = {
        "training": {
            "preset": "default",
            "epochs_run": 11,
            "best_epoch": 10,
            "train_seconds": 200.0,
            "train_images": 55000,
            "val_images": 5000,
            "train_config": {"seed": 42, "batch_size": 256, "learning_rate": 0.006, "label_smoothing": 0.1},
            "learned_from": "MNIST (55,000 images) and 30 other writers: optdigits (30 writers, 3 images)",
        },
        "metrics": {
            "parameters": 391754,
            "test_accuracy": 0.9953,
            "test_errors": 47,
            "test_samples": 10000,
            "validation_accuracy": 0.9956,
            "test_loss": 0.117,
            "per_digit_recall": {"0": 0.999, "9": 0.989},
            "test_calibration": {
                "expected_calibration_error": 0.09,
                "mean_confidence": 0.9,
                "accuracy": 0.9953,
            },
        },
        "other_writers": {"sets": {"scikit-learn digits": {"images": 1797, "accuracy": {"shipped": 0.9527}}}},
    }
    robustness = pd.DataFrame(
        {
            "perturbation": ["rotate", "rotate", "blur"],
            "strength": [0.0, 45.0, 3.0],
            "unit": ["degrees", "degrees", "sigma"],
            "preprocessing": ["preprocess"] * 3,
            "accuracy": [0.99, 0.6, 0.95],
        }
    )
    record = {"version": 3, "sha256": "f" * 64, "released": "2026-11-26"}
    card = model_card.render_card(record, reports, robustness)
    assert card.startswith("# Model card: `digit_recog_mnist_cnn.keras`, version 3")
    assert "99.53% (47 errors in 10,000)" in card and "digit 9: 98.90%" in card
    assert "| scikit-learn digits (1,797 digits) | 95.27% |" in card
    assert "Trained on MNIST (55,000 images) and 30 other writers: optdigits (30 writers" in card
    assert "expected calibration error 0.090" in card
    assert "- rotate: 60% at 45 (degrees), after preprocessing." in card
    assert "- blur: at least 90% at every strength tried, 3 to 3 (sigma)." in card


def test_the_committed_card_and_version_are_current():
    assert model_card.update(check=True) == 0


def test_a_missing_report_is_named_without_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "OTHER_WRITERS_PATH", tmp_path / "other_writers.json")
    assert model_card.main(["--check"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("model_card: error: ") and "other_writers.json does not exist yet" in error
    assert "08_robustness.ipynb" in error and "Traceback" not in error
