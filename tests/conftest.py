"""Shared fixtures: the real MNIST arrays, loaded once per test session."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from digit_recog import data  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    """``(train_images, train_labels), (test_images, test_labels)`` from data/raw."""
    return data.load_mnist()
