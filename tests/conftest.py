"""Shared fixtures: the real MNIST arrays, loaded once per test session."""

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from digit_recog import config, data  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    """``(train_images, train_labels), (test_images, test_labels)`` from data/raw."""
    return data.load_mnist()


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory) -> Path:
    """The shipped model exported to ONNX in a temporary folder (skips when there is no shipped model)."""
    from digit_images import SHIPPED_MODEL
    from digit_recog.modeling.export import export_model_file

    if not SHIPPED_MODEL.is_file():
        pytest.skip(f"{SHIPPED_MODEL} is missing: run notebooks/03_train.ipynb first")
    return export_model_file(SHIPPED_MODEL, "onnx", tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture
def outputs_in_tmp_path(tmp_path, monkeypatch) -> Path:
    """``tmp_path``, with config's output paths (runs, split, shipped model, version, checkpoint, reports and
    figures) moved into it."""
    monkeypatch.setattr(config, "OUTPUT_ROOT", tmp_path)
    for name, relative in {
        "RUNS_DIR": "runs",
        "SPLIT_PATH": "data/processed/split_indices.npz",
        "MODEL_PATH": "models/digit_recog_mnist_cnn.keras",
        "MODEL_VERSION_PATH": "models/model_version.json",
        "CHECKPOINT_PATH": "models/checkpoints/best_val_loss.keras",
        "REPORTS_DIR": "reports",
        "FIGURES_DIR": "figures",
    }.items():
        monkeypatch.setattr(config, name, tmp_path / relative)
    return tmp_path
