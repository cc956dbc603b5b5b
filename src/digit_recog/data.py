"""Load the MNIST IDX files shipped in ``data/raw``, verify them, and split off validation data."""

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from digit_recog import config
from digit_recog.artifacts import atomic_path, require

MNIST = "mnist"
DRAWN_STYLES = "drawn_styles"
# What a model can learn from: MNIST's training split, the training writers of the two other-writer sets
# (``digit_recog.other_writers``) and digits the project draws in styles MNIST lacks
# (``digit_recog.drawn_styles``); ``digit_recog.training_sets`` loads them.
TRAINING_SETS = (MNIST, "pendigits", "optdigits", DRAWN_STYLES)
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


@dataclass(frozen=True)
class IdxFile:
    """What one of the four MNIST files must contain."""

    name: str
    magic: int
    count: int
    sha256: str  # of the uncompressed IDX content, as published for the official release


MNIST_FILES = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte.gz",
        IMAGES_MAGIC,
        60_000,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte.gz",
        LABELS_MAGIC,
        60_000,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte.gz",
        IMAGES_MAGIC,
        10_000,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        LABELS_MAGIC,
        10_000,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

RESTORE_HINT = (
    "Restore it with `git checkout -- data/raw/{name}` (the files and their provenance are "
    "described in data/README.md)."
)


class MnistFileError(Exception):
    """Base class: an MNIST data file cannot be used."""


class MnistFileMissingError(MnistFileError, FileNotFoundError):
    """The data file does not exist."""


class MnistFormatError(MnistFileError, ValueError):
    """The file is not a complete gzipped IDX file of the expected kind and size."""


class MnistChecksumError(MnistFileError, ValueError):
    """The file is well formed but its content differs from the published MNIST release."""


def load_mnist(data_dir: Path = config.RAW_DATA_DIR):
    """Load and verify the four MNIST files.

    Args:
        data_dir: folder holding the four gzipped IDX files.

    Returns:
        ``(train_images, train_labels), (test_images, test_labels)`` as uint8 arrays of shapes
        (60000, 28, 28), (60000,), (10000, 28, 28) and (10000,), the same layout as
        ``keras.datasets.mnist.load_data()``.

    Raises:
        MnistFileMissingError, MnistFormatError, MnistChecksumError: naming the file, what was
        expected and what was found.
    """
    arrays = {key: read_idx_file(Path(data_dir) / spec.name, spec) for key, spec in MNIST_FILES.items()}
    return (
        (arrays["train_images"], arrays["train_labels"]),
        (arrays["test_images"], arrays["test_labels"]),
    )


def read_idx_file(path: Path, spec: IdxFile) -> np.ndarray:
    """Read one gzipped IDX file and check its magic number, shape, length and SHA-256.

    The header is checked before the rest is decompressed, and no more than the header announces is
    decompressed, so a small file that expands to gigabytes costs no more memory than the real one.
    """
    header_ints = 4 if spec.magic == IMAGES_MAGIC else 2
    header_size = 4 * header_ints
    with _open_gzip(path) as stream:
        header_bytes = _read(stream, path, header_size)
        if len(header_bytes) < header_size:
            _fail(
                MnistFormatError,
                path,
                f"an IDX header of {header_size} bytes",
                f"{len(header_bytes)} bytes in all",
            )
        header = np.frombuffer(header_bytes, dtype=">u4").tolist()
        magic, count, dims = header[0], header[1], header[2:]
        if magic != spec.magic:
            _fail(MnistFormatError, path, f"magic number {spec.magic}", f"{magic}")
        if count != spec.count:
            _fail(MnistFormatError, path, f"{spec.count} items", f"{count}")
        expected_dims = [config.IMAGE_SIZE, config.IMAGE_SIZE] if spec.magic == IMAGES_MAGIC else []
        if dims != expected_dims:
            _fail(MnistFormatError, path, f"item shape {expected_dims}", f"{dims}")
        expected_size = header_size + count * int(np.prod(expected_dims))
        # One byte more than expected tells a padded file from a complete one.
        content = header_bytes + _read(stream, path, expected_size - header_size + 1)
    if len(content) != expected_size:
        found = f"{len(content)}" if len(content) < expected_size else f"more than {expected_size}"
        _fail(MnistFormatError, path, f"{expected_size} bytes uncompressed", f"{found} (truncated or padded)")
    digest = hashlib.sha256(content).hexdigest()
    if digest != spec.sha256:
        _fail(MnistChecksumError, path, f"SHA-256 {spec.sha256}", f"{digest} (the file was altered)")
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape([count, *dims]).copy()


def _open_gzip(path: Path) -> gzip.GzipFile:
    if not path.is_file():
        raise MnistFileMissingError(f"MNIST file {path} is missing. " + RESTORE_HINT.format(name=path.name))
    return gzip.open(path, "rb")


def _read(stream: gzip.GzipFile, path: Path, size: int) -> bytes:
    """Up to ``size`` decompressed bytes; a corrupt or cut-off gzip stream is a ``MnistFormatError``."""
    try:
        return stream.read(size)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise MnistFormatError(
            f"MNIST file {path} is not a complete gzip file: expected a gzipped IDX file, "
            f"found {type(error).__name__}: {error}. " + RESTORE_HINT.format(name=path.name)
        ) from error


def _fail(error_type: type[MnistFileError], path: Path, expected: str, found: str):
    raise error_type(
        f"MNIST file {path} is not the original: expected {expected}, found {found}. "
        + RESTORE_HINT.format(name=path.name)
    )


class UnknownTrainingSetError(ValueError):
    """A training set name that the project does not know."""


def check_training_sets(names) -> tuple[str, ...]:
    """``names`` as a tuple of known set names, without repeats, in the order given.

    Raises:
        UnknownTrainingSetError: listing the known names, for an unknown or empty choice (a single string is
            taken as one name).
    """
    chosen = (names,) if isinstance(names, str) else tuple(names)
    unknown = [name for name in chosen if name not in TRAINING_SETS]
    if unknown or not chosen:
        raise UnknownTrainingSetError(
            f"unknown training set(s) {unknown or 'none given'}; choose one or more of {list(TRAINING_SETS)}."
        )
    return tuple(dict.fromkeys(chosen))


def split_train_validation(labels: np.ndarray, validation_size: int, seed: int):
    """Return ``(train_indices, val_indices)``: a stratified, seeded split of the training set.

    Each digit keeps its share of the data in both parts; the same seed gives the same split.
    """
    indices = np.arange(len(labels))
    train_indices, val_indices = train_test_split(
        indices, test_size=validation_size, stratify=labels, random_state=seed
    )
    return np.sort(train_indices), np.sort(val_indices)


def save_split(path: Path, train_indices: np.ndarray, val_indices: np.ndarray, seed: int) -> Path:
    """Save the split indices (and the seed that made them) as ``.npz``, atomically."""
    with atomic_path(path) as tmp_path, open(tmp_path, "wb") as stream:
        np.savez(stream, train_indices=train_indices, val_indices=val_indices, seed=seed)
    return Path(path)


def load_split(path: Path = config.SPLIT_PATH, num_train_images: int = 60_000):
    """Load split indices saved by ``02_preprocess`` and check they partition the training set.

    Returns:
        ``(train_indices, val_indices)``.
    """
    with np.load(require(path, "02_preprocess.ipynb")) as saved:
        train_indices, val_indices = saved["train_indices"], saved["val_indices"]
    if np.intersect1d(train_indices, val_indices).size:
        raise ValueError(f"{path}: training and validation indices overlap; rerun 02_preprocess.ipynb.")
    all_indices = np.concatenate([train_indices, val_indices])
    if all_indices.min(initial=0) < 0 or all_indices.max(initial=0) >= num_train_images:
        raise ValueError(f"{path}: indices outside 0..{num_train_images - 1}; rerun 02_preprocess.ipynb.")
    return train_indices, val_indices
