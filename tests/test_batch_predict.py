"""``digit-recog predict FOLDER`` on many files: decoded by worker processes and read in batches, a line
per image as it is read, unreadable files reported while the rest are read, a progress bar when asked."""

import json
from pathlib import Path

import pytest
from PIL import Image

from digit_images import SHIPPED_MODEL, needs_shipped_model, run_cli
from digit_recog import cli

GOOD = cli.PARALLEL_DECODING_FROM + 60  # enough for the decoding workers, and more than one batch


@pytest.fixture(scope="module")
def folder(mnist, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """MNIST test digits as PNG files, plus a corrupt file and a blank picture among them."""
    _, (test_images, test_labels) = mnist
    folder = tmp_path_factory.mktemp("pngs")
    labels = {}
    for index in range(GOOD):
        path = folder / f"{index:04d}.png"
        Image.fromarray(test_images[index]).save(path)
        labels[str(path)] = int(test_labels[index])
    (folder / "0100_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    Image.new("L", (28, 28), 0).save(folder / "0200_blank.png")
    return folder, labels


@needs_shipped_model
def test_folder_with_bad_files_reports_them_and_reads_the_rest_in_order(capsys, folder, onnx_model):
    images, labels = folder
    status, lines, errors = run_cli(capsys, "predict", images, "--json", "--jobs", 2, "--model", onnx_model)
    assert status == cli.EXIT_SOME_FAILED
    assert "0100_corrupt.png could not be decoded" in errors or "0100_corrupt.png is not an image" in errors
    assert "0200_blank.png: no digit found" in errors
    readings = [json.loads(line) for line in lines]
    assert [reading["path"] for reading in readings] == sorted(labels)
    correct = sum(reading["digit"] == labels[reading["path"]] for reading in readings)
    assert correct >= 0.97 * GOOD
    assert "\r" not in errors and "100%" not in errors  # no progress bar: stderr is not a terminal


@needs_shipped_model
def test_onnx_and_keras_give_the_same_lines(capsys, folder, onnx_model):
    images, _ = folder
    _, onnx_lines, _ = run_cli(capsys, "predict", images, "--model", onnx_model, "--jobs", 1)
    _, keras_lines, _ = run_cli(capsys, "predict", images, "--model", SHIPPED_MODEL, "--runtime", "keras")
    assert len(onnx_lines) == GOOD
    assert [line.split("  ")[0] for line in onnx_lines] == [line.split("  ")[0] for line in keras_lines]


@needs_shipped_model
def test_progress_bar_on_request(capsys, folder, onnx_model):
    images, _ = folder
    _, lines, errors = run_cli(capsys, "predict", images, "--progress", "--model", onnx_model)
    assert len(lines) == GOOD
    assert f"{GOOD + 2}/{GOOD + 2}" in errors and "100%" in errors
