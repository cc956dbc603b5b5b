"""Other writers' digits: the shipped files are the published ones, damage is named, and every digit becomes a
picture the reader can read; which sets a model learns from is checked by name."""

import gzip
import shutil

import numpy as np
import pytest

from digit_recog import config, data, other_writers, training_sets
from digit_recog.modeling.train import TrainConfig

PEN_LINE = "47,100,27,81,57,37,26,0,0,23,56,53,100,90,40,98,8"


@pytest.fixture
def file_copy(tmp_path):
    """A writable copy of the smallest file (pendigits' test writers), its folder and its text."""
    spec = other_writers.OTHER_WRITER_FILES["pendigits", "test"]
    shutil.copy(other_writers.OTHER_WRITERS_DIR / spec.name, tmp_path / spec.name)
    return tmp_path / spec.name, other_writers.read_text("pendigits", "test")


@pytest.mark.parametrize(("set_name", "part"), list(other_writers.OTHER_WRITER_FILES))
def test_each_file_holds_the_published_digits(set_name, part):
    spec = other_writers.OTHER_WRITER_FILES[set_name, part]
    shapes, labels = other_writers.digit_shapes(set_name, part)
    assert len(shapes) == len(labels) == spec.digits
    assert set(labels.tolist()) == set(range(10))
    assert shapes.shape[1:] == ((8, 2) if spec.kind == "pen" else (32, 32))


def test_the_provenance_page_lists_every_checksum():
    page = (config.PROJECT_ROOT / "docs" / "data.md").read_text()
    for spec in other_writers.OTHER_WRITER_FILES.values():
        assert spec.name in page and spec.sha256 in page


def test_a_missing_file_is_named_with_how_to_restore_it(tmp_path):
    with pytest.raises(other_writers.OtherWritersFileMissingError, match=r"pendigits\.tes\.gz.*git checkout"):
        other_writers.read_text("pendigits", "test", tmp_path)


def test_a_truncated_file_is_named(file_copy):
    path, _ = file_copy
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(other_writers.OtherWritersFileError, match=r"pendigits\.tes\.gz.*not a complete gzip"):
        other_writers.read_text("pendigits", "test", path.parent)


@pytest.mark.parametrize("change", ["altered", "padded", "cut"])
def test_an_altered_padded_or_cut_file_is_named(file_copy, change):
    path, text = file_copy
    changed = {
        "altered": text.replace("1", "2", 1),
        "padded": text + "0,0\n",
        "cut": text[:-200],
    }[change]
    path.write_bytes(gzip.compress(changed.encode()))
    expected = "SHA-256" if change == "altered" else "truncated or padded"
    with pytest.raises(other_writers.OtherWritersFileError, match=rf"pendigits\.tes\.gz.*{expected}"):
        other_writers.read_text("pendigits", "test", path.parent)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("1,2,3,4,5,6,7,8,9,10,11,12,13,14,8", "15 values"),
        ("50,50,50,50,50,50,50,50,50,50,50,50,50,50,50,50,3", "all 8 points are the same"),
        ("0,0,101,5,5,5,5,5,5,5,5,5,5,5,5,5,3", "outside 0..100"),
        ("0,0,-1,5,5,5,5,5,5,5,5,5,5,5,5,5,3", "outside 0..100"),
        ("0,0,10,5,5,5,5,5,5,5,5,5,5,5,5,5,10", "label 10"),
        ("0,0,a,5", "not comma-separated integers"),
    ],
)
def test_a_bad_pen_path_is_refused_with_its_line(line, problem):
    with pytest.raises(ValueError, match=rf"pen\.txt, line 2: .*{problem}"):
        other_writers.parse_pen_paths(f"{PEN_LINE}\n{line}\n", "pen.txt")


def _bitmap_text(blocks: list[list[str]], declared: int) -> str:
    header = ["header"] * 8 + [f"ntot = {declared}"] + ["x = 0"] * 12
    return "\n".join(header + [line for block in blocks for line in block]) + "\n"


def _block(label: str = " 7", rows: int = 32, row: str = "0" * 16 + "1" * 16) -> list[str]:
    return [row] * rows + [label]


def test_bitmaps_parse_with_their_labels():
    bitmaps, labels = other_writers.parse_bitmaps(_bitmap_text([_block(" 7"), _block(" 3")], 2))
    assert bitmaps.shape == (2, 32, 32) and labels.tolist() == [7, 3]
    assert bitmaps[0, 0, :16].sum() == 0 and bitmaps[0, 0, 16:].sum() == 16


@pytest.mark.parametrize(
    ("blocks", "declared", "problem"),
    [
        ([_block(), _block(row="0" * 31)], 2, r"digit 2 \(line 55\): row 1"),
        ([_block(), _block(row="0" * 31 + "2")], 2, r"digit 2 \(line 55\): row 1"),
        ([_block(), _block(label=" x")], 2, r"digit 2 .*not a digit"),
        ([_block(), _block(rows=20)], 2, r"digit 2 .*(ends inside|row)"),
        ([_block()], 2, r"1 digits, the header declares ntot = 2"),
    ],
)
def test_a_bad_bitmap_block_is_refused_with_its_digit_number(blocks, declared, problem):
    with pytest.raises(ValueError, match=rf"bits\.txt.*{problem}"):
        other_writers.parse_bitmaps(_bitmap_text(blocks, declared), "bits.txt")


def test_a_pen_path_is_drawn_dark_on_white_with_y_up():
    picture = other_writers.draw_pen_path(np.array([[0, 100], [0, 0]] * 4, float), width=10)
    assert picture.shape == (280, 280) and picture.dtype == np.uint8
    assert picture[40, 40] == 0 and picture[239, 40] == 0  # y = 100 at the top, y = 0 at the bottom
    assert picture[140, 200] == 255
    thick = other_writers.draw_pen_path(np.array([[0, 100], [0, 0]] * 4, float), width=30)
    assert (thick == 0).sum() > 2.5 * (picture == 0).sum()


def test_a_bitmap_becomes_ink_on_paper():
    bitmap = np.zeros((32, 32), np.uint8)
    bitmap[4:28, 14:18] = 1
    picture = other_writers.bitmap_picture(bitmap)
    assert picture.shape == (128, 128) and picture[64, 64] == 0 and picture[5, 5] == 255


def test_test_writers_read_as_mnist_digits():
    images, labels = other_writers.test_digits("optdigits")
    assert images.shape == (len(labels), 28, 28) and len(labels) >= 1790
    assert images[:, 0, :].max() == 0  # ink centred, borders black as in MNIST
    assert 60 < images.mean() * 784 / 255 / 1 < 300  # some ink in every digit on average


def test_unknown_training_sets_are_named_with_the_known_ones():
    known = r"\['emnist'\].*'mnist', 'pendigits', 'optdigits'"
    with pytest.raises(data.UnknownTrainingSetError, match=known):
        TrainConfig(training_sets=["mnist", "emnist"])
    with pytest.raises(data.UnknownTrainingSetError, match="none given"):
        data.check_training_sets([])
    assert TrainConfig(training_sets="pendigits").training_sets == ("pendigits",)
    assert data.check_training_sets(["mnist", "optdigits", "mnist"]) == ("mnist", "optdigits")


@pytest.fixture
def without_cached_files():
    """The other writers' files read afresh (the loaders keep what they read for the process)."""
    caches = (
        other_writers.digit_shapes,
        training_sets.other_writers_training,
        training_sets.other_writers_validation,
    )
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


def test_mnist_alone_trains_without_the_other_writers_files(monkeypatch, tmp_path, without_cached_files):
    monkeypatch.setattr(other_writers, "OTHER_WRITERS_DIR", tmp_path)
    training = training_sets.load_training_data(["mnist"], train_subset=100)
    assert len(training.train_images) == 100 and len(training.val_images) == config.VALIDATION_SIZE
    with pytest.raises(other_writers.OtherWritersFileMissingError, match="pendigits.tra.gz"):
        training_sets.load_training_data(["mnist", "pendigits"], train_subset=100)


def test_other_writers_validation_digits_are_never_trained_on():
    shapes, labels = other_writers.digit_shapes("optdigits", "training")
    train_images, train_labels, val_images, val_labels = training_sets.other_writers_parts("optdigits", 40, 2)
    assert len(train_images) <= 80 and len(val_images) >= 190
    assert not train_images.flags.writeable
    train_rows = {image.tobytes() for image in train_images}
    assert not any(image.tobytes() in train_rows for image in val_images)
    assert np.array_equal(np.bincount(val_labels, minlength=10) > 15, np.ones(10, bool))


def test_a_mix_records_how_much_of_each_set_it_holds():
    training = training_sets.load_training_data(["mnist", "optdigits"], train_subset=50)
    assert training.counts["mnist"] == {"train_images": 50, "val_images": 5000, "copies": 1}
    assert training.counts["optdigits"]["copies"] == 2 and training.counts["optdigits"]["writers"] == 30
    assert len(training.train_images) == 50 + training.counts["optdigits"]["train_images"]
    images, labels = training.validation_part("optdigits")
    assert len(images) == training.counts["optdigits"]["val_images"] and labels.max() <= 9
    described = training_sets.describe(training.counts)
    assert described.startswith("MNIST (50 images) and 30 other writers: optdigits (30 writers")
    table = training_sets.counts_table(training.counts)  # as 03_train shows it: whole numbers, no NaN
    assert table.loc["mnist"].tolist() == [50, 5000, 1, "-"]
    assert table.loc["optdigits", "writers"] == 30 and "." not in table.to_string()
