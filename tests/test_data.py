"""Data: the shipped files are the real MNIST, and every kind of damage is caught and named."""

import gzip
import shutil

import numpy as np
import pytest

from digit_recog import config, data
from digit_recog.artifacts import MissingArtifactError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
LABELS = data.MNIST_FILES["test_labels"]


def test_shapes_and_dtypes(mnist):
    (train_images, train_labels), (test_images, test_labels) = mnist
    assert train_images.shape == (60_000, 28, 28) and test_images.shape == (10_000, 28, 28)
    assert train_labels.shape == (60_000,) and test_labels.shape == (10_000,)
    assert {a.dtype for a in (train_images, train_labels, test_images, test_labels)} == {np.dtype(np.uint8)}
    assert train_images.max() == 255 and train_images.min() == 0


def test_label_counts_match_the_published_ones(mnist):
    (_, train_labels), (_, test_labels) = mnist
    assert np.bincount(train_labels).tolist() == TRAIN_COUNTS
    assert np.bincount(test_labels).tolist() == TEST_COUNTS


def test_checksums_are_those_in_the_data_readme():
    readme = (config.PROJECT_ROOT / "data" / "README.md").read_text()
    for spec in data.MNIST_FILES.values():
        assert f"{spec.sha256}  {spec.name.removesuffix('.gz')}" in readme


@pytest.fixture
def labels_copy(tmp_path):
    """A writable copy of the small test-labels file, and its uncompressed bytes."""
    path = tmp_path / LABELS.name
    shutil.copyfile(config.RAW_DATA_DIR / LABELS.name, path)
    with gzip.open(path, "rb") as stream:
        return path, bytearray(stream.read())


def rewrite(path, content: bytes):
    path.write_bytes(gzip.compress(bytes(content)))


def test_missing_file_names_it_and_how_to_restore(tmp_path):
    with pytest.raises(data.MnistFileMissingError, match=r"train-images-idx3-ubyte\.gz.*git checkout"):
        data.load_mnist(tmp_path)


def test_truncated_gzip(labels_copy):
    path, _ = labels_copy
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(data.MnistFormatError, match="not a complete gzip file"):
        data.read_idx_file(path, LABELS)


def test_not_gzip_at_all(labels_copy):
    path, _ = labels_copy
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(data.MnistFormatError, match=LABELS.name):
        data.read_idx_file(path, LABELS)


def test_wrong_magic_number(labels_copy):
    path, content = labels_copy
    content[3] = 3  # 2049 -> 2051, an images header
    rewrite(path, content)
    with pytest.raises(data.MnistFormatError, match="expected magic number 2049, found 2051"):
        data.read_idx_file(path, LABELS)


def test_wrong_item_count(labels_copy):
    path, content = labels_copy
    content[4:8] = (9_999).to_bytes(4, "big")
    rewrite(path, content)
    with pytest.raises(data.MnistFormatError, match="expected 10000 items, found 9999"):
        data.read_idx_file(path, LABELS)


def test_truncated_content(labels_copy):
    path, content = labels_copy
    rewrite(path, content[:-10])
    with pytest.raises(data.MnistFormatError, match="expected 10008 bytes uncompressed, found 9998"):
        data.read_idx_file(path, LABELS)


def test_altered_content_fails_the_checksum(labels_copy):
    path, content = labels_copy
    content[100] = (content[100] + 1) % 10  # one label changed, structure intact
    rewrite(path, content)
    with pytest.raises(
        data.MnistChecksumError, match=f"expected SHA-256 {LABELS.sha256}, found [0-9a-f]{{64}}"
    ):
        data.read_idx_file(path, LABELS)


def test_images_file_under_a_labels_name(tmp_path):
    images = data.MNIST_FILES["test_images"]
    path = tmp_path / LABELS.name
    shutil.copyfile(config.RAW_DATA_DIR / images.name, path)
    with pytest.raises(data.MnistFormatError, match="magic number"):
        data.read_idx_file(path, LABELS)


def test_split_is_stratified_disjoint_and_complete(mnist):
    (_, labels), _ = mnist
    train_indices, val_indices = data.split_train_validation(labels, 5_000, seed=42)
    assert len(val_indices) == 5_000 and len(train_indices) == 55_000
    assert np.union1d(train_indices, val_indices).tolist() == list(range(60_000))
    val_shares = np.bincount(labels[val_indices]) / 5_000
    np.testing.assert_allclose(val_shares, np.bincount(labels) / 60_000, atol=0.001)


def test_split_depends_only_on_the_seed(mnist):
    (_, labels), _ = mnist
    first = data.split_train_validation(labels, 1_000, seed=1)
    again = data.split_train_validation(labels, 1_000, seed=1)
    other = data.split_train_validation(labels, 1_000, seed=2)
    assert np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_split_round_trip(tmp_path):
    path = tmp_path / "split.npz"
    data.save_split(path, np.arange(10, 60_000), np.arange(10), seed=7)
    train_indices, val_indices = data.load_split(path)
    assert val_indices.tolist() == list(range(10)) and len(train_indices) == 59_990


def test_missing_split_says_which_notebook_to_run(tmp_path):
    with pytest.raises(MissingArtifactError, match="run notebooks/02_preprocess.ipynb first"):
        data.load_split(tmp_path / "split.npz")


def test_overlapping_split_is_rejected(tmp_path):
    path = tmp_path / "split.npz"
    data.save_split(path, np.arange(0, 100), np.arange(50, 150), seed=7)
    with pytest.raises(ValueError, match="overlap"):
        data.load_split(path)
